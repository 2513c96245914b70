//! From a caller's number to the customers it belongs to.
//!
//! The caller's number is read with the home region ([`Normalizer`]), then
//! matched in steps, each tried only when the one before found nothing:
//!
//! 1. `exact`: the same E.164.
//! 2. `national`: the same national significant number. Numbers of one
//!    country read alike agree on E.164 already, so this step finds numbers
//!    stored without an E.164: of a length the metadata does not list for
//!    their country, or written to the database by other tools.
//! 3. `suffix:N`: one number's digits end the other's, over N >= 7 digits;
//!    catches a caller ID that lost or gained a prefix on its way.
//!
//! National and suffix matches never pair two numbers whose country codes are
//! both known and differ: `+49 930 1234567` is not `(930) 123-4567` in the US.
//! Every customer a step finds is returned, with the reason; picking one is
//! for the person who sees them. Internal extensions (a few digits) never
//! match a customer.
//!
//! The directory is asked once per caller, for every stored number any step
//! could match; each of its conditions is an index lookup, so the cost does
//! not grow with the number of customers. The steps then sort what came back.

pub mod memory;
pub mod number;

use std::collections::HashSet;
use std::fmt;
use std::future::Future;

use serde::Serialize;

pub use memory::MemoryDirectory;
pub use number::{Normalizer, Number, NumberError, Region, UnknownRegion};

/// Suffix matches need at least this many digits in common: fewer would pair
/// unrelated numbers of the same area.
pub const MIN_SUFFIX_DIGITS: usize = 7;

/// Callers with at most this many digits are internal extensions by default.
pub const EXTENSION_DIGITS: usize = 6;

/// The most stored numbers read for one caller; a shared switchboard number
/// may belong to many customers, but a pop cannot show hundreds.
pub const MAX_ROWS: usize = 50;

/// Why a stored number matched the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Exact,
    National,
    /// The two numbers share their last N digits, all of the shorter one.
    Suffix(usize),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Exact => f.write_str("exact"),
            Reason::National => f.write_str("national"),
            Reason::Suffix(n) => write!(f, "suffix:{n}"),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A stored number as the directory gives it back, with its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub customer_id: i64,
    pub customer_name: String,
    pub contact_id: Option<i64>,
    pub contact_name: Option<String>,
    /// As stored, the way the customer's record writes it.
    pub raw: String,
    pub e164: Option<String>,
    pub country_code: Option<u16>,
    pub national: Option<String>,
    pub rev_digits: String,
}

/// A customer (and maybe the contact person) the caller's number matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = LookupMatch)]
pub struct Match {
    pub customer_id: i64,
    pub customer_name: String,
    pub contact_id: Option<i64>,
    pub contact_name: Option<String>,
    /// The stored number that matched, as the record writes it.
    pub number: String,
    /// `exact`, `national` or `suffix:N` (the last N digits).
    #[schema(value_type = String)]
    pub reason: Reason,
}

/// Where stored numbers are looked up.
pub trait Directory {
    /// Stored numbers that may match `caller`, at most `limit`: the same
    /// E.164, the same national number, or reversed digits of at least
    /// `min_suffix` digits that start the caller's or start with them.
    /// Each condition is an index lookup. When there are more than `limit`,
    /// those earlier in that list are kept, and longer suffixes first.
    fn candidates(
        &self,
        caller: &Number,
        min_suffix: usize,
        limit: usize,
    ) -> impl Future<Output = anyhow::Result<Vec<Entry>>> + Send;
}

/// Whether `stored` and `caller` (reversed digits) end alike over the whole
/// of the shorter and at least `min` digits; returns how many.
pub fn suffix_overlap(stored: &str, caller: &str, min: usize) -> Option<usize> {
    let n = stored.len().min(caller.len());
    let ends_alike = stored.starts_with(caller) || caller.starts_with(stored);
    (n >= min && ends_alike).then_some(n)
}

/// The caller's number as read, and everyone it matched.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub caller: Number,
    pub matches: Vec<Match>,
}

/// What `GET /api/v1/lookup?number=` shows: the forms the number was read
/// into, each step tried and what it found.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    pub caller: Number,
    /// The caller as a rep would write it.
    pub written: String,
    /// Set when the caller is an internal extension, which never matches.
    pub internal_extension: bool,
    pub steps: Vec<Step>,
    pub matches: Vec<Match>,
    /// Set when more stored numbers could match than one lookup reads.
    pub truncated: bool,
}

/// One matching step and what came of it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Step {
    /// `exact`, `national` or `suffix`.
    #[schema(value_type = String)]
    pub step: &'static str,
    /// The values looked up; empty when the caller has no such form.
    pub tried: Vec<String>,
    /// Customers (and contacts) this step matched.
    pub found: usize,
    /// Stored numbers passed over because their country differs.
    pub other_country: usize,
}

/// Matches callers against a directory of stored numbers.
#[derive(Clone, Debug)]
pub struct Lookup<D> {
    directory: D,
    normalizer: Normalizer,
    extension_digits: usize,
}

impl<D: Directory> Lookup<D> {
    pub fn new(directory: D, normalizer: Normalizer) -> Lookup<D> {
        Lookup {
            directory,
            normalizer,
            extension_digits: EXTENSION_DIGITS,
        }
    }

    /// Callers with at most `digits` digits are internal extensions.
    pub fn with_extension_digits(mut self, digits: usize) -> Lookup<D> {
        self.extension_digits = digits;
        self
    }

    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }

    pub fn directory(&self) -> &D {
        &self.directory
    }

    /// Everyone a call from `raw_caller` belongs to, best reason first.
    pub async fn find(&self, raw_caller: &str) -> anyhow::Result<Outcome> {
        let caller = self.normalizer.normalize(raw_caller);
        let found = self.match_in_steps(&caller).await?;
        Ok(Outcome {
            caller,
            matches: found.matches,
        })
    }

    /// What a call from `raw_caller` would match, and why.
    pub async fn explain(&self, raw_caller: &str) -> anyhow::Result<Explanation> {
        let caller = self.normalizer.normalize(raw_caller);
        let found = self.match_in_steps(&caller).await?;
        Ok(Explanation {
            written: self.normalizer.for_people(&caller),
            internal_extension: self.is_extension(&caller),
            steps: found.steps,
            matches: found.matches,
            truncated: found.truncated,
            caller,
        })
    }

    fn is_extension(&self, caller: &Number) -> bool {
        caller.rev_digits.len() <= self.extension_digits
    }

    async fn match_in_steps(&self, caller: &Number) -> anyhow::Result<Found> {
        let mut found = Found::default();
        if self.is_extension(caller) {
            return Ok(found);
        }
        let entries = self
            .directory
            .candidates(caller, MIN_SUFFIX_DIGITS, MAX_ROWS)
            .await?;
        found.truncated = entries.len() >= MAX_ROWS;

        // Each step counts only when the ones before it found no one: a
        // weaker reason must not crowd a stronger one on the pop.
        for kind in [StepKind::Exact, StepKind::National, StepKind::Suffix] {
            let (step, matches) = kind.run(caller, &entries);
            found.steps.push(step);
            if !matches.is_empty() {
                let (step, matched) = (kind.name(), matches.len());
                tracing::debug!(caller = %caller.raw, step, matched, "caller matched");
                found.matches = matches;
                return Ok(found);
            }
        }
        tracing::debug!(caller = %caller.raw, "caller matched no customer");
        Ok(found)
    }
}

/// What the steps made of one caller.
#[derive(Default)]
struct Found {
    steps: Vec<Step>,
    matches: Vec<Match>,
    truncated: bool,
}

#[derive(Clone, Copy)]
enum StepKind {
    Exact,
    National,
    Suffix,
}

impl StepKind {
    fn name(self) -> &'static str {
        match self {
            StepKind::Exact => "exact",
            StepKind::National => "national",
            StepKind::Suffix => "suffix",
        }
    }

    /// What this step finds among the candidates, one match per customer
    /// and contact, never across two countries.
    fn run(self, caller: &Number, entries: &[Entry]) -> (Step, Vec<Match>) {
        let mut step = Step {
            step: self.name(),
            tried: self.tried(caller),
            found: 0,
            other_country: 0,
        };
        let mut scored: Vec<_> = entries
            .iter()
            .filter_map(|entry| self.reason(caller, entry).map(|reason| (entry, reason)))
            .collect();
        // Longest suffix first: the most digits in common is the likeliest.
        scored.sort_by_key(|(_, reason)| match reason {
            Reason::Suffix(n) => std::cmp::Reverse(*n),
            _ => std::cmp::Reverse(0),
        });

        let mut seen = HashSet::new();
        let mut matches = Vec::new();
        for (entry, reason) in scored {
            if !same_country(caller.country_code, entry.country_code) {
                step.other_country += 1;
            } else if seen.insert((entry.customer_id, entry.contact_id)) {
                matches.push(Match::new(entry, reason));
            }
        }
        step.found = matches.len();
        (step, matches)
    }

    /// The caller's forms this step compares; for suffixes, each ending of
    /// the caller's digits the directory was asked for.
    fn tried(self, caller: &Number) -> Vec<String> {
        match self {
            StepKind::Exact => caller.e164.iter().cloned().collect(),
            StepKind::National => caller.national.iter().cloned().collect(),
            StepKind::Suffix => {
                let digits = caller.digits();
                let longest = digits.len();
                let ends = (MIN_SUFFIX_DIGITS..=longest).rev();
                ends.map(|n| digits[longest - n..].to_string()).collect()
            }
        }
    }

    fn reason(self, caller: &Number, entry: &Entry) -> Option<Reason> {
        let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
        match self {
            StepKind::Exact => same(&caller.e164, &entry.e164).then_some(Reason::Exact),
            StepKind::National => {
                same(&caller.national, &entry.national).then_some(Reason::National)
            }
            StepKind::Suffix => {
                suffix_overlap(&entry.rev_digits, &caller.rev_digits, MIN_SUFFIX_DIGITS)
                    .map(Reason::Suffix)
            }
        }
    }
}

/// Two numbers may be the same unless both name a country and they differ.
fn same_country(a: Option<u16>, b: Option<u16>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

impl Match {
    fn new(entry: &Entry, reason: Reason) -> Match {
        Match {
            customer_id: entry.customer_id,
            customer_name: entry.customer_name.clone(),
            contact_id: entry.contact_id,
            contact_name: entry.contact_name.clone(),
            number: entry.raw.clone(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests;
