//! How long a caller lookup takes with a million customers in SQLite.
//!
//! Fills a database with 1,000,000 customers (1-2 numbers each, written in
//! national, international and access-prefix forms of five countries), then
//! times `Lookup::find` for 100,000 callers: numbers stored (exact), numbers
//! only a national form reads (national), caller IDs missing or gaining a
//! prefix (suffix), and numbers nobody has. Prints p50, p99 and max.
//!
//! The filled database is kept under `target/bench-lookup/`, so a second run
//! starts timing at once. `CALLPOP_BENCH_CUSTOMERS` sets another size.
//!
//! ```text
//! cargo bench --bench lookup
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use callpop::lookup::{Lookup, Normalizer, Reason};
use callpop::store::customers::{NewContact, NewCustomer, NewNumber, NumberKind};
use callpop::store::Store;

const LOOKUPS: usize = 100_000;
const BATCH: usize = 10_000;

fn main() -> anyhow::Result<()> {
    let customers: u64 = match std::env::var("CALLPOP_BENCH_CUSTOMERS") {
        Ok(n) => n
            .parse()
            .context("CALLPOP_BENCH_CUSTOMERS must be a number")?,
        Err(_) => 1_000_000,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to build the runtime")?;
    runtime.block_on(run(customers))
}

async fn run(customers: u64) -> anyhow::Result<()> {
    let store = filled_store(customers).await?;

    let lookup = Lookup::new(store, Normalizer::new("US")?);
    let callers = callers(customers);
    let mut times = Vec::with_capacity(callers.len());
    let mut tally = Tally::default();
    for (kind, caller) in &callers {
        let started = Instant::now();
        let outcome = lookup.find(caller).await?;
        let took = started.elapsed();
        times.push((*kind, took));
        tally.add(*kind, outcome.matches.first().map(|m| m.reason));
    }

    println!("{} lookups among {customers} customers", times.len());
    print_percentiles("all", times.iter().map(|(_, t)| *t).collect());
    for kind in [Kind::Exact, Kind::National, Kind::Suffix, Kind::Nobody] {
        let of_kind = times
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, t)| *t)
            .collect();
        print_percentiles(&format!("{kind:?} callers"), of_kind);
    }
    tally.print();
    Ok(())
}

fn print_percentiles(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| micros(times[((times.len() as f64 * q) as usize).min(times.len() - 1)]);
    let max = micros(times[times.len() - 1]);
    println!(
        "{what:>16}: p50 {:>5.0} µs  p99 {:>5.0} µs  max {max:>6.0} µs",
        at(0.5),
        at(0.99)
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The store with `customers` customers, filled on the first run only.
async fn filled_store(customers: u64) -> anyhow::Result<Store> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("bench-lookup");
    let path = dir.join(format!("customers-{customers}-v1.db"));
    let done = dir.join(format!("customers-{customers}-v1.done"));

    // A fill that was interrupted leaves no marker: start that one again.
    if !done.exists() {
        std::fs::create_dir_all(&dir)?;
        for stale in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{stale}", path.display()));
        }
    }
    let store = Store::connect(&format!("sqlite://{}", path.display())).await?;
    if !done.exists() {
        fill(&store, customers).await?;
        std::fs::write(&done, b"")?;
    }
    Ok(store)
}

async fn fill(store: &Store, customers: u64) -> anyhow::Result<()> {
    let normalizer = Normalizer::new("US")?;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..customers {
        batch.push(customer(&normalizer, i));
        if batch.len() == BATCH || i + 1 == customers {
            store.insert_customers(&batch).await?;
            batch.clear();
        }
        if (i + 1) % 100_000 == 0 {
            eprintln!("filled {} customers in {:.0?}", i + 1, started.elapsed());
        }
    }
    eprintln!("filled {customers} customers in {:.0?}", started.elapsed());
    Ok(())
}

/// Customer `i`: the same on every run, so callers can be derived from it.
fn customer(normalizer: &Normalizer, i: u64) -> NewCustomer {
    let numbers = numbers_of(i);
    let mut stored = numbers.iter().map(|(raw, region, kind)| NewNumber {
        number: normalizer.normalize_in(raw, region.parse().expect("known region")),
        kind: *kind,
    });
    let main = stored.next().expect("every customer has a number");
    let mut customer = NewCustomer {
        name: format!("Customer {i}"),
        numbers: vec![main],
        ..Default::default()
    };
    if i % 2 == 0 {
        customer.contacts.push(NewContact {
            name: format!("Contact {i}"),
            email: format!("contact{i}@example.com"),
            numbers: stored.collect(),
        });
    } else {
        customer.numbers.extend(stored);
    }
    customer
}

/// The numbers of customer `i`, as written, with their record's region.
fn numbers_of(i: u64) -> Vec<(String, &'static str, NumberKind)> {
    let mut rng = SplitMix(i);
    let mut numbers = vec![written(&mut rng, i % 20)];
    if rng.next() % 2 == 0 {
        let style = rng.next() % 20;
        numbers.push(written(&mut rng, style));
    }
    numbers
        .into_iter()
        .enumerate()
        .map(|(n, (raw, region))| {
            (
                raw,
                region,
                if n == 0 {
                    NumberKind::Work
                } else {
                    NumberKind::Mobile
                },
            )
        })
        .collect()
}

/// A number in one of 20 styles: mostly US, then Germany, Britain, Italy,
/// France; national, `+`, and access-prefix forms; one style in 20 is a
/// seven-digit local US number that has no E.164.
fn written(rng: &mut SplitMix, style: u64) -> (String, &'static str) {
    let d = |rng: &mut SplitMix, n: u32| {
        format!("{:0width$}", rng.next() % 10u64.pow(n), width = n as usize)
    };
    let area = 201 + rng.next() % 699;
    let exchange = 200 + rng.next() % 800;
    match style {
        0..=3 => (format!("({area}) {exchange}-{}", d(rng, 4)), "US"),
        4..=6 => (format!("+1 {area} {exchange} {}", d(rng, 4)), "US"),
        7..=8 => (format!("1-{area}-{exchange}-{}", d(rng, 4)), "US"),
        9 => (format!("{exchange}-{}", d(rng, 4)), "US"),
        10..=11 => (format!("030 {}", d(rng, 8)), "DE"),
        12 => (format!("0049 89 {}", d(rng, 7)), "DE"),
        13..=14 => (format!("020 7{} {}", d(rng, 3), d(rng, 4)), "GB"),
        15 => (format!("+44 (0)161 {} {}", d(rng, 3), d(rng, 4)), "GB"),
        16..=17 => (format!("06 {} {}", d(rng, 4), d(rng, 4)), "IT"),
        18 => (format!("+39 02 {}", d(rng, 8)), "IT"),
        _ => (
            format!("01 {} {} {} {}", d(rng, 2), d(rng, 2), d(rng, 2), d(rng, 2)),
            "FR",
        ),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Exact,
    National,
    Suffix,
    Nobody,
}

/// The callers to time, an even mix of the four kinds, in a shuffled order.
fn callers(customers: u64) -> Vec<(Kind, String)> {
    let mut rng = SplitMix(u64::MAX / 3);
    let mut callers = Vec::with_capacity(LOOKUPS);
    while callers.len() < LOOKUPS {
        let i = rng.next() % customers;
        let (raw, region, _) = numbers_of(i).swap_remove(0);
        let local = i % 20 == 9;
        let caller = match (callers.len() % 4, region, local) {
            (0 | 1, _, true) => (Kind::National, raw),
            (0, _, _) => (Kind::Exact, as_received(&raw, region)),
            // An outside-line 9 in front, or the area code lost on the way.
            (1, "US", _) => (Kind::Suffix, format!("9{}", digits(&raw))),
            (2, "US", false) => {
                let digits = digits(&raw);
                (Kind::Suffix, digits[digits.len() - 7..].to_string())
            }
            (3, _, _) => (
                Kind::Nobody,
                format!("+1 999 {} {:04}", 200 + i % 800, i % 10_000),
            ),
            _ => continue,
        };
        callers.push(caller);
    }
    callers
}

/// How a PBX would deliver a stored number: `+`, country code, digits.
fn as_received(raw: &str, region: &str) -> String {
    let normalizer = Normalizer::new(region).expect("known region");
    let number = normalizer.normalize(raw);
    number.e164.unwrap_or_else(|| digits(raw))
}

fn digits(raw: &str) -> String {
    raw.chars().filter(char::is_ascii_digit).collect()
}

/// What the timed lookups found, by the kind of caller.
#[derive(Default)]
struct Tally(std::collections::BTreeMap<String, usize>);

impl Tally {
    fn add(&mut self, kind: Kind, reason: Option<Reason>) {
        let reason = match reason {
            Some(Reason::Suffix(_)) => "suffix".to_string(),
            Some(reason) => reason.to_string(),
            None => "no match".to_string(),
        };
        *self
            .0
            .entry(format!("{kind:?} callers -> {reason}"))
            .or_default() += 1;
    }

    fn print(&self) {
        for (what, count) in &self.0 {
            println!("  {what}: {count}");
        }
    }
}

/// A small deterministic generator, so every run builds the same customers.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
