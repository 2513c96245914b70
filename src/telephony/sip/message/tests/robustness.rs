//! Damaged and hostile input: never a panic, never a slow refusal.

use super::framing::{stream, Event};
use super::*;

#[test]
fn damaged_messages_never_panic() {
    let mut parsed = 0;
    let mut variants = 0;
    for (i, (name, seed)) in fixtures::corpus().into_iter().enumerate() {
        for damaged in fixtures::mutations(&seed, i as u64, 40) {
            variants += 1;
            if let Ok(msg) = Message::parse(&damaged) {
                parsed += 1;
                check_accepted(&name, &damaged, &msg);
                assert!(
                    Message::parse(&response(&msg, 200, "OK", Some("t"), &[])).is_ok(),
                    "{name}"
                );
            }
            let events = stream(&damaged, damaged.len().max(1));
            let framed: usize = events
                .iter()
                .map(|e| match e {
                    Event::Skip(n) => *n,
                    Event::Message(m) => m.len(),
                    Event::Invalid(_) => 0,
                })
                .sum();
            assert!(framed <= damaged.len(), "{name}");
        }
    }
    assert!(variants > 4000, "only {variants} variants");
    // The damage must leave some messages whole, or the checks above never ran.
    assert!(
        parsed > variants / 20 && parsed < variants,
        "{parsed} of {variants} parsed"
    );
}

#[test]
fn hostile_inputs_are_refused_quickly() {
    let many = |s: &str, n: usize| s.repeat(n);
    let inputs = [
        many("\r\n", 100_000),
        format!(
            "INVITE sip:a@b SIP/2.0\r\nVia: {}\r\n\r\n",
            many(",", 100_000)
        ),
        format!(
            "INVITE sip:a@b SIP/2.0\r\nTo: {}\r\n\r\n",
            many("\"", 100_001)
        ),
        format!(
            "INVITE sip:a@b SIP/2.0\r\nTo: {}\r\n\r\n",
            many("<", 100_000)
        ),
        format!(
            "INVITE sip:a@b SIP/2.0\r\nContact: <sip:a@b>{}\r\n\r\n",
            many(";x", 50_000)
        ),
        format!(
            "INVITE sip:a@b SIP/2.0\r\nX: a\r\n{}\r\n",
            many(" folded\r\n", 50_000)
        ),
        format!("INVITE sip:{}@b SIP/2.0\r\n\r\n", many("%", 100_000)),
    ];
    for input in inputs {
        let started = std::time::Instant::now();
        assert!(Message::parse(input.as_bytes()).is_err());
        let _ = frame(input.as_bytes());
        assert!(
            started.elapsed().as_secs() < 5,
            "{}",
            &input[..40.min(input.len())]
        );
    }
}
