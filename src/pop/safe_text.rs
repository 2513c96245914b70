//! Caller-controlled text (display names, numbers) made safe for a desktop
//! notification: control, bidirectional and zero-width characters removed,
//! whitespace collapsed, length capped, and markup escaped only for a server
//! that reads the body as markup.
//!
//! Whoever places a call chooses its display name, so a name can carry tags
//! that a markup-reading server would render (a fake link, bold text), an
//! `&` that makes the server drop the whole body, line breaks, or a
//! right-to-left override that shows `fdp.exe` as `exe.pdf`. Cleaning comes
//! first and is the same for every server; escaping comes last and depends
//! on what the server advertises.

use std::borrow::Cow;

/// The longest a field may be in a notification, in chars, ellipsis included.
pub const MAX_CHARS: usize = 64;

const ELLIPSIS: char = '…';

/// Names a PBX sends when it knows none; they are shown as no name at all.
const NO_NAME: [&str; 7] = [
    "",
    "<unknown>",
    "anonymous",
    "unknown",
    "restricted",
    "private",
    "unavailable",
];

/// How the notification server reads a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// The server advertised `body-markup`: text must be escaped.
    Markup,
    /// Plain text: escaping would show a literal `&amp;`.
    Plain,
}

impl BodyFormat {
    /// The format a server reads, from its `GetCapabilities` answer.
    pub fn from_capabilities<S: AsRef<str>>(capabilities: &[S]) -> BodyFormat {
        let markup = capabilities.iter().any(|c| c.as_ref() == "body-markup");
        if markup {
            BodyFormat::Markup
        } else {
            BodyFormat::Plain
        }
    }

    /// Already cleaned text, written for this format.
    pub fn render(self, clean: &str) -> Cow<'_, str> {
        match self {
            BodyFormat::Markup => Cow::Owned(escape_markup(clean)),
            BodyFormat::Plain => Cow::Borrowed(clean),
        }
    }
}

/// Cleans text and caps it at [`MAX_CHARS`].
pub fn clean(text: &str) -> String {
    clean_to(text, MAX_CHARS)
}

/// Cleans text: C0 and C1 controls removed (line breaks and tabs become a
/// space), bidirectional and zero-width characters removed, whitespace
/// collapsed and trimmed, then cut to `max_chars` with an ellipsis.
///
/// The cut falls on a char boundary, never inside a UTF-8 sequence, but it
/// may split a grapheme cluster (a letter from a combining accent that
/// follows it, or a flag's two halves). Only the last visible char of an
/// already long text can suffer, which does not justify a segmentation
/// table.
pub fn clean_to(text: &str, max_chars: usize) -> String {
    let visible: String = text.chars().filter_map(visible).collect();
    let collapsed = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    cap(collapsed, max_chars)
}

/// A caller's display name, cleaned; `None` when the PBX sent a stand-in
/// for no name ("<unknown>", "anonymous", ...) or text without a single
/// letter, which is what a PBX sends when it repeats the number as the name.
pub fn caller_name(raw: &str) -> Option<String> {
    let name = clean(raw);
    let stand_in = NO_NAME.iter().any(|s| name.eq_ignore_ascii_case(s));
    let has_letter = name.chars().any(char::is_alphabetic);
    (!stand_in && has_letter).then_some(name)
}

/// Escapes text for a body read as markup.
///
/// `&` goes first by construction (one pass, char by char). Quotes are left
/// alone: the body's markup is XML-like and caller text only ever lands in
/// element content, never inside an attribute value, where quotes are
/// plain characters.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// What a char becomes: `None` drops it; line breaks and tabs become a
/// space so that the words on either side stay apart.
fn visible(c: char) -> Option<char> {
    if c.is_whitespace() {
        return Some(' ');
    }
    if c.is_control() || is_invisible_format(c) {
        return None;
    }
    Some(c)
}

/// Format characters that change how the text around them is drawn, or
/// hide text, without showing anything themselves.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061C}'                      // arabic letter mark
        | '\u{200B}'..='\u{200F}'       // zero-width space, joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}'       // embeddings and overrides
        | '\u{2060}'..='\u{2064}'       // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}'       // isolates
        | '\u{FEFF}'                    // zero-width no-break space
        | '\u{E0000}'..='\u{E007F}'     // tags, which can carry hidden ASCII
    )
}

/// Cuts to `max_chars` chars, the last of them an ellipsis.
fn cap(text: String, max_chars: usize) -> String {
    if text.chars().nth(max_chars).is_none() {
        return text;
    }
    if max_chars == 0 {
        return String::new();
    }

    // Keep one char fewer to leave room for the ellipsis.
    let end = text
        .char_indices()
        .nth(max_chars - 1)
        .map_or(text.len(), |(i, _)| i);
    let mut cut = text[..end].trim_end().to_owned();
    cut.push(ELLIPSIS);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One display name: what a markup server and a plain-text server get.
    fn check(raw: &str, markup: &str, plain: &str) {
        let name = caller_name(raw).unwrap_or_else(|| "Unknown caller".to_owned());
        assert_eq!(
            BodyFormat::Markup.render(&name),
            markup,
            "markup, from {raw:?}"
        );
        assert_eq!(
            BodyFormat::Plain.render(&name),
            plain,
            "plain, from {raw:?}"
        );
    }

    // Field case 23, N1: tags and a link reach a markup server as text.
    // The case shows the whole name escaped, but the name is 70 chars, over
    // the case's own 64-char cap: the cap applies (before escaping, so no
    // entity is ever cut), and the escaping is checked on the whole name.
    #[test]
    fn markup_in_a_name_is_shown_as_text() {
        let raw = "<b>Your Bank</b> <a href=\"http://phish.example.com/\">Verify account</a>";
        assert_eq!(
            escape_markup(&clean_to(raw, 100)),
            "&lt;b&gt;Your Bank&lt;/b&gt; \
             &lt;a href=\"http://phish.example.com/\"&gt;Verify account&lt;/a&gt;",
        );
        check(
            raw,
            "&lt;b&gt;Your Bank&lt;/b&gt; &lt;a href=\"http://phish.example.com/\"&gt;Verify acc…",
            "<b>Your Bank</b> <a href=\"http://phish.example.com/\">Verify acc…",
        );
    }

    // Case 23, N2: a bare `&` would make a markup server drop the body, and
    // `<3` would cut it off; a plain server must not see `&amp;`.
    #[test]
    fn ampersand_and_heart_survive() {
        check(
            "Tom & Jerry <3 Pizza",
            "Tom &amp; Jerry &lt;3 Pizza",
            "Tom & Jerry <3 Pizza",
        );
    }

    // Case 23, N3 (and case 19): the brackets never reach the server.
    #[test]
    fn unknown_is_no_name() {
        check("<unknown>", "Unknown caller", "Unknown caller");
        for raw in [
            "",
            "  ",
            "Anonymous",
            "UNKNOWN",
            "restricted",
            "Private",
            "\u{202E}<unknown>",
        ] {
            assert_eq!(caller_name(raw), None, "{raw:?}");
        }
    }

    // Case 23, N4: without the override there is no reversal into "exe.pdf".
    #[test]
    fn bidi_override_is_removed() {
        check(
            "ACME Support \u{202E}fdp.exe",
            "ACME Support fdp.exe",
            "ACME Support fdp.exe",
        );
    }

    // Case 23, N5: CR LF become one space; NUL and BEL go.
    #[test]
    fn control_characters_are_removed() {
        check(
            "Line one\r\nLine two\u{0}\u{7}",
            "Line one Line two",
            "Line one Line two",
        );
    }

    // Case 23, N6: 63 chars and an ellipsis.
    #[test]
    fn long_names_are_capped() {
        let expected = format!("{}…", "A".repeat(63));
        check(&"A".repeat(300), &expected, &expected);
        assert_eq!(clean(&"A".repeat(64)), "A".repeat(64));
    }

    #[test]
    fn every_bidi_and_zero_width_character_is_removed() {
        let hidden = "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\
                      \u{2069}\u{200E}\u{200F}\u{200B}\u{200C}\u{200D}\u{FEFF}\u{061C}\
                      \u{E0041}";
        assert_eq!(clean(&format!("a{hidden}b")), "ab");
    }

    #[test]
    fn c1_controls_and_other_breaks_are_handled() {
        assert_eq!(clean("a\u{85}b\u{2028}c\u{9b}d\u{7f}e\tf"), "a b cde f");
        assert_eq!(clean("  lots \n\n of \t space  "), "lots of space");
    }

    #[test]
    fn the_asterisk_name_is_kept_as_text() {
        let raw = "Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本";
        check(
            raw,
            "Zoë Ångström-Nuñez &lt;b&gt;VIP&lt;/b&gt; &amp; Ünïcødé 日本",
            raw,
        );

        // Decomposed accents are letters plus combining marks, not controls.
        let decomposed = "Zoe\u{308} A\u{30A}ngstro\u{308}m";
        assert_eq!(clean(decomposed), decomposed);
    }

    #[test]
    fn the_cut_never_splits_a_multibyte_char() {
        let cut = clean_to(&"日本".repeat(50), 9);
        assert_eq!(cut, "日本日本日本日本…");
        assert_eq!(cut.chars().count(), 9);

        // Spaces before the cut do not end up before the ellipsis.
        assert_eq!(clean_to("abc defgh", 5), "abc…");
        assert_eq!(clean_to("abcdef", 0), "");
    }

    #[test]
    fn a_number_repeated_as_the_name_is_no_name() {
        assert_eq!(caller_name("+1 (212) 555-0171"), None);
        assert_eq!(caller_name("Tom 2"), Some("Tom 2".to_owned()));
    }

    #[test]
    fn body_format_follows_the_capabilities() {
        let s1 = ["body", "body-markup", "actions"];
        let s2 = ["body"];
        assert_eq!(BodyFormat::from_capabilities(&s1), BodyFormat::Markup);
        assert_eq!(BodyFormat::from_capabilities(&s2), BodyFormat::Plain);
    }
}
