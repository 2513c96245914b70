//! Where a form may send the browser on to (`back`, `next`): a path on this
//! site, never another site's, whatever a browser would make of it.

/// `path` when it is this site's own: it starts with one `/`, and holds no
/// `\` or control character (browsers read `//host`, `/\host` and `/\thost`
/// as other sites).
pub fn local_path(path: &str) -> Option<&str> {
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 2048
        && !path.contains('\\')
        && !path.chars().any(char::is_control);
    local.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_sites_paths_are_followed() {
        for good in ["/", "/calls/7", "/topics/4?customer=2#x"] {
            assert_eq!(local_path(good), Some(good));
        }
        let long = format!("/{}", "a".repeat(2048));
        for bad in [
            "",
            "calls",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example/x",
            "/%01x\u{1}",
            "https://evil.example",
            long.as_str(),
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }
}
