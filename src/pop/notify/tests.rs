//! What a pop says for each kind of caller, and the notifier against a
//! real notification server on a private bus.

use super::*;
use crate::pop::hub::PopMatch;

const S1: &[&str] = &["body", "body-markup", "actions"];
const S2: &[&str] = &["body"];
const NUMBER: &str = "+1 212 555 0171";

fn pop(call_id: i64) -> Pop {
    Pop {
        call_id,
        extension: "201".to_owned(),
        caller: NUMBER.to_owned(),
        number_e164: Some("+12125550171".to_owned()),
        name: None,
        withheld: false,
        matches: Vec::new(),
        link: format!("http://127.0.0.1:8080/calls/{call_id}"),
        rang_at: chrono::Utc::now(),
        answered: false,
    }
}

fn unknown_caller(name: Option<&str>) -> Pop {
    Pop {
        name: name.map(str::to_owned),
        ..pop(23)
    }
}

fn matched(customer_id: i64, customer: &str, contact: Option<&str>, topics: i64) -> PopMatch {
    PopMatch {
        customer_id,
        customer: customer.to_owned(),
        contact_id: contact.map(|_| customer_id * 10),
        contact: contact.map(str::to_owned),
        reason: "exact".to_owned(),
        open_topics: topics,
        latest_topic: (topics > 0).then(|| "Invoice <March> & credit".to_owned()),
    }
}

fn known_customer() -> Pop {
    Pop {
        caller: "+1 212 555 0100".to_owned(),
        name: Some("ACME RECEPTION".to_owned()),
        // The switchboard and a contact there: one customer.
        matches: vec![
            matched(1, "Acme & Sons", None, 2),
            matched(1, "Acme & Sons", Some("Jane Doe"), 2),
        ],
        ..pop(7)
    }
}

fn withheld() -> Pop {
    Pop {
        // Neither should be shown, even if a PBX sends them anyway.
        name: Some("2125550171".to_owned()),
        withheld: true,
        ..pop(19)
    }
}

/// Field case 23 and the Asterisk name: the display name, and the first
/// body line a markup server and a plain server get. N1 is 70 chars, so
/// the case's 64-char cap cuts it (the case itself shows it whole).
const CASE_23: [(&str, &str, &str); 6] = [
    (
        "<b>Your Bank</b> <a href=\"http://phish.example.com/\">Verify account</a>",
        "&lt;b&gt;Your Bank&lt;/b&gt; &lt;a href=\"http://phish.example.com/\"&gt;Verify acc…",
        "<b>Your Bank</b> <a href=\"http://phish.example.com/\">Verify acc…",
    ),
    (
        "Tom & Jerry <3 Pizza",
        "Tom &amp; Jerry &lt;3 Pizza",
        "Tom & Jerry <3 Pizza",
    ),
    ("<unknown>", "Unknown caller", "Unknown caller"),
    (
        "ACME Support \u{202E}fdp.exe",
        "ACME Support fdp.exe",
        "ACME Support fdp.exe",
    ),
    (
        "Line one\r\nLine two\u{0}\u{7}",
        "Line one Line two",
        "Line one Line two",
    ),
    (
        "Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本",
        "Zoë Ångström-Nuñez &lt;b&gt;VIP&lt;/b&gt; &amp; Ünïcødé 日本",
        "Zoë Ångström-Nuñez <b>VIP</b> & Ünïcødé 日本",
    ),
];

#[test]
fn case_23_bodies_for_both_servers() {
    let long = "A".repeat(300);
    let capped = format!("{}…", "A".repeat(63));
    let n6 = (long.as_str(), capped.as_str(), capped.as_str());

    for (raw, markup, plain) in CASE_23.into_iter().chain([n6]) {
        let pop = unknown_caller(Some(raw));
        for (format, name) in [(BodyFormat::Markup, markup), (BodyFormat::Plain, plain)] {
            let content = pop_content(&pop, format);
            // Case 23 has "Incoming call"; the product names the number,
            // which holds nothing but digits and spaces.
            assert_eq!(content.summary, format!("Call from {NUMBER}"), "{raw:?}");
            assert_eq!(
                content.body,
                format!("{name}\n{NUMBER}"),
                "{format:?}, {raw:?}"
            );
        }
    }
}

#[test]
fn a_known_customer_is_named_in_the_summary() {
    let content = pop_content(&known_customer(), BodyFormat::Markup);
    assert_eq!(content.summary, "Call from Acme & Sons");
    assert_eq!(
        content.body,
        "Jane Doe\n+1 212 555 0100\n\
         2 open topics · latest: Invoice &lt;March&gt; &amp; credit"
    );

    let plain = pop_content(&known_customer(), BodyFormat::Plain);
    assert_eq!(
        plain.body,
        "Jane Doe\n+1 212 555 0100\n2 open topics · latest: Invoice <March> & credit"
    );
}

#[test]
fn a_customer_matched_without_a_contact_shows_the_callers_name() {
    let pop = Pop {
        matches: vec![matched(1, "Acme & Sons", None, 1)],
        ..known_customer()
    };
    let content = pop_content(&pop, BodyFormat::Plain);
    assert_eq!(
        content.body,
        "ACME RECEPTION\n+1 212 555 0100\n1 open topic · latest: Invoice <March> & credit"
    );
}

#[test]
fn several_customers_are_all_listed() {
    let mut pop = known_customer();
    pop.matches = (1..=7)
        .map(|i| matched(i, &format!("Customer {i}"), None, 0))
        .collect();
    pop.matches[1].open_topics = 3;
    pop.matches
        .insert(1, matched(1, "Customer 1", Some("Ann"), 0));
    pop.matches
        .insert(2, matched(1, "Customer 1", Some("Bo"), 0));

    let content = pop_content(&pop, BodyFormat::Plain);
    assert_eq!(content.summary, "Call from +1 212 555 0100");
    let expected = "ACME RECEPTION\n+1 212 555 0100\n\
                    • Customer 1 — Ann, Bo\n\
                    • Customer 2 · 3 open topics\n\
                    • Customer 3\n• Customer 4\n• Customer 5\n\
                    and 2 more";
    assert_eq!(content.body, expected);
}

#[test]
fn several_contacts_of_one_customer_are_listed() {
    let mut pop = known_customer();
    pop.matches
        .push(matched(1, "Acme & Sons", Some("Raj Patel"), 2));
    let content = pop_content(&pop, BodyFormat::Plain);
    assert_eq!(content.summary, "Call from Acme & Sons");
    assert!(
        content
            .body
            .starts_with("• Jane Doe\n• Raj Patel\n+1 212 555 0100\n"),
        "{}",
        content.body
    );
}

#[test]
fn a_withheld_caller_shows_no_number() {
    let content = pop_content(&withheld(), BodyFormat::Markup);
    assert_eq!(content.summary, "Withheld caller");
    assert_eq!(content.body, "");
}

#[test]
fn no_number_and_no_match() {
    let pop = Pop {
        caller: String::new(),
        ..unknown_caller(Some("anonymous"))
    };
    let content = pop_content(&pop, BodyFormat::Plain);
    assert_eq!(content.summary, "Call from an unknown number");
    assert_eq!(content.body, "Unknown caller");
}

#[test]
fn a_number_that_is_not_written_like_one_stays_out_of_the_summary() {
    for caller in ["<b>555</b>", "call 555 0100 now", "555\u{202E}0100"] {
        let pop = Pop {
            caller: caller.to_owned(),
            ..unknown_caller(None)
        };
        let content = pop_content(&pop, BodyFormat::Markup);
        let expected = if caller.contains('\u{202E}') {
            // Cleaned first: the override goes, digits are left.
            "Call from 5550100"
        } else {
            "Incoming call"
        };
        assert_eq!(content.summary, expected, "{caller:?}");
    }
    let with_ext = Pop {
        caller: "(212) 555-0100 ext. 7".to_owned(),
        ..unknown_caller(None)
    };
    let summary = pop_content(&with_ext, BodyFormat::Plain).summary;
    assert_eq!(summary, "Call from (212) 555-0100 ext. 7");
}

#[test]
fn an_answered_pop_says_so() {
    let pop = Pop {
        answered: true,
        ..known_customer()
    };
    let content = pop_content(&pop, BodyFormat::Plain);
    assert_eq!(content.summary, "Answered · Call from Acme & Sons");
}

#[test]
fn a_pop_on_one_terminal_line() {
    let pop = Pop {
        name: Some("Tom\r\nEvil\u{1b}[31m".to_owned()),
        ..unknown_caller(None)
    };
    assert_eq!(
        pop_line(&pop),
        "Call from +1 212 555 0171 | Tom Evil[31m | +1 212 555 0171 | \
         http://127.0.0.1:8080/calls/23"
    );
}

#[test]
fn errors_say_what_failed() {
    assert_eq!(
        NotifyError::NoService.to_string(),
        "no desktop notification service on the session bus"
    );
    let unknown = notify_rust::error::Error::from(
        "org.freedesktop.DBus.Error.ServiceUnknown: The name is not activatable",
    );
    assert!(matches!(
        NotifyError::from_bus(unknown),
        NotifyError::NoService
    ));
}

mod dbus {
    //! The notifier against a real dbus-daemon and a notification
    //! server of our own on it, both from `test_server`. Each test holds
    //! the bus for its whole run, so they take turns.

    use super::*;

    use tokio::sync::mpsc;

    use crate::pop::notify::test_server::{Notify, PrivateBus, Server, ADDRESS_VAR, WAIT};

    fn recording_notifier() -> (DesktopNotifier, mpsc::UnboundedReceiver<String>) {
        let (tx, links) = mpsc::unbounded_channel();
        let opener = move |link: &str| -> io::Result<()> {
            tx.send(link.to_owned()).map_err(io::Error::other)
        };
        (DesktopNotifier::new(opener), links)
    }

    #[tokio::test]
    async fn a_pop_is_shown_replaced_answered_and_withdrawn() {
        let Some(bus) = PrivateBus::start().await else {
            return;
        };
        let server = Server::start(&bus, S1).await;
        let (notifier, _links) = recording_notifier();

        // Shown: who, the number, the topics; fixed actions and hints.
        notifier.show(&known_customer()).await.unwrap();
        let first = server.last_notify();
        let body = "Jane Doe\n+1 212 555 0100\n\
                    2 open topics · latest: Invoice &lt;March&gt; &amp; credit";
        let expected = Notify {
            id: first.id,
            app_name: "callpop".to_owned(),
            replaces_id: 0,
            app_icon: "call-start".to_owned(),
            summary: "Call from Acme & Sons".to_owned(),
            body: body.to_owned(),
            actions: ["log-call", "Log call", "dismiss", "Dismiss"]
                .map(String::from)
                .into(),
            hints: first.hints.clone(),
            timeout: 0,
            at: first.at,
        };
        assert_eq!(first, expected);
        assert_eq!(first.hints.keys().collect::<Vec<_>>(), ["urgency"]);

        // Shown again: the same notification, not a second one.
        notifier.show(&known_customer()).await.unwrap();
        let again = server.last_notify();
        assert_eq!((again.replaces_id, again.id), (first.id, first.id));

        // Answered: updated in place.
        notifier.mark_answered(&known_customer()).await.unwrap();
        let answered = server.last_notify();
        assert_eq!((answered.replaces_id, answered.id), (first.id, first.id));
        assert_eq!(answered.summary, "Answered · Call from Acme & Sons");

        // Withdrawn: closed by id; other calls are left alone.
        notifier.withdraw(99).await;
        notifier.withdraw(known_customer().call_id).await;
        assert_eq!(server.closes(), [first.id]);
        assert_eq!(server.notifies().len(), 3);
        bus.stop().await;
    }

    #[tokio::test]
    async fn unknown_and_withheld_callers() {
        let Some(bus) = PrivateBus::start().await else {
            return;
        };
        let server = Server::start(&bus, S1).await;
        let (notifier, _links) = recording_notifier();

        notifier.show(&unknown_caller(None)).await.unwrap();
        let unknown = server.last_notify();
        assert_eq!(unknown.summary, format!("Call from {NUMBER}"));
        assert_eq!(unknown.body, format!("Unknown caller\n{NUMBER}"));

        notifier.show(&withheld()).await.unwrap();
        let withheld = server.last_notify();
        assert_eq!(
            (withheld.summary.as_str(), withheld.body.as_str()),
            ("Withheld caller", "")
        );
        let shown = format!("{}{}", withheld.summary, withheld.body);
        assert!(!shown.chars().any(|c| c.is_ascii_digit()), "{shown:?}");
        assert_ne!(withheld.id, unknown.id);
        bus.stop().await;
    }

    /// Field case 23 against a real server of each kind.
    async fn check_case_23(capabilities: &[&str]) {
        let Some(bus) = PrivateBus::start().await else {
            return;
        };
        let server = Server::start(&bus, capabilities).await;
        let (notifier, _links) = recording_notifier();

        let markup = capabilities.contains(&"body-markup");
        for (call_id, (raw, escaped, plain)) in (1..).zip(CASE_23) {
            let pop = Pop {
                call_id,
                ..unknown_caller(Some(raw))
            };
            notifier.show(&pop).await.unwrap();

            let seen = server.last_notify();
            let name = if markup { escaped } else { plain };
            assert_eq!(seen.summary, format!("Call from {NUMBER}"), "{raw:?}");
            assert_eq!(seen.body, format!("{name}\n{NUMBER}"), "{raw:?}");
            let elsewhere = format!("{:?}{:?}{}", seen.actions, seen.hints, seen.app_icon);
            assert!(!elsewhere.contains("Bank") && !elsewhere.contains("Tom"));
        }
        bus.stop().await;
    }

    #[tokio::test]
    async fn caller_text_is_escaped_for_a_markup_server() {
        check_case_23(S1).await;
    }

    #[tokio::test]
    async fn caller_text_is_sent_plain_to_a_plain_server() {
        check_case_23(S2).await;
    }

    #[tokio::test]
    async fn log_call_opens_the_link_and_dismiss_closes() {
        let Some(bus) = PrivateBus::start().await else {
            return;
        };
        let server = Server::start(&bus, S2).await;
        let (notifier, mut links) = recording_notifier();

        // The notifier listens for actions from a task it starts after
        // Notify returns; like a click that early, a signal sent before
        // that reaches nobody. So the click repeats until it is seen.
        notifier.show(&known_customer()).await.unwrap();
        let id = server.last_notify().id;
        let clicked = async {
            loop {
                server.click(id, LOG_CALL).await;
                let retry = Duration::from_millis(50);
                if let Ok(link) = tokio::time::timeout(retry, links.recv()).await {
                    return link;
                }
            }
        };
        let link = tokio::time::timeout(WAIT, clicked)
            .await
            .expect("log call not seen");
        assert_eq!(link.as_deref(), Some("http://127.0.0.1:8080/calls/7"));

        // Dismiss closes the notification from the notifier's side.
        notifier.show(&unknown_caller(None)).await.unwrap();
        let id = server.last_notify().id;
        let dismissed = async {
            loop {
                server.click(id, DISMISS).await;
                let retry = Duration::from_millis(50);
                if tokio::time::timeout(retry, server.wait_for_close(id))
                    .await
                    .is_ok()
                {
                    return;
                }
            }
        };
        tokio::time::timeout(WAIT, dismissed)
            .await
            .expect("dismiss not seen");
        assert!(links.try_recv().is_err(), "dismiss opened a link");
        bus.stop().await;
    }

    #[tokio::test]
    async fn no_server_on_the_bus_is_a_clear_error() {
        let Some(bus) = PrivateBus::start().await else {
            return;
        };
        let (notifier, _links) = recording_notifier();

        let err = notifier.show(&known_customer()).await.unwrap_err();
        assert!(matches!(err, NotifyError::NoService), "{err:?}");
        assert_eq!(
            err.to_string(),
            "no desktop notification service on the session bus"
        );
        notifier.withdraw(known_customer().call_id).await;

        // No bus at all fails as quickly, with the reason.
        std::env::set_var(ADDRESS_VAR, "unix:path=/nonexistent/callpop-test-bus");
        let err = notifier.show(&known_customer()).await.unwrap_err();
        assert!(matches!(err, NotifyError::Bus(_)), "{err:?}");
        assert!(err.to_string().starts_with("failed to reach"), "{err}");
        bus.stop().await;
    }
}
