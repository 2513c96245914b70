//! Screen pops: the hub that fans them out, the server-sent event stream
//! that carries them to desktops and browser tabs, and the notifications
//! that show them on a desktop (this machine's own, or the desktop agent's).

pub mod desktop;
pub mod hub;
pub mod notify;
pub mod safe_text;
pub mod screen;
pub mod sse;

pub use hub::{Hub, Pop, PopEvent, PopMatch};
