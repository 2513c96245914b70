//! How long the SIP link takes to read a message and find who is calling:
//! `Message::parse` plus `identity::caller` over the field cases and the Asterisk INVITEs
//! in `../shared/fixtures`. Run with `cargo bench --bench sip_parse`; it prints the median
//! of several rounds in nanoseconds per message.

use std::hint::black_box;
use std::time::Instant;

use callpop::telephony::sip::identity;
use callpop::telephony::sip::message::Message;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures");
const ROUNDS: usize = 9;
const ITERATIONS: usize = 5_000;

fn main() {
    let messages = load();
    let parsed = messages
        .iter()
        .filter(|m| Message::parse(m).is_ok())
        .count();

    // One round to warm caches and the allocator, then the measured ones.
    round(&messages);
    let mut per_message: Vec<f64> = (0..ROUNDS).map(|_| round(&messages)).collect();
    per_message.sort_by(f64::total_cmp);

    let (median, low, high) = (
        per_message[ROUNDS / 2],
        per_message[0],
        per_message[ROUNDS - 1],
    );
    println!(
        "sip_parse: {} messages ({parsed} valid) x {ITERATIONS} iterations, {ROUNDS} rounds: \
         median {median:.0} ns/message (fastest round {low:.0}, slowest {high:.0})",
        messages.len()
    );
}

/// Nanoseconds per message for one pass of `ITERATIONS` over every message.
fn round(messages: &[Vec<u8>]) -> f64 {
    let started = Instant::now();
    for _ in 0..ITERATIONS {
        for raw in messages {
            // A refused message costs its parse too, as it would on the wire.
            if let Ok(msg) = Message::parse(black_box(raw)) {
                black_box(identity::caller(&msg, true));
            }
        }
    }
    started.elapsed().as_nanos() as f64 / (ITERATIONS * messages.len()) as f64
}

/// The raw field cases and the INVITEs Asterisk sent to extension 201.
fn load() -> Vec<Vec<u8>> {
    let mut messages = files("field/raw", |name| name.ends_with(".sip"));
    messages.extend(files("asterisk", |name| name.starts_with("sip-invite-")));
    assert!(messages.len() > 20, "fixtures missing under {FIXTURES}");
    messages
}

fn files(dir: &str, wanted: impl Fn(&str) -> bool) -> Vec<Vec<u8>> {
    let dir = format!("{FIXTURES}/{dir}");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {dir}: {e}"));
    let mut paths: Vec<_> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|n| wanted(&n.to_string_lossy()))
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| std::fs::read(path).expect("fixture readable"))
        .collect()
}
