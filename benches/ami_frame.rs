//! How fast the AMI link cuts Asterisk's byte stream into messages: the events and
//! responses of the transcripts in `../shared/fixtures/asterisk`, repeated to about
//! 100 MB and pushed into a `Framer` in 64 KiB reads, as the connection reads them.
//! Run with `cargo bench --bench ami_frame`; it prints the median of several rounds in
//! events per second and nanoseconds per event.

use std::hint::black_box;
use std::time::Instant;

use callpop::telephony::ami::frame::{Frame, Framer};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures");
const TARGET_BYTES: usize = 100 * 1024 * 1024;
const READ: usize = 64 * 1024;
const ROUNDS: usize = 7;

fn main() {
    let (stream, per_copy) = load();
    let copies = TARGET_BYTES / stream.len() + 1;
    let stream = stream.repeat(copies);
    let expected = per_copy * copies;

    // One round to warm caches and the allocator, then the measured ones.
    assert_eq!(round(&stream), expected, "frames counted");
    let mut seconds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            let frames = round(&stream);
            let elapsed = started.elapsed().as_secs_f64();
            assert_eq!(frames, expected, "frames counted");
            elapsed
        })
        .collect();
    seconds.sort_by(f64::total_cmp);

    let per_second = |s: f64| expected as f64 / s;
    let (median, fastest, slowest) = (seconds[ROUNDS / 2], seconds[0], seconds[ROUNDS - 1]);
    println!(
        "ami_frame: {expected} messages, {:.0} MB in {}-byte reads, {ROUNDS} rounds: median \
         {:.0} messages/s, {:.0} ns/message (fastest round {:.0} ns, slowest {:.0} ns), \
         {:.0} MB/s",
        stream.len() as f64 / 1e6,
        READ,
        per_second(median),
        median * 1e9 / expected as f64,
        fastest * 1e9 / expected as f64,
        slowest * 1e9 / expected as f64,
        stream.len() as f64 / 1e6 / median,
    );
}

/// Frames the whole stream; returns how many messages came out, each looked at as the
/// call assembly would (its kind first).
fn round(stream: &[u8]) -> usize {
    let mut framer = Framer::without_banner();
    let mut messages = 0;
    for read in stream.chunks(READ) {
        framer.push(black_box(read));
        while let Some(frame) = framer.next() {
            if let Frame::Message(msg) = frame {
                black_box(msg.event());
                messages += 1;
            }
        }
    }
    assert_eq!(framer.buffered(), 0, "stream ends with a whole message");
    messages
}

/// What Asterisk sent in every transcript, without the greeting and without the
/// `Action:` blocks the client wrote, and how many messages that is.
fn load() -> (Vec<u8>, usize) {
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

    let mut stream = Vec::new();
    let mut messages = 0;
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("transcript readable as utf-8");
        let (_greeting, rest) = text.split_once("\r\n").expect("greeting line");
        for block in rest.split("\r\n\r\n") {
            if block.is_empty() || block.starts_with("Action:") {
                continue;
            }
            stream.extend_from_slice(block.as_bytes());
            stream.extend_from_slice(b"\r\n\r\n");
            messages += 1;
        }
    }
    (stream, messages)
}
