//! Screen pops: the hub that fans them out, the server-sent event stream
//! that carries them to desktops and browser tabs, and the notification on
//! this machine's own desktop.

pub mod desktop;
pub mod hub;
pub mod notify;
pub mod safe_text;
pub mod sse;

pub use hub::{Hub, Pop, PopEvent, PopMatch};
