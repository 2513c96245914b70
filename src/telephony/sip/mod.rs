//! The SIP link: an endpoint the PBX rings beside the rep's phone. It never
//! answers; it reads who is calling and when the ringing stops.
//!
//! `transport` only frames and answers bytes; `endpoint` keeps the INVITE
//! transactions and hands each request to the file for its method.

pub mod endpoint;
pub mod identity;
pub mod message;
pub mod transport;
pub mod trial;

mod cancel;
mod invite;
mod malformed;
mod other;

pub use endpoint::Endpoint;
pub use transport::serve;
