//! The tracker's lookup against the store: the caller's number matched to
//! customers, with each customer's open topics for the pop.

use std::sync::Arc;

use super::tracker::{Identified, Identify};
use super::CallMatch;
use crate::lookup::Lookup;
use crate::store::Store;

#[derive(Clone)]
pub struct StoreIdentify {
    lookup: Arc<Lookup<Store>>,
    store: Store,
}

impl StoreIdentify {
    pub fn new(lookup: Arc<Lookup<Store>>, store: Store) -> StoreIdentify {
        StoreIdentify { lookup, store }
    }
}

impl Identify for StoreIdentify {
    async fn identify(&self, number: &str) -> anyhow::Result<Identified> {
        let found = self.lookup.find(number).await?;
        let customers: Vec<i64> = found.matches.iter().map(|m| m.customer_id).collect();
        let topics = self.store.open_topics(&customers).await?;

        let matches = found.matches.into_iter().map(|m| {
            let open = topics.get(&m.customer_id).cloned().unwrap_or_default();
            let m = CallMatch {
                customer_id: m.customer_id,
                customer_name: m.customer_name,
                contact_id: m.contact_id,
                contact_name: m.contact_name,
                reason: m.reason.to_string(),
            };
            (m, open)
        });
        Ok(Identified {
            for_people: self.lookup.normalizer().for_people(&found.caller),
            e164: found.caller.e164.clone(),
            matches: matches.collect(),
        })
    }
}
