//! Writing AMI actions, the `Action:` blocks callpop sends to Asterisk (Login,
//! Originate, ...). A name or value that could end its line is refused, because the
//! values come from users: a number typed for click-to-dial ends up in an Originate,
//! and a line break in it would let it add fields or whole actions of its own.

use std::fmt;
use std::ops::Range;

/// One action, ready to write to the socket.
#[derive(Clone, PartialEq, Eq)]
pub struct Action {
    /// `Action: name\r\nActionID: id\r\n` and the fields, always closed by the empty line.
    text: String,
    name: Range<usize>,
    action_id: Range<usize>,
}

/// A field callpop refuses to put in an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot send ami field {field:?}: {why}")]
pub struct BadValue {
    /// The field's name as given. The value is left out: it may be a secret.
    pub field: String,
    pub why: &'static str,
}

impl Action {
    /// An action called `name` (`Login`, `Originate`), tagged with `action_id` so that
    /// the response to it can be told apart.
    pub fn new(name: &str, action_id: &str) -> Result<Action, BadValue> {
        if name.is_empty() {
            return Err(bad("Action", "the action name is empty"));
        }
        let mut action = Action {
            text: String::from("\r\n"),
            name: 0..0,
            action_id: 0..0,
        };
        action.name = action.push("Action", name)?;
        action.action_id = action.push("ActionID", action_id)?;
        Ok(action)
    }

    /// Adds `name: value`. Names are printable ASCII without ':'; values may be empty
    /// but hold no CR, LF or NUL.
    pub fn field(mut self, name: &str, value: &str) -> Result<Action, BadValue> {
        self.push(name, value)?;
        Ok(self)
    }

    /// The action as sent: `Action: X\r\nActionID: Y\r\n...\r\n\r\n`.
    pub fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    pub fn name(&self) -> &str {
        &self.text[self.name.clone()]
    }

    pub fn action_id(&self) -> &str {
        &self.text[self.action_id.clone()]
    }

    /// Appends one field before the closing empty line; returns where its value is.
    fn push(&mut self, name: &str, value: &str) -> Result<Range<usize>, BadValue> {
        check_name(name)?;
        check_value(name, value)?;

        self.text.truncate(self.text.len() - 2);
        self.text.push_str(name);
        self.text.push_str(": ");
        let start = self.text.len();
        self.text.push_str(value);
        let value = start..self.text.len();
        self.text.push_str("\r\n\r\n");
        Ok(value)
    }
}

fn check_name(name: &str) -> Result<(), BadValue> {
    if name.is_empty() {
        return Err(bad(name, "the field name is empty"));
    }
    if name.contains(':') {
        return Err(bad(name, "the field name holds ':'"));
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            name,
            "the field name holds a space, a control character or non-ascii",
        ));
    }
    Ok(())
}

fn check_value(name: &str, value: &str) -> Result<(), BadValue> {
    if value.contains(['\r', '\n']) {
        return Err(bad(name, "the value holds a line break (CR or LF)"));
    }
    // Asterisk reads fields as C strings: a NUL would cut the value short.
    if value.contains('\0') {
        return Err(bad(name, "the value holds a NUL byte"));
    }
    Ok(())
}

fn bad(field: &str, why: &'static str) -> BadValue {
    BadValue {
        field: field.to_string(),
        why,
    }
}

/// Shows the action and its field names only: a Login carries the AMI secret.
impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self
            .text
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .map(|(name, _)| name)
            .skip(2)
            .collect();
        f.debug_struct("Action")
            .field("name", &self.name())
            .field("action_id", &self.action_id())
            .field("fields", &fields)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(action: &Action) -> &str {
        std::str::from_utf8(action.bytes()).unwrap()
    }

    #[test]
    fn login_is_written_field_by_field() {
        let login = Action::new("Login", "login-1")
            .and_then(|a| a.field("Username", "crm"))
            .and_then(|a| a.field("Secret", "crmsecret"))
            .and_then(|a| a.field("Events", "on"))
            .unwrap();
        assert_eq!(
            text(&login),
            "Action: Login\r\nActionID: login-1\r\nUsername: crm\r\n\
             Secret: crmsecret\r\nEvents: on\r\n\r\n"
        );
        assert_eq!((login.name(), login.action_id()), ("Login", "login-1"));
    }

    #[test]
    fn bare_action_ends_with_empty_line() {
        let ping = Action::new("Ping", "p-7").unwrap();
        assert_eq!(text(&ping), "Action: Ping\r\nActionID: p-7\r\n\r\n");
    }

    #[test]
    fn originate_takes_repeated_and_empty_fields() {
        let originate = Action::new("Originate", "dial-42")
            .and_then(|a| a.field("Channel", "PJSIP/201"))
            .and_then(|a| a.field("Exten", "+1555019902"))
            .and_then(|a| a.field("Variable", "CALLPOP_USER=alice"))
            .and_then(|a| a.field("Variable", "NOTE=a: b"))
            .and_then(|a| a.field("Account", ""))
            .unwrap();
        assert!(text(&originate)
            .ends_with("Variable: CALLPOP_USER=alice\r\nVariable: NOTE=a: b\r\nAccount: \r\n\r\n"));
    }

    #[test]
    fn line_breaks_in_values_are_refused() {
        // A number typed into click-to-dial that tries to hang up someone else's call.
        let typed = "201\r\n\r\nAction: Hangup\r\nChannel: PJSIP/202-00000001";
        let refused = Action::new("Originate", "dial-1")
            .unwrap()
            .field("Exten", typed)
            .unwrap_err();
        assert_eq!(refused.field, "Exten");
        assert!(refused.why.contains("line break"), "{refused}");

        for value in ["a\rb", "a\nb", "\n", "tail\r"] {
            let result = Action::new("Ping", "p").unwrap().field("X", value);
            assert!(result.is_err(), "{value:?} accepted");
        }
        assert!(Action::new("Ping", "p\r\nAction: Logoff").is_err());
        assert!(Action::new("Ping\n", "p").is_err());
        assert!(Action::new("Ping", "p")
            .unwrap()
            .field("X", "a\0b")
            .is_err());
    }

    #[test]
    fn bad_names_are_refused() {
        let ping = || Action::new("Ping", "p").unwrap();
        for name in [
            "",
            "Exten:",
            "Ex ten",
            "Exten\r\nAction",
            "Ext\u{e9}n",
            "\t",
        ] {
            let refused = ping().field(name, "1").unwrap_err();
            assert_eq!(refused.field, name);
        }
        assert!(Action::new("", "p").is_err());
    }

    #[test]
    fn empty_values_and_action_id_are_allowed() {
        let ping = Action::new("Ping", "").unwrap().field("X", "").unwrap();
        assert_eq!(text(&ping), "Action: Ping\r\nActionID: \r\nX: \r\n\r\n");
    }

    #[test]
    fn errors_name_the_field_but_not_the_value() {
        let refused = Action::new("Login", "l")
            .unwrap()
            .field("Secret", "hunter2\n")
            .unwrap_err();
        let message = refused.to_string();
        assert!(message.contains("\"Secret\""), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn debug_hides_values() {
        let login = Action::new("Login", "login-1")
            .and_then(|a| a.field("Username", "crm"))
            .and_then(|a| a.field("Secret", "crmsecret"))
            .unwrap();
        let shown = format!("{login:?}");
        assert!(!shown.contains("crmsecret"), "{shown}");
        assert!(
            shown.contains("Secret") && shown.contains("login-1"),
            "{shown}"
        );
    }
}
