//! Customers, contacts and the records reps keep around calls.

pub mod import;
