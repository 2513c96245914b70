//! A [`Directory`] held in memory, for tests of lookup and of what builds on
//! it. It scans every number on each query, which is fine for a few hundred
//! and the reason the daemon uses the store instead.

use super::{suffix_overlap, Directory, Entry, Number};

/// Stored numbers with their owners, in memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryDirectory {
    numbers: Vec<(Entry, Number)>,
}

impl MemoryDirectory {
    pub fn new() -> MemoryDirectory {
        MemoryDirectory::default()
    }

    /// Adds `number` for a customer, and for one of its contacts when given
    /// as `(contact_id, contact_name)`.
    pub fn add(
        &mut self,
        customer: (i64, &str),
        contact: Option<(i64, &str)>,
        number: Number,
    ) -> &mut MemoryDirectory {
        let entry = Entry {
            customer_id: customer.0,
            customer_name: customer.1.to_string(),
            contact_id: contact.map(|c| c.0),
            contact_name: contact.map(|c| c.1.to_string()),
            raw: number.raw.clone(),
            e164: number.e164.clone(),
            country_code: number.country_code,
            national: number.national.clone(),
            rev_digits: number.rev_digits.clone(),
        };
        self.numbers.push((entry, number));
        self
    }
}

impl Directory for MemoryDirectory {
    async fn candidates(
        &self,
        caller: &Number,
        min_suffix: usize,
        limit: usize,
    ) -> anyhow::Result<Vec<Entry>> {
        let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
        let found = self.numbers.iter().filter(|(_, n)| {
            same(&n.e164, &caller.e164)
                || same(&n.national, &caller.national)
                || suffix_overlap(&n.rev_digits, &caller.rev_digits, min_suffix).is_some()
        });
        Ok(found.take(limit).map(|(entry, _)| entry.clone()).collect())
    }
}
