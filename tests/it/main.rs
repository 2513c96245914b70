//! callpop's integration tests: the daemon on port 0 with a fresh database,
//! driven by real peers (sipp, raw Asterisk INVITEs, the built binary).

mod ami_server;
mod chromium;
mod helpers;

mod agent;
mod ami;
mod browser_call_page;
mod browser_pop;
mod crm_calls;
mod customers;
mod daemon;
mod import;
mod lookup;
mod openapi;
mod opportunities;
mod pops;
mod sip;
mod sip_edges;
mod streams;
mod users;
mod workflow;
