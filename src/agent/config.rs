//! The desktop agent's own file, `$XDG_CONFIG_HOME/callpop/agent.toml`: the
//! server and API token that `callpop agent login` saved. The file is the
//! owner's alone (0600, in a 0700 directory), since the token stands for
//! the rep.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Secret;

/// What `callpop agent login` saved.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Saved {
    pub server: String,
    pub token: Secret,
}

#[derive(Serialize)]
struct Written<'a> {
    server: &'a str,
    token: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("no config directory: set XDG_CONFIG_HOME or HOME")]
    NoConfigDir,
    #[error("failed to read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("failed to read {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("failed to write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// Where the file is: `callpop/agent.toml` in the user's config directory.
pub fn default_path() -> Result<PathBuf, SavedError> {
    let dir = dirs::config_dir().ok_or(SavedError::NoConfigDir)?;
    Ok(dir.join("callpop").join("agent.toml"))
}

/// The saved server and token; `None` when nothing was saved.
pub fn load(path: &Path) -> Result<Option<Saved>, SavedError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            let path = path.to_owned();
            return Err(SavedError::Read { path, source });
        }
    };
    warn_if_shared(path);

    let saved = toml::from_str(&text).map_err(|source| SavedError::Parse {
        path: path.to_owned(),
        source,
    })?;
    Ok(Some(saved))
}

/// Saves the server and token, replacing what was there. The file is
/// written beside its final name and renamed, so it is never half there,
/// and never readable by anyone else, not even for a moment.
pub fn save(path: &Path, server: &str, token: &Secret) -> Result<(), SavedError> {
    let failed = |source| SavedError::Write {
        path: path.to_owned(),
        source,
    };
    let text = toml::to_string(&Written {
        server,
        token: token.expose(),
    })
    .map_err(|e| failed(io::Error::other(e)))?;

    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir).map_err(failed)?;

    let partial = path.with_extension("toml.partial");
    write_private(&partial, text.as_bytes()).map_err(failed)?;
    fs::rename(&partial, path).map_err(failed)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // A directory that was already there keeps its mode unless told.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    // The mode asked for at creation is narrowed by the umask, never
    // widened; setting it again makes sure of it.
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    fs::write(path, bytes)
}

/// A token file others can read is worth a word: it stands for the rep.
#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = fs::metadata(path) else { return };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "token file is readable by others: chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("callpop").join("agent.toml");
        assert_eq!(load(&path).unwrap(), None);

        let token = Secret::new("tok\"en\\ with = odd \u{e9} chars");
        save(&path, "https://callpop.example.com/", &token).unwrap();
        save(&path, "https://callpop.example.com/", &token).unwrap();
        let saved = load(&path).unwrap().unwrap();
        assert_eq!(saved.server, "https://callpop.example.com/");
        assert_eq!(saved.token, token);
        assert!(!format!("{saved:?}").contains("odd"), "{saved:?}");
    }

    #[cfg(unix)]
    #[test]
    fn only_the_owner_can_read_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("callpop");
        fs::create_dir(&home).unwrap();
        fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();
        let path = home.join("agent.toml");

        save(&path, "http://127.0.0.1:8080/", &Secret::new("t")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&home), 0o700);
        assert!(!home.join("agent.toml.partial").exists());
    }

    #[test]
    fn a_broken_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        fs::write(&path, "server = \n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("failed to read {}", path.display())),
            "{err}"
        );
    }
}
