//! Who may do what: the roles, password hashing, the random secrets behind
//! sessions, API tokens and setup links, and the brake on guessed passwords.
//! Nothing here touches the network or the database.

pub mod password;
pub mod secret;
pub mod throttle;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// What a user may do. Each role may do everything the ones before it may:
/// a rep handles their own calls, a manager also reads everyone's, an admin
/// also manages users and links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Rep,
    Manager,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Rep, Role::Manager, Role::Admin];

    /// Who holds this role or a higher one, for messages.
    pub fn holders(self) -> &'static str {
        match self {
            Role::Rep => "every signed-in user",
            Role::Manager => "managers and admins",
            Role::Admin => "admins",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Rep => "rep",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| format!("role must be rep, manager or admin, got {text:?}"))
    }
}

/// A username as people type it: 1 to 64 ASCII letters, digits and
/// `. _ - @`. Being ASCII, it compares without case the same everywhere.
pub fn check_username(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "a username is 1 to 64 letters, digits, '.', '_', '-' or '@', got {name:?}"
        )),
    }
}

/// An extension as the PBX names it: 1 to 32 letters, digits, `-` or `_`.
pub fn check_extension(extension: &str) -> Result<(), String> {
    let ok = !extension.is_empty()
        && extension.len() <= 32
        && extension
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "an extension is 1 to 32 letters, digits, '-' or '_', got {extension:?}"
        )),
    }
}

/// Reads extensions as an admin types them, `201, 202` or `201 202`, in
/// order and without repeats.
pub fn parse_extensions(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for extension in text.split([',', ' ', ';', '\n', '\t', '\r']) {
        if extension.is_empty() {
            continue;
        }
        check_extension(extension)?;
        if !out.iter().any(|x| x == extension) {
            out.push(extension.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_read_from_text() {
        assert!(Role::Rep < Role::Manager && Role::Manager < Role::Admin);
        assert_eq!("Manager".parse::<Role>(), Ok(Role::Manager));
        assert_eq!(" admin ".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().unwrap_err().contains("\"root\""));
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn usernames_and_extensions_are_checked() {
        for good in ["alice", "a.lee", "bob_2", "x@example.com", "Z"] {
            assert!(check_username(good).is_ok(), "{good}");
        }
        for bad in ["", "al ice", "ålice", "a/b", "<b>", &"a".repeat(65)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_extensions("201, 202 201\n203").unwrap(),
            ["201", "202", "203"]
        );
        assert_eq!(parse_extensions("  ").unwrap(), Vec::<String>::new());
        assert!(parse_extensions("201, 2#2").unwrap_err().contains("2#2"));
    }
}
