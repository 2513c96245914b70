//! Measures three SIP parsers on the same inputs: the published rsip 0.4.0, the parser
//! that rsipstack carries as `rsipstack::sip`, and callpop's own
//! `src/telephony/sip/message/`. For every input it records whether the message was
//! accepted, and for accepted ones whether the fields callpop acts on came out right; then
//! it times each parser. The result is written as Markdown to
//! `bench/sip-parser-survey.md` (or the path given with `--out`).
//!
//! Run from this directory: `cargo run --release`. Fixtures are read from
//! `../../../shared/fixtures` unless `SIP_FIXTURES` names another directory.

mod expect;
mod readers;
mod sip;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use expect::{Expect, Must, Set};
use readers::{Field, Got, Parser};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
/// Timed rounds per input and parser; the median is reported.
const ROUNDS: usize = 61;
/// Each timed round of one input and parser runs at least this long.
const ROUND_TIME: Duration = Duration::from_millis(1);

fn parsers() -> [Parser; 3] {
    [
        readers::callpop::PARSER,
        readers::rsip_0_4::PARSER,
        readers::rsipstack_sip::PARSER,
    ]
}

// ---------------------------------------------------------------------------------------
// Outcomes

#[derive(Debug, Clone)]
enum Outcome {
    Panic(String),
    Rejected(String),
    /// Accepted; the list holds every field that did not come out as expected.
    Accepted(Vec<Wrong>),
}

/// One field that did not come out as expected.
#[derive(Debug, Clone)]
struct Wrong {
    text: String,
    /// A display name that is right once its quotes are taken off and its escapes undone:
    /// the parser handed back the raw quoted-string.
    quote_only: bool,
}

/// A quoted-string's content, as RFC 3261 §25.1 defines it.
fn unquote(raw: &str) -> Option<String> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next()? } else { c });
    }
    Some(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// Accepted and every checked field right.
    Right,
    /// Rejected, as it must (or may) be.
    RightlyRejected,
    /// Accepted as it must (or may) be, but a field came out wrong.
    Misread,
    /// Rejected though it must be accepted.
    Rejected,
    /// Accepted though it must be rejected.
    WronglyAccepted,
    Panic,
}

fn classify(must: Must, outcome: &Outcome) -> Class {
    match (must, outcome) {
        (_, Outcome::Panic(_)) => Class::Panic,
        (Must::Accept, Outcome::Rejected(_)) => Class::Rejected,
        (Must::Reject | Must::Either, Outcome::Rejected(_)) => Class::RightlyRejected,
        (Must::Reject, Outcome::Accepted(_)) => Class::WronglyAccepted,
        (Must::Accept | Must::Either, Outcome::Accepted(wrong)) if wrong.is_empty() => Class::Right,
        (Must::Accept | Must::Either, Outcome::Accepted(_)) => Class::Misread,
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".into()
    }
}

fn run(parser: &Parser, raw: &[u8], expect: &Expect) -> Outcome {
    match catch_unwind(AssertUnwindSafe(|| (parser.read)(raw))) {
        Err(payload) => Outcome::Panic(panic_text(payload)),
        Ok(Err(reason)) => Outcome::Rejected(reason),
        Ok(Ok(got)) => Outcome::Accepted(compare(expect, &got)),
    }
}

/// Every checked field that differs from the expectation, one line each. Fields that failed
/// with the same error are reported once.
fn compare(e: &Expect, got: &Got) -> Vec<Wrong> {
    let body = got.body_len.to_string();
    let want_body = e.body_len.map(|n| n.to_string());
    let want_body_list = [want_body.as_deref().unwrap_or("")];
    let checks: [(&str, Option<&[&str]>, &Field); 12] = [
        ("Call-ID", e.call_id, &got.call_id),
        ("CSeq", e.cseq, &got.cseq),
        ("top Via branch", e.branch, &got.branch),
        ("Request-URI user", e.ruri_user, &got.ruri_user),
        ("Request-URI host", e.ruri_host, &got.ruri_host),
        ("From display name", e.from_display, &got.from_display),
        ("From user", e.from_user, &got.from_user),
        ("From tag", e.from_tag, &got.from_tag),
        ("P-Asserted-Identity user", e.pai_user, &got.pai_user),
        (
            "Remote-Party-ID display name",
            e.rpid_display,
            &got.rpid_display,
        ),
        ("Remote-Party-ID user", e.rpid_user, &got.rpid_user),
        ("Privacy", e.privacy, &got.privacy),
    ];

    let mut wrong: Vec<Wrong> = Vec::new();
    let mut errors: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, want, got) in checks {
        let Some(want) = want else { continue };
        match got {
            Ok(value) if want.contains(&value.as_str()) => {}
            Ok(value) => wrong.push(Wrong {
                text: format!(
                    "{name} {} (want {})",
                    shown(value),
                    want.iter()
                        .map(|w| shown(w))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
                quote_only: name.ends_with("display name")
                    && unquote(value).is_some_and(|v| want.contains(&v.as_str())),
            }),
            Err(reason) => errors.entry(reason.clone()).or_default().push(name),
        }
    }
    if want_body.is_some() && want_body_list[0] != body {
        wrong.push(Wrong {
            text: format!("body {} octets (want {})", got.body_len, want_body_list[0]),
            quote_only: false,
        });
    }
    for (reason, names) in errors {
        wrong.push(Wrong {
            text: format!("{}: error {}", names.join(", "), code(&reason)),
            quote_only: false,
        });
    }
    wrong
}

/// A value as shown in a note: absent, or quoted as code.
fn shown(value: &str) -> String {
    if value.is_empty() {
        "absent".into()
    } else {
        code(&format!("{value:?}"))
    }
}

/// A Markdown code span that survives any content, table pipes included.
fn code(text: &str) -> String {
    let text: String = if text.chars().count() > 100 {
        let cut: String = text.chars().take(97).collect();
        format!("{cut}...")
    } else {
        text.to_string()
    };
    let text = text.replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

// ---------------------------------------------------------------------------------------
// Inputs

struct Input {
    expect: &'static Expect,
    raw: Vec<u8>,
}

impl Input {
    fn name(&self) -> &str {
        Path::new(self.expect.file)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(self.expect.file)
    }
}

fn fixtures_root() -> PathBuf {
    match std::env::var_os("SIP_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(MANIFEST_DIR).join("../../../shared/fixtures"),
    }
}

fn list(dir: &Path, prefix: &str, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
        .collect();
    names.sort();
    names
}

/// Loads every input and checks that the expectations cover exactly the fixture files, and
/// that the identifiers they name occur in the bytes (a guard against typing errors).
fn load(root: &Path) -> Vec<Input> {
    let on_disk: Vec<String> = [
        ("field/raw", "", ".sip"),
        ("rfc4475", "", ".dat"),
        ("asterisk", "sip-invite-", ".txt"),
    ]
    .iter()
    .flat_map(|(dir, prefix, suffix)| {
        list(&root.join(dir), prefix, suffix)
            .into_iter()
            .map(move |n| format!("{dir}/{n}"))
    })
    .collect();
    let expected: Vec<&str> = expect::all().map(|e| e.file).collect();
    for file in &on_disk {
        assert!(
            expected.contains(&file.as_str()),
            "{file} has no expectation in src/expect.rs"
        );
    }
    for file in &expected {
        assert!(on_disk.iter().any(|f| f == file), "{file} is not on disk");
    }
    assert_eq!(expect::RFC4475.len(), 49, "RFC 4475 has 49 messages");

    expect::all()
        .map(|e| {
            let raw = std::fs::read(root.join(e.file))
                .unwrap_or_else(|err| panic!("cannot read {}: {err}", e.file));
            for vals in [e.call_id, e.branch, e.from_tag].into_iter().flatten() {
                let needle = vals[0];
                assert!(
                    needle.is_empty() || raw.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{}: expected {needle:?} does not occur in the file",
                    e.file
                );
            }
            Input { expect: e, raw }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Timing

/// Nanoseconds per call, the median of `ROUNDS` rounds; the functions take turns within
/// each round so that a change in machine load hits all of them alike.
fn time_all(fs: &[&dyn Fn()]) -> Vec<f64> {
    let iters: Vec<u64> = fs
        .iter()
        .map(|f| {
            let mut n = 1u64;
            loop {
                let started = Instant::now();
                for _ in 0..n {
                    f();
                }
                if started.elapsed() >= ROUND_TIME || n >= 1 << 22 {
                    return n;
                }
                n *= 2;
            }
        })
        .collect();
    let mut samples = vec![Vec::with_capacity(ROUNDS); fs.len()];
    for _ in 0..ROUNDS {
        for (i, f) in fs.iter().enumerate() {
            let started = Instant::now();
            for _ in 0..iters[i] {
                f();
            }
            samples[i].push(started.elapsed().as_nanos() as f64 / iters[i] as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[ROUNDS / 2]
        })
        .collect()
}

#[derive(Clone, Copy, Default)]
struct Timing {
    parse: Option<f64>,
    read: Option<f64>,
}

// ---------------------------------------------------------------------------------------
// Report

struct Results {
    parsers: [Parser; 3],
    labels: [String; 3],
    inputs: Vec<Input>,
    /// outcomes[input][parser]
    outcomes: Vec<[Outcome; 3]>,
    /// timings[input][parser], for the field and Asterisk inputs.
    timings: Vec<[Timing; 3]>,
}

impl Results {
    fn classes(&self, set: Set, p: usize) -> Vec<Class> {
        self.inputs
            .iter()
            .zip(&self.outcomes)
            .filter(|(i, _)| i.expect.set == set)
            .map(|(i, o)| classify(i.expect.must, &o[p]))
            .collect()
    }

    fn count(&self, set: Set, p: usize, want: &[Class]) -> usize {
        self.classes(set, p)
            .iter()
            .filter(|c| want.contains(c))
            .count()
    }

    fn mean_ns(&self, set: Set, p: usize, read: bool) -> Option<f64> {
        let values: Vec<f64> = self
            .inputs
            .iter()
            .zip(&self.timings)
            .filter(|(i, _)| i.expect.set == set)
            .map(|(_, t)| if read { t[p].read } else { t[p].parse })
            .collect::<Option<Vec<f64>>>()?;
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }

    /// RFC 4475 messages whose verdict disagrees with the RFC: a must-accept message
    /// rejected, a must-reject one accepted, a panic, or an EITHER message accepted but
    /// misread (the RFC allows accepting it only if it is read right).
    fn rfc_disagree(&self, p: usize) -> usize {
        self.inputs
            .iter()
            .zip(&self.outcomes)
            .filter(|(i, _)| i.expect.set == Set::Rfc4475)
            .filter(|(i, o)| {
                let class = classify(i.expect.must, &o[p]);
                matches!(
                    class,
                    Class::Rejected | Class::WronglyAccepted | Class::Panic
                ) || (i.expect.must == Must::Either && class == Class::Misread)
            })
            .count()
    }

    /// Misread inputs of `set` whose only fault is a display name handed back quoted.
    fn quote_only(&self, set: Set, p: usize) -> usize {
        self.inputs
            .iter()
            .zip(&self.outcomes)
            .filter(|(i, _)| i.expect.set == set)
            .filter(|(_, o)| {
                matches!(&o[p], Outcome::Accepted(w) if !w.is_empty() && w.iter().all(|w| w.quote_only))
            })
            .count()
    }

    /// Mean over the inputs of `set` that all three parsers accept.
    fn mean_ns_common(&self, set: Set, p: usize) -> Option<(f64, usize)> {
        let values: Vec<f64> = self
            .inputs
            .iter()
            .zip(&self.outcomes)
            .zip(&self.timings)
            .filter(|((i, o), _)| {
                i.expect.set == set && o.iter().all(|o| matches!(o, Outcome::Accepted(_)))
            })
            .filter_map(|(_, t)| t[p].read)
            .collect();
        (!values.is_empty()).then(|| {
            (
                values.iter().sum::<f64>() / values.len() as f64,
                values.len(),
            )
        })
    }
}

/// A time per message in microseconds, one unit throughout so columns compare at a glance.
fn ns(v: Option<f64>) -> String {
    match v {
        Some(v) => format!("{:.2} µs", v / 1000.0),
        None => "n/a".into(),
    }
}

/// 97000 as "97,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn must_text(m: Must) -> &'static str {
    match m {
        Must::Accept => "ACCEPT",
        Must::Reject => "REJECT",
        Must::Either => "EITHER",
    }
}

fn cell(must: Must, outcome: &Outcome) -> String {
    let class = classify(must, outcome);
    match (class, outcome) {
        (Class::Right, _) => "right".into(),
        (Class::RightlyRejected, Outcome::Rejected(r)) => format!("rejected (fine): {}", code(r)),
        (Class::Misread, Outcome::Accepted(w)) => format!(
            "**misread**: {}",
            w.iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        (Class::Rejected, Outcome::Rejected(r)) => format!("**rejected**: {}", code(r)),
        (Class::WronglyAccepted, Outcome::Accepted(_)) => "**accepted** (must reject)".into(),
        (Class::Panic, Outcome::Panic(p)) => format!("**panic**: {}", code(p)),
        _ => unreachable!(),
    }
}

fn command(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn locked_version(name: &str) -> String {
    let lock =
        std::fs::read_to_string(Path::new(MANIFEST_DIR).join("Cargo.lock")).unwrap_or_default();
    let key = format!("name = \"{name}\"\nversion = \"");
    lock.find(&key)
        .and_then(|at| lock[at + key.len()..].split('"').next())
        .unwrap_or("unknown")
        .to_string()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn summary_table(r: &Results) -> String {
    let mut out = String::new();
    let field_n = expect::FIELD.len();
    let ast_n = expect::ASTERISK.len();
    let _ = writeln!(
        out,
        "| parser | field raw ({field_n}): right / misread / rejected / wrongly accepted | \
         RFC 4475 (49): verdict agrees / disagrees | RFC 4475: misread among accepted | \
         Asterisk INVITEs ({ast_n}): right | panics | time per parse, Asterisk INVITEs | \
         time per parse + fields, Asterisk INVITEs | time per parse + fields, field raw |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for (p, label) in r.labels.iter().enumerate() {
        let c = |set, want: &[Class]| r.count(set, p, want);
        let disagree = r.rfc_disagree(p);
        let agree = expect::RFC4475.len() - disagree;
        let rej = c(Set::Rfc4475, &[Class::Rejected]);
        let acc = c(Set::Rfc4475, &[Class::WronglyAccepted]);
        let either = disagree - rej - acc - c(Set::Rfc4475, &[Class::Panic]);
        let panics: usize = [Set::Field, Set::Rfc4475, Set::Asterisk]
            .iter()
            .map(|&s| c(s, &[Class::Panic]))
            .sum();
        let _ = writeln!(
            out,
            "| {label} | {} / {} / {} / {} | {agree} / {disagree} ({rej} must-accept rejected, {acc} must-reject accepted, {either} EITHER misread) | {} | {} / {ast_n} | {panics} | {} | {} | {} |",
            c(Set::Field, &[Class::Right, Class::RightlyRejected]),
            c(Set::Field, &[Class::Misread]),
            c(Set::Field, &[Class::Rejected]),
            c(Set::Field, &[Class::WronglyAccepted]),
            c(Set::Rfc4475, &[Class::Misread]),
            c(Set::Asterisk, &[Class::Right]),
            ns(r.mean_ns(Set::Asterisk, p, false)),
            ns(r.mean_ns(Set::Asterisk, p, true)),
            ns(r.mean_ns(Set::Field, p, true)),
        );
    }
    out
}

fn per_input_table(r: &Results, set: Set, with_source: bool) -> String {
    let mut out = String::new();
    let _ = write!(out, "| input |");
    if with_source {
        let _ = write!(out, " § |");
    }
    let _ = write!(out, " must |");
    for label in &r.labels {
        let _ = write!(out, " {label} |");
    }
    let _ = writeln!(out);
    let cols = if with_source { 6 } else { 5 };
    let _ = writeln!(out, "{}|", "|---".repeat(cols));
    for (input, outcomes) in r.inputs.iter().zip(&r.outcomes) {
        if input.expect.set != set {
            continue;
        }
        let _ = write!(out, "| {} |", input.name());
        if with_source {
            let _ = write!(out, " {} |", input.expect.source);
        }
        let _ = write!(out, " {} |", must_text(input.expect.must));
        for o in outcomes {
            let _ = write!(out, " {} |", cell(input.expect.must, o));
        }
        let _ = writeln!(out);
    }
    out
}

fn values_table(r: &Results) -> String {
    let mut out = String::new();
    let _ = write!(out, "| value | source |");
    for label in &r.labels {
        let _ = write!(out, " {label} |");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "|---|---|---|---|---|");
    for case in expect::VALUES {
        let _ = write!(out, "| {} | {} |", code(case.value), case.source);
        for parser in &r.parsers {
            let value = if case.list && parser.name == "callpop" {
                readers::callpop::first_list_entry(case.value)
            } else {
                case.value.to_string()
            };
            let text = match catch_unwind(AssertUnwindSafe(|| (parser.name_addr)(&value))) {
                Err(p) => format!("**panic**: {}", code(&panic_text(p))),
                Ok(Err(e)) => format!("**error**: {}", code(&e)),
                Ok(Ok(got)) => {
                    let mut wrong = Vec::new();
                    if !case.display.contains(&got.display.as_str()) {
                        wrong.push(format!("display {}", shown(&got.display)));
                    }
                    if !case.user.contains(&got.user.as_str()) {
                        wrong.push(format!("user/number {}", shown(&got.user)));
                    }
                    if let Some(tag) = case.tag {
                        if got.tag != tag {
                            wrong.push(format!("tag {}", shown(&got.tag)));
                        }
                    }
                    if let Some((name, want)) = case.param {
                        let found = got
                            .params
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v.as_str());
                        if found != Some(want) {
                            wrong.push(format!("{name} {}", shown(found.unwrap_or(""))));
                        }
                    }
                    if wrong.is_empty() {
                        "right".into()
                    } else {
                        format!("**misread**: {}", wrong.join("; "))
                    }
                }
            };
            let _ = write!(out, " {text} |");
        }
        let _ = writeln!(out);
    }
    out
}

fn callers_table(r: &Results) -> (String, usize) {
    use sip::identity;
    use sip::message::Message;
    let mut out = String::new();
    let mut right = 0;
    let _ = writeln!(
        out,
        "| input | source | want | callpop `identity::caller` |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for case in expect::CALLERS {
        let input = r
            .inputs
            .iter()
            .find(|i| i.expect.file == case.file)
            .expect("caller case names a loaded input");
        let want = describe_caller(case.number, case.name, case.withheld);
        let got = catch_unwind(AssertUnwindSafe(|| {
            Message::parse(&input.raw)
                .map(|m| identity::caller(&m, true))
                .map_err(|e| e.to_string())
        }));
        let text = match got {
            Err(p) => format!("**panic**: {}", code(&panic_text(p))),
            Ok(Err(e)) => format!("**rejected**: {}", code(&e)),
            Ok(Ok(c)) => {
                let got = describe_caller(c.number.as_deref(), c.name.as_deref(), c.withheld);
                if got == want {
                    right += 1;
                    format!("right ({:?})", c.source)
                } else {
                    format!("**wrong**: {got}")
                }
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {want} | {text} |",
            input.name(),
            case.source
        );
    }
    (out, right)
}

fn describe_caller(number: Option<&str>, name: Option<&str>, withheld: bool) -> String {
    if withheld {
        return "withheld".into();
    }
    let number = number.map_or("no number".into(), code);
    let name = name.map_or("no name".into(), code);
    format!("{number}, {name}")
}

fn timing_table(r: &Results) -> String {
    let mut out = String::new();
    let _ = write!(out, "| input |");
    for label in &r.labels {
        let _ = write!(out, " {label}: parse | {label}: parse + fields |");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for ((input, outcomes), t) in r.inputs.iter().zip(&r.outcomes).zip(&r.timings) {
        if input.expect.set == Set::Rfc4475 {
            continue;
        }
        let _ = write!(out, "| {} |", input.name());
        for (p, o) in outcomes.iter().enumerate() {
            let mark = match o {
                Outcome::Rejected(_) => " (rejected)",
                Outcome::Panic(_) => " (panic)",
                Outcome::Accepted(_) => "",
            };
            let _ = write!(out, " {}{mark} | {}{mark} |", ns(t[p].parse), ns(t[p].read));
        }
        let _ = writeln!(out);
    }
    out
}

fn substitute(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

fn variables(r: &Results, callers_right: usize) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    let keys = ["callpop", "rsip", "rsipstack"];
    for (p, key) in keys.iter().enumerate() {
        let mut put = |name: &str, value: String| {
            vars.insert(format!("{key}.{name}"), value);
        };
        put(
            "field.right",
            r.count(Set::Field, p, &[Class::Right, Class::RightlyRejected])
                .to_string(),
        );
        put(
            "field.misread",
            r.count(Set::Field, p, &[Class::Misread]).to_string(),
        );
        put(
            "field.rejected",
            r.count(Set::Field, p, &[Class::Rejected]).to_string(),
        );
        put(
            "field.wrongly_accepted",
            r.count(Set::Field, p, &[Class::WronglyAccepted])
                .to_string(),
        );
        put(
            "rfc.agree",
            (expect::RFC4475.len() - r.rfc_disagree(p)).to_string(),
        );
        put("rfc.disagree", r.rfc_disagree(p).to_string());
        put(
            "rfc.misread",
            r.count(Set::Rfc4475, p, &[Class::Misread]).to_string(),
        );
        put(
            "rfc.rejected",
            r.count(Set::Rfc4475, p, &[Class::Rejected]).to_string(),
        );
        put(
            "rfc.wrongly_accepted",
            r.count(Set::Rfc4475, p, &[Class::WronglyAccepted])
                .to_string(),
        );
        put(
            "asterisk.right",
            r.count(Set::Asterisk, p, &[Class::Right]).to_string(),
        );
        put(
            "asterisk.misread",
            r.count(Set::Asterisk, p, &[Class::Misread]).to_string(),
        );
        put("field.quote_only", r.quote_only(Set::Field, p).to_string());
        put(
            "asterisk.quote_only",
            r.quote_only(Set::Asterisk, p).to_string(),
        );
        put("ns.asterisk.parse", ns(r.mean_ns(Set::Asterisk, p, false)));
        put("ns.asterisk.read", ns(r.mean_ns(Set::Asterisk, p, true)));
        put(
            "rate.asterisk",
            r.mean_ns(Set::Asterisk, p, true).map_or("n/a".into(), |v| {
                thousands((1e9 / v / 1000.0).round() as u64 * 1000)
            }),
        );
        put("ns.field.read", ns(r.mean_ns(Set::Field, p, true)));
        put(
            "ns.field.common",
            ns(r.mean_ns_common(Set::Field, p).map(|(v, _)| v)),
        );
    }
    vars.insert("callers.right".into(), callers_right.to_string());
    vars.insert("callers.total".into(), expect::CALLERS.len().to_string());
    vars
}

fn report(r: &Results) -> String {
    let rsip_v = locked_version("rsip");
    let rsipstack_v = locked_version("rsipstack");
    let (callers, callers_right) = callers_table(r);
    let mut out = String::new();
    let w = &mut out;

    let _ = writeln!(
        w,
        "# SIP parser survey: rsip, rsipstack and callpop's own parser\n"
    );
    let _ = writeln!(
        w,
        "Generated by `tools/sip-survey` (`cd tools/sip-survey && cargo run --release`). \
         Do not edit by hand: change the tool or `tools/sip-survey/choice.md` and run it again.\n"
    );
    let _ = writeln!(
        w,
        "Three parsers read the same bytes: the published **rsip {rsip_v}**, the parser that \
         **rsipstack {rsipstack_v}** carries as `rsipstack::sip` (built with \
         `default-features = false, features = [\"platform-tokio\"]`), and **callpop**'s own \
         `src/telephony/sip/message/` with `identity/`. The inputs are every \
         `shared/fixtures/field/raw/*.sip` ({} files), the 49 RFC 4475 torture messages in \
         `shared/fixtures/rfc4475/*.dat`, and the {} INVITEs captured from Asterisk in \
         `shared/fixtures/asterisk/sip-invite-*.txt`.\n",
        expect::FIELD.len(),
        expect::ASTERISK.len()
    );

    let _ = writeln!(w, "## Summary\n");
    let _ = writeln!(w, "{}", summary_table(r));
    let _ = writeln!(
        w,
        "- **right**: the message was accepted and every field checked for it came out as \
         the fixture documents say (or it was rejected where it must or may be). **misread**: \
         accepted, but at least one field came out wrong, or a typed header the field needs \
         failed to parse. **rejected**: refused though it must be accepted. **wrongly \
         accepted**: taken though it must be refused.\n\
         - RFC 4475: the verdict agrees when a must-ACCEPT message is accepted, a must-REJECT \
         one refused, and an EITHER one refused, or accepted and read right (an EITHER message \
         accepted but misread disagrees). \"misread among accepted\" counts every accepted \
         message whose fields came out wrong, must-ACCEPT ones included (those still agree on \
         the verdict).\n\
         - times: the median of {ROUNDS} timed rounds per message, averaged over the \
         messages of the set, release build. \"parse\" is the framing-level parse alone; \
         \"parse + fields\" also reads Call-ID, CSeq, top Via branch, Request-URI, From (typed), \
         and P-Asserted-Identity / Remote-Party-ID / Privacy where present. callpop's parse \
         already checks the mandatory headers, the crates read headers lazily, so \"parse + \
         fields\" is the like-for-like figure. The field-raw mean includes inputs a parser \
         rejects (a rejection is usually cheaper); over the {} field inputs that all three \
         accept the means are callpop {}, rsip {}, rsipstack {}.\n",
        r.mean_ns_common(Set::Field, 0).map_or(0, |(_, n)| n),
        ns(r.mean_ns_common(Set::Field, 0).map(|(v, _)| v)),
        ns(r.mean_ns_common(Set::Field, 1).map(|(v, _)| v)),
        ns(r.mean_ns_common(Set::Field, 2).map(|(v, _)| v)),
    );

    let quoted: Vec<String> = r
        .labels
        .iter()
        .enumerate()
        .map(|(p, label)| {
            let sets = [
                (Set::Field, "field"),
                (Set::Rfc4475, "RFC 4475"),
                (Set::Asterisk, "Asterisk"),
            ];
            let parts: Vec<String> = sets
                .iter()
                .filter(|(set, _)| r.count(*set, p, &[Class::Misread]) > 0)
                .map(|(set, name)| {
                    format!(
                        "{} of {} {name}",
                        r.quote_only(*set, p),
                        r.count(*set, p, &[Class::Misread])
                    )
                })
                .collect();
            if parts.is_empty() {
                format!("{label}: no misreads")
            } else {
                format!("{label}: {}", parts.join(", "))
            }
        })
        .collect();
    let _ = writeln!(
        w,
        "Misreads whose only fault is a display name handed back still quoted (with its \
         escapes), which a caller could undo itself — {}. Every other misread loses or \
         changes a value.\n",
        quoted.join("; ")
    );

    let _ = writeln!(w, "## What is checked\n");
    let _ = writeln!(
        w,
        "For every accepted message: Call-ID, CSeq (number and method), the branch of the top \
         Via, the Request-URI user (the extension or number that rings; for IPv6 inputs also \
         the host and port), the From display name, user and tag, the body length (framing \
         by Content-Length), and where the message has them the P-Asserted-Identity user, the \
         Remote-Party-ID display name and user, and the Privacy value. Expected values are \
         written down in `tools/sip-survey/src/expect.rs` from the fixture documents \
         (`field/*.txt`, `rfc4475/SUMMARY.md`), not taken from any of the parsers. A user part \
         is compared whole (user parameters included, `+1555;cpc=ordinary`), escaped or \
         decoded; a display name must come out unquoted with `\\\"` and `\\\\` undone; an \
         empty quoted name counts as no name. A panic anywhere counts as a failure \
         (`catch_unwind`).\n"
    );
    let _ = writeln!(w, "How each parser is asked:\n");
    for (p, label) in r.parsers.iter().zip(&r.labels) {
        let _ = writeln!(w, "- {label}: identity headers {}.", p.identity_api);
    }
    let _ = writeln!(
        w,
        "- The crates' typed headers used: rsip `call_id_header`, `cseq_header().typed()`, \
         `via_header().typed().branch()`, `from_header().typed()`, `Request::uri`; rsipstack \
         the same through `HeadersExt` (`top_via_header`, `p_asserted_identity_header`, \
         `privacy_header`). A tel: number counts wherever the crate puts it (user or host).\n"
    );

    let _ = writeln!(w, "## Field cases (`shared/fixtures/field/raw`)\n");
    let _ = writeln!(w, "{}", per_input_table(r, Set::Field, true));
    let _ = writeln!(w, "## RFC 4475 torture messages\n");
    let _ = writeln!(w, "{}", per_input_table(r, Set::Rfc4475, true));
    let _ = writeln!(w, "## Asterisk INVITEs\n");
    let _ = writeln!(w, "{}", per_input_table(r, Set::Asterisk, false));

    let _ = writeln!(w, "## Header values read alone\n");
    let _ = writeln!(
        w,
        "Values from the field case documents that are not whole messages, read with each \
         parser's name-addr reader (callpop `parse_name_addr`, after `Message::headers` has \
         split a list; the crates' typed `From`, given the whole value since neither splits \
         identity lists).\n"
    );
    let _ = writeln!(w, "{}", values_table(r));

    let _ = writeln!(w, "## Who is calling, end to end in callpop\n");
    let _ = writeln!(
        w,
        "`identity::caller(&message, trusted = true)` on the inputs whose case documents say \
         who the caller is: {callers_right} of {} right. The crates have no equivalent; with \
         either of them callpop would still need this code on top.\n",
        expect::CALLERS.len()
    );
    let _ = writeln!(w, "{callers}");

    let _ = writeln!(w, "## Time per message\n");
    let _ = writeln!(
        w,
        "Median of {ROUNDS} rounds, release build. In each round every input is parsed by \
         every parser for at least {} ms, all of them taking turns, so a change in machine \
         load during the run reaches every figure alike.\n",
        ROUND_TIME.as_millis()
    );
    let _ = writeln!(w, "{}", timing_table(r));

    let _ = writeln!(w, "## Machine and versions\n");
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(
        w,
        "- CPU: {} ({nproc} cores seen by the process)",
        cpu_model()
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let _ = writeln!(
            w,
            "- load average at the end of the run: {} (the machine is shared, so single \
             figures can move by 10-20 % between runs; compare within one run)",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if let Ok(kernel) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        let _ = writeln!(w, "- Linux {}", kernel.trim());
    }
    let _ = writeln!(
        w,
        "- {}",
        command("rustc", &["--version"]).unwrap_or_else(|| "rustc: unknown".into())
    );
    let _ = writeln!(
        w,
        "- rsip {rsip_v}, rsipstack {rsipstack_v} (from `tools/sip-survey/Cargo.lock`)"
    );
    let main_dir = Path::new(MANIFEST_DIR).join("../..");
    let main_dir = main_dir.to_string_lossy();
    let sources = ["src/telephony/sip/message", "src/telephony/sip/identity"];
    let mut args = vec!["-C", &main_dir, "log", "-1", "--format=%h %cs", "--"];
    args.extend(sources);
    let commit = command("git", &args).filter(|s| !s.is_empty());
    let mut args = vec!["-C", &main_dir, "status", "--porcelain", "--"];
    args.extend(sources);
    let dirty = command("git", &args).is_some_and(|s| !s.is_empty());
    let _ = writeln!(
        w,
        "- callpop parser: `message/` and `identity/` as of commit {}{}",
        commit.as_deref().unwrap_or("unknown"),
        if dirty {
            ", with uncommitted changes in the working tree"
        } else {
            ""
        }
    );
    if let Some(date) = command("date", &["-u", "+%Y-%m-%d"]) {
        let _ = writeln!(w, "- run on {date}");
    }
    let _ = writeln!(w);

    let _ = writeln!(w, "## Re-running\n");
    let _ = writeln!(
        w,
        "```sh\ncd tools/sip-survey\ncargo run --release\n```\n\n\
         The tool is its own Cargo workspace with its own lock file, so it never changes \
         callpop's build; `.cargo/config.toml` puts its build in `target/sip-survey` at the \
         repository root. It reads the fixtures from `../shared/fixtures` beside the \
         repository (`SIP_FIXTURES=DIR` to point elsewhere) and rewrites this file \
         (`cargo run --release -- --out PATH` to write elsewhere). It stops with an error if a \
         fixture has no expectation in `src/expect.rs` or an expectation names a file that is gone.\n"
    );

    let template = std::fs::read_to_string(Path::new(MANIFEST_DIR).join("choice.md"))
        .unwrap_or_else(|_| "## Choice\n\n(choice.md is missing)\n".into());
    let _ = write!(w, "{}", substitute(&template, &variables(r, callers_right)));
    out
}

// ---------------------------------------------------------------------------------------

fn main() {
    let mut out_path = Path::new(MANIFEST_DIR).join("../../bench/sip-parser-survey.md");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out_path = PathBuf::from(args.next().expect("--out needs a path")),
            other => panic!("unknown argument {other:?}; the only option is --out PATH"),
        }
    }

    let root = fixtures_root();
    let inputs = load(&root);

    // Panics inside the parsers are caught and reported per input; keep them off the
    // terminal until the report is made.
    std::panic::set_hook(Box::new(|_| {}));
    let parsers = parsers();
    let labels = [
        "callpop".to_string(),
        format!("rsip {}", locked_version("rsip")),
        format!(
            "rsipstack {} (`rsipstack::sip`)",
            locked_version("rsipstack")
        ),
    ];

    let outcomes: Vec<[Outcome; 3]> = inputs
        .iter()
        .map(|i| parsers.each_ref().map(|p| run(p, &i.raw, i.expect)))
        .collect();

    eprintln!(
        "timing {} parsers on the field and Asterisk inputs...",
        parsers.len()
    );
    // One closure per (input, parser, parse or read), all timed in the same rounds, so that
    // a change in machine load while the tool runs reaches every figure alike. A parser
    // that panicked on an input is not timed on it.
    let mut slots: Vec<(usize, usize, bool)> = Vec::new();
    let mut fns: Vec<Box<dyn Fn() + '_>> = Vec::new();
    for (i, (input, outcome)) in inputs.iter().zip(&outcomes).enumerate() {
        if input.expect.set == Set::Rfc4475 {
            continue;
        }
        let raw = input.raw.as_slice();
        for (p, parser) in parsers.iter().enumerate() {
            if matches!(outcome[p], Outcome::Panic(_)) {
                continue;
            }
            let (parse, read) = (parser.parse, parser.read);
            slots.push((i, p, false));
            fns.push(Box::new(move || {
                let _ = black_box(parse(black_box(raw)));
            }));
            slots.push((i, p, true));
            fns.push(Box::new(move || {
                let _ = black_box(read(black_box(raw)));
            }));
        }
    }
    let refs: Vec<&dyn Fn()> = fns.iter().map(|f| f.as_ref()).collect();
    let mut timings = vec![[Timing::default(); 3]; inputs.len()];
    for ((i, p, read), t) in slots.into_iter().zip(time_all(&refs)) {
        if read {
            timings[i][p].read = Some(t);
        } else {
            timings[i][p].parse = Some(t);
        }
    }
    drop(refs);
    drop(fns);

    let results = Results {
        parsers,
        labels,
        inputs,
        outcomes,
        timings,
    };
    let text = report(&results);
    drop(std::panic::take_hook());
    if let Some(dir) = out_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&out_path, &text)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", out_path.display()));

    println!("{}", summary_table(&results));
    let shown = out_path.canonicalize().unwrap_or(out_path);
    eprintln!("wrote {}", shown.display());
}
