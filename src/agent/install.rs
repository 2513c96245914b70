//! Starting the desktop agent at login: an XDG autostart entry,
//! `$XDG_CONFIG_HOME/autostart/callpop-agent.desktop`, which GNOME, KDE,
//! Xfce, Cinnamon, MATE and LXQt all read. It runs this very binary with
//! `agent`; the server and token come from the file `agent login` saved,
//! never from the entry, which is not private.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const FILE_NAME: &str = "callpop-agent.desktop";

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("no config directory: set XDG_CONFIG_HOME or HOME")]
    NoConfigDir,
    #[error("cannot write {0:?} into an autostart entry: it holds a control character")]
    Unwritable(String),
    #[error("failed to write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("failed to remove {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },
}

/// Where the entry goes: `autostart/` in the user's config directory.
pub fn default_path() -> Result<PathBuf, InstallError> {
    let dir = dirs::config_dir().ok_or(InstallError::NoConfigDir)?;
    Ok(dir.join("autostart").join(FILE_NAME))
}

/// Writes the entry that starts `exe agent` (with `--extension` for each
/// one named) at login, replacing one already there.
pub fn install(path: &Path, exe: &Path, extensions: &[String]) -> Result<(), InstallError> {
    let entry = desktop_entry(exe, extensions)?;
    let failed = |source| InstallError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(failed)?;
    }
    fs::write(path, entry).map_err(failed)
}

/// Removes the entry; `false` when there was none.
pub fn uninstall(path: &Path) -> Result<bool, InstallError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(InstallError::Remove {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The autostart entry's text.
pub fn desktop_entry(exe: &Path, extensions: &[String]) -> Result<String, InstallError> {
    let mut args = vec![exe.to_string_lossy().into_owned(), "agent".to_owned()];
    for extension in extensions {
        args.extend(["--extension".to_owned(), extension.clone()]);
    }
    let exec = args
        .iter()
        .map(|arg| quote(arg))
        .collect::<Result<Vec<_>, _>>()?
        .join(" ");

    Ok(format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=callpop desktop agent\n\
         Comment=Shows callpop's call pops as desktop notifications\n\
         Exec={exec}\n\
         Terminal=false\n\
         NoDisplay=true\n\
         X-GNOME-Autostart-enabled=true\n"
    ))
}

/// One argument of `Exec`, as the Desktop Entry Specification wants it:
/// in double quotes with `"`, `` ` ``, `$` and `\` escaped by a backslash,
/// `%` doubled (it starts a field code), then every backslash doubled again
/// because the whole value is a string with escapes of its own.
fn quote(arg: &str) -> Result<String, InstallError> {
    if arg.chars().any(char::is_control) {
        return Err(InstallError::Unwritable(arg.to_owned()));
    }
    let mut quoted = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '%' => quoted.push_str("%%"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    Ok(quoted.replace('\\', "\\\\"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_runs_this_binary_as_the_agent() {
        let entry = desktop_entry(Path::new("/usr/bin/callpop"), &["201".into()]).unwrap();
        let exec = entry.lines().find(|l| l.starts_with("Exec=")).unwrap();
        assert_eq!(
            exec,
            r#"Exec="/usr/bin/callpop" "agent" "--extension" "201""#
        );
        assert!(entry.starts_with("[Desktop Entry]\nType=Application\n"));
    }

    #[test]
    fn odd_paths_are_quoted_as_the_specification_says() {
        let exe = Path::new("/home/a b/100%/$x \"q\" `c` \\d/callpop");
        let entry = desktop_entry(exe, &[]).unwrap();
        let exec = entry.lines().find(|l| l.starts_with("Exec=")).unwrap();
        assert_eq!(
            exec,
            r#"Exec="/home/a b/100%%/\\$x \\"q\\" \\`c\\` \\\\d/callpop" "agent""#
        );
        assert!(desktop_entry(Path::new("/a\nb"), &[]).is_err());
    }

    #[test]
    fn installed_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("autostart").join(FILE_NAME);
        install(&path, Path::new("/usr/bin/callpop"), &[]).unwrap();
        assert!(fs::read_to_string(&path)
            .unwrap()
            .contains("Exec=\"/usr/bin/callpop\" \"agent\""));
        assert!(uninstall(&path).unwrap());
        assert!(!uninstall(&path).unwrap());
        assert!(!path.exists());
    }
}
