//! callpop: call events in from the phone system, screen pops and call
//! records out, and a small CRM of customers and topics around them.

pub mod agent;
pub mod app;
pub mod auth;
pub mod calls;
pub mod cli;
pub mod config;
pub mod crm;
pub mod lookup;
pub mod pop;
pub mod store;
pub mod telephony;
pub mod web;
