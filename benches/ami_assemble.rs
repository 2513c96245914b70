//! How many AMI events the link's reading side handles per second on one core:
//! Asterisk's byte stream cut into messages and assembled into call events,
//! as the link task does between two reads. The stream is every transcript in
//! `../shared/fixtures/asterisk`, repeated with fresh Uniqueids and Linkedids
//! per copy (so each copy is a new set of calls) to about 100 MB, pushed in
//! 64 KiB reads. Presentation questions are answered at once, as a quick PBX
//! would. Run with `cargo bench --bench ami_assemble`; it prints the median
//! of several rounds in events per second and nanoseconds per event.

use std::hint::black_box;
use std::time::Instant;

use callpop::telephony::ami::assemble::{Ask, Assembler, Output, Settings};
use callpop::telephony::ami::classify::Endpoints;
use callpop::telephony::ami::frame::{Frame, Framer};
use chrono::{Duration, Utc};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures");
const TARGET_BYTES: usize = 100 * 1024 * 1024;
const READ: usize = 64 * 1024;
const ROUNDS: usize = 5;

/// Fields whose values name a channel or a call, made unique per copy.
const ID_FIELDS: [&str; 4] = [
    "Uniqueid: ",
    "Linkedid: ",
    "DestUniqueid: ",
    "DestLinkedid: ",
];

fn main() {
    let copy = load();
    let copies = TARGET_BYTES / copy.len() + 1;
    let stream: Vec<u8> = (0..copies).flat_map(|k| renumber(&copy, k)).collect();

    let (expected, calls) = round(&stream);
    assert!(
        calls >= copies * 8,
        "each copy ends at least its eight calls"
    );
    let mut seconds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            let (messages, _) = round(&stream);
            let elapsed = started.elapsed().as_secs_f64();
            assert_eq!(messages, expected, "messages counted");
            elapsed
        })
        .collect();
    seconds.sort_by(f64::total_cmp);

    let median = seconds[ROUNDS / 2];
    println!(
        "ami_assemble: {expected} messages ({calls} calls ended), {:.0} MB in {READ}-byte \
         reads, {ROUNDS} rounds: median {:.0} messages/s, {:.0} ns/message \
         (fastest round {:.0} ns, slowest {:.0} ns)",
        stream.len() as f64 / 1e6,
        expected as f64 / median,
        median * 1e9 / expected as f64,
        seconds[0] * 1e9 / expected as f64,
        seconds[ROUNDS - 1] * 1e9 / expected as f64,
    );
}

/// Frames and assembles the whole stream; returns the messages read and the
/// calls that ended.
fn round(stream: &[u8]) -> (usize, usize) {
    let mut framer = Framer::without_banner();
    let mut assembler = Assembler::new("bench", settings());
    let mut out = Output::default();
    let (mut messages, mut ended) = (0, 0);
    for read in stream.chunks(READ) {
        framer.push(black_box(read));
        let arrival = Utc::now();
        while let Some(frame) = framer.next() {
            let Frame::Message(msg) = frame else { continue };
            assembler.handle(&msg, arrival, &mut out);
            messages += 1;
            for ask in std::mem::take(&mut out.asks) {
                let Ask::Presentation { linkedid, .. } = ask;
                assembler.presentation(&linkedid, Some("allowed_not_screened"), &mut out);
            }
            ended += out
                .events
                .drain(..)
                .filter(|e| matches!(e.kind, callpop::telephony::EventKind::Ended { .. }))
                .count();
        }
    }
    assert_eq!(framer.buffered(), 0, "stream ends with a whole message");
    (messages, ended)
}

/// The fixtures' PBX, as `config/callpop.toml` would describe it.
fn settings() -> Settings {
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
    Settings {
        endpoints: Endpoints {
            trunk_contexts: set(&["from-trunk"]),
            internal_contexts: set(&["from-internal"]),
            ..Endpoints::default()
        },
        ask_presentation: true,
        presentation_wait: Duration::milliseconds(300),
        stale_after: Duration::hours(4),
    }
}

/// What Asterisk sent in every transcript, without greetings and without
/// the `Action:` blocks the client wrote.
fn load() -> String {
    let dir = format!("{FIXTURES}/asterisk");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {dir}: {e}"));
    let mut paths: Vec<_> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("ami-") && name.ends_with(".txt")
        })
        .collect();
    paths.sort();
    assert!(paths.len() >= 8, "ami transcripts missing under {dir}");

    let mut stream = String::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("transcript readable as utf-8");
        let (_greeting, rest) = text.split_once("\r\n").expect("greeting line");
        for block in rest.split("\r\n\r\n") {
            if block.is_empty() || block.starts_with("Action:") {
                continue;
            }
            stream.push_str(block);
            stream.push_str("\r\n\r\n");
        }
    }
    stream
}

/// `copy` with every id prefixed by `k`, so copy `k` is calls of its own.
fn renumber(copy: &str, k: usize) -> Vec<u8> {
    let mut out = String::with_capacity(copy.len() + copy.len() / 20);
    for line in copy.split_inclusive("\r\n") {
        match ID_FIELDS.iter().find(|f| line.starts_with(*f)) {
            Some(field) => {
                out.push_str(field);
                out.push_str(&format!("{k}"));
                out.push_str(&line[field.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out.into_bytes()
}
