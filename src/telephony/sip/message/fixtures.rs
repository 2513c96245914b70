//! The shared SIP fixtures (`../shared/fixtures` beside the repository), read at run
//! time, and deterministic mutations of them for the no-panic tests.

pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures");

pub fn read(path: &str) -> Vec<u8> {
    let full = format!("{ROOT}/{path}");
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read fixture {full}: {e}"))
}

/// The files in `dir` whose names end in `suffix`, sorted, as (file name, bytes).
pub fn dir(dir: &str, suffix: &str) -> Vec<(String, Vec<u8>)> {
    let full = format!("{ROOT}/{dir}");
    let entries = std::fs::read_dir(&full).unwrap_or_else(|e| panic!("cannot list {full}: {e}"));
    let mut names: Vec<String> = entries
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(suffix))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| (name.clone(), read(&format!("{dir}/{name}"))))
        .collect()
}

/// The messages of a sipp log. Each is announced by a line such as
/// `UDP message received [832] bytes :` or `UDP message sent (268 bytes):`, then an
/// empty line, then exactly that many bytes.
pub fn sipp_log(path: &str) -> Vec<Vec<u8>> {
    let log = read(path);
    let mut messages = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&log[at..], b"UDP message ") {
        let line_start = at + found;
        let line_len = find(&log[line_start..], b"\n").expect("announcement line ends");
        let line = std::str::from_utf8(&log[line_start..line_start + line_len]).unwrap();
        let digits = line
            .split(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty());
        let len: usize = digits.expect("byte count").parse().unwrap();

        let start = line_start + line_len + 2;
        assert_eq!(
            log[start - 1],
            b'\n',
            "{path}: no empty line after {line:?}"
        );
        messages.push(log[start..start + len].to_vec());
        at = start + len;
    }
    messages
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `raw` with the header line that starts with `prefix` replaced by `with`, which may
/// be several CRLF-separated lines or empty to drop the line.
pub fn replace_line(raw: &[u8], prefix: &str, with: &str) -> Vec<u8> {
    let text = std::str::from_utf8(raw).expect("fixture is utf-8");
    let start = text
        .find(&format!("\r\n{prefix}"))
        .expect("line to replace")
        + 2;
    let end = start + text[start..].find("\r\n").unwrap() + 2;
    let with = if with.is_empty() {
        String::new()
    } else {
        format!("{with}\r\n")
    };
    format!("{}{with}{}", &text[..start], &text[end..]).into_bytes()
}

/// Every message of the shared fixtures, named by where it came from.
pub fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut all = dir("field/raw", ".sip");
    all.extend(dir("rfc4475", ".dat"));
    all.extend(
        dir("asterisk", ".txt")
            .into_iter()
            .filter(|(n, _)| n.starts_with("sip-")),
    );
    for (name, _) in dir("asterisk/sip", ".log") {
        let messages = sipp_log(&format!("asterisk/sip/{name}"));
        all.extend(
            messages
                .into_iter()
                .enumerate()
                .map(|(i, m)| (format!("{name}#{i}"), m)),
        );
    }
    all
}

/// A tiny deterministic generator (Knuth's MMIX LCG): no crates, same inputs every run.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes that matter to a SIP parser, used to damage messages where it hurts.
const DELIMITERS: &[u8] = b"\r\n \t:;,=\"<>\\%@[]?/0\xff\x00";

/// `count` variants of `seed`, each damaged one to three times: cut short, a byte
/// replaced or inserted, a span dropped or doubled.
pub fn mutations(seed: &[u8], salt: u64, count: usize) -> Vec<Vec<u8>> {
    let mut rng = Lcg(salt ^ (seed.len() as u64) << 32);
    (0..count)
        .map(|_| {
            let mut out = seed.to_vec();
            for _ in 0..=rng.below(3) {
                mutate(&mut out, &mut rng);
            }
            out
        })
        .collect()
}

fn mutate(out: &mut Vec<u8>, rng: &mut Lcg) {
    let at = rng.below(out.len() + 1);
    let delimiter = DELIMITERS[rng.below(DELIMITERS.len())];
    match rng.below(5) {
        0 => out.truncate(at),
        1 if at < out.len() => out[at] = delimiter,
        1 | 2 => out.insert(at, delimiter),
        3 => drop(out.drain(at..(at + rng.below(16)).min(out.len()))),
        _ => {
            let span = out[at..(at + rng.below(32)).min(out.len())].to_vec();
            out.splice(at..at, span);
        }
    }
}
