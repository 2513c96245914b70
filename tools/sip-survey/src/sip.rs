//! callpop's own SIP code, compiled from the daemon's source tree as it is, unchanged.
//! `identity` reaches its sibling as `super::message`, so both live in this module.

// Lints belong to the daemon's own build; here only the code is reused.
#![allow(dead_code, unused_imports, clippy::all)]

#[path = "../../../src/telephony/sip/message/mod.rs"]
pub mod message;

#[path = "../../../src/telephony/sip/identity/mod.rs"]
pub mod identity;
