//! What a pop says: the summary in our own words and the CRM's labels, the
//! body a line at a time, caller-controlled text cleaned, and escaped only
//! for a server that reads the body as markup.
//!
//! The caller's display name only ever goes into the body. The summary may
//! name the number, but only when it holds nothing but what numbers are
//! written with, so that no caller text reaches a line the server never
//! escapes.

use crate::pop::hub::{Pop, PopMatch};
use crate::pop::safe_text::{self, BodyFormat};

/// Several matches are listed one per line, up to this many.
const MAX_LISTED: usize = 5;

/// The text of a notification, as sent to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PopContent {
    /// Always plain text, as the specification has it.
    pub summary: String,
    /// Escaped when the server reads markup.
    pub body: String,
}

/// What the notification of a pop says to a server reading `format`.
pub fn pop_content(pop: &Pop, format: BodyFormat) -> PopContent {
    let lines = body_lines(pop);
    let rendered: Vec<_> = lines.iter().map(|line| format.render(line)).collect();
    PopContent {
        summary: summary(pop),
        body: rendered.join("\n"),
    }
}

/// A pop on one line of plain text, for a terminal: the summary, the body's
/// lines and the link. Control characters are gone with the cleaning.
pub fn pop_line(pop: &Pop) -> String {
    let mut parts = vec![summary(pop)];
    parts.extend(body_lines(pop));
    parts.push(pop.link.clone());
    parts.join(" | ")
}

fn summary(pop: &Pop) -> String {
    let who = match customers(&pop.matches).as_slice() {
        _ if pop.withheld => "Withheld caller".to_owned(),
        [one] => format!("Call from {}", safe_text::clean(&one.customer)),
        _ => match phone_like(&pop.caller) {
            Some(number) => format!("Call from {number}"),
            None if pop.caller.trim().is_empty() => "Call from an unknown number".to_owned(),
            None => "Incoming call".to_owned(),
        },
    };
    if pop.answered {
        format!("Answered · {who}")
    } else {
        who
    }
}

/// The body, a line at a time, cleaned but not yet escaped.
fn body_lines(pop: &Pop) -> Vec<String> {
    // A withheld caller's name is left out too: PBXs often repeat the
    // number as the name.
    if pop.withheld {
        return Vec::new();
    }

    let customers = customers(&pop.matches);
    let mut lines = Vec::new();
    match customers.as_slice() {
        [one] if !one.contacts.is_empty() => lines.extend(listed(&one.contacts)),
        [] => lines.push(caller_name(pop).unwrap_or_else(|| "Unknown caller".to_owned())),
        _ => lines.extend(caller_name(pop)),
    }

    let number = safe_text::clean(&pop.caller);
    if !number.is_empty() {
        lines.push(number);
    }

    match customers.as_slice() {
        [one] => lines.extend(topics_line(one)),
        [] => {}
        many => lines.extend(listed(&many.iter().map(Customer::line).collect::<Vec<_>>())),
    }
    lines
}

/// One customer the number matched, with the contacts matched there.
struct Customer {
    id: i64,
    customer: String,
    contacts: Vec<String>,
    open_topics: i64,
    latest_topic: Option<String>,
}

impl Customer {
    /// How the customer reads in a list of several.
    fn line(&self) -> String {
        let mut line = safe_text::clean(&self.customer);
        if !self.contacts.is_empty() {
            line.push_str(" — ");
            line.push_str(&self.contacts.join(", "));
        }
        match self.open_topics {
            0 => {}
            1 => line.push_str(" · 1 open topic"),
            n => line.push_str(&format!(" · {n} open topics")),
        }
        line
    }
}

/// The matches grouped by customer, in the order they came: a switchboard
/// and a contact of the same customer are one customer, not two.
fn customers(matches: &[PopMatch]) -> Vec<Customer> {
    let mut customers: Vec<Customer> = Vec::new();
    for m in matches {
        let at = match customers.iter().position(|c| c.id == m.customer_id) {
            Some(at) => at,
            None => {
                customers.push(Customer {
                    id: m.customer_id,
                    customer: m.customer.clone(),
                    contacts: Vec::new(),
                    open_topics: m.open_topics,
                    latest_topic: m.latest_topic.clone(),
                });
                customers.len() - 1
            }
        };
        let contact = m.contact.as_deref().map(safe_text::clean);
        let contact = contact.filter(|c| !c.is_empty());
        let customer = &mut customers[at];
        if let Some(contact) = contact.filter(|c| !customer.contacts.contains(c)) {
            customer.contacts.push(contact);
        }
    }
    customers
}

/// Lines as a list when there are several, so none is taken for the caller.
fn listed(items: &[String]) -> Vec<String> {
    if let [one] = items {
        return vec![one.clone()];
    }
    let mut lines: Vec<String> = items
        .iter()
        .take(MAX_LISTED)
        .map(|item| format!("• {item}"))
        .collect();
    if items.len() > MAX_LISTED {
        lines.push(format!("and {} more", items.len() - MAX_LISTED));
    }
    lines
}

fn topics_line(customer: &Customer) -> Option<String> {
    let latest = customer.latest_topic.as_deref().map(safe_text::clean);
    let latest = latest.filter(|title| !title.is_empty());
    let count = match customer.open_topics {
        0 => return None,
        1 => "1 open topic".to_owned(),
        n => format!("{n} open topics"),
    };
    Some(match latest {
        Some(title) => format!("{count} · latest: {title}"),
        None => count,
    })
}

fn caller_name(pop: &Pop) -> Option<String> {
    pop.name.as_deref().and_then(safe_text::caller_name)
}

/// The number as written, when it holds only what numbers are written with
/// (digits, spaces, `+ - ( ) . / * #`, an `ext.`), so that it is safe in
/// the summary, which servers never escape.
fn phone_like(number: &str) -> Option<String> {
    let number = safe_text::clean(number);
    let (main, ext) = match number.split_once(" ext. ") {
        Some((main, ext)) => (main, Some(ext)),
        None => (number.as_str(), None),
    };
    let written = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_digit() || " +-()./*#".contains(c))
    };
    let has_digit = main.chars().any(|c| c.is_ascii_digit());
    (has_digit && written(main) && ext.is_none_or(written)).then_some(number)
}
