//! Call records and the tracker that assembles them from link events.
//!
//! A call is one row from the moment it rings (so a crash a second later
//! loses nothing) to the moment it ends; each extension it rang at is a leg.

pub mod identify;
pub mod tracker;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::telephony::{Direction, TransferKind};

/// How a call ended. Open calls have no outcome yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Someone answered.
    Answered,
    /// The caller gave up before anyone answered.
    Abandoned,
    /// It rang and ended unanswered without the caller hanging up first
    /// (the PBX gave up, or sent it elsewhere).
    Missed,
    /// An outbound call the other end did not pick up (no answer, busy).
    Unanswered,
    /// callpop stopped, or lost sight of the call, before it ended.
    Interrupted,
}

/// How the ringing at one extension ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegOutcome {
    Answered,
    /// Another extension answered while this one rang: not a missed call.
    AnsweredElsewhere,
    /// Rang and nobody answered: a missed call for this extension.
    Missed,
}

macro_rules! str_enum {
    ($ty:ty { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

str_enum!(Outcome {
    Answered => "answered",
    Abandoned => "abandoned",
    Missed => "missed",
    Unanswered => "unanswered",
    Interrupted => "interrupted",
});

str_enum!(LegOutcome {
    Answered => "answered",
    AnsweredElsewhere => "answered_elsewhere",
    Missed => "missed",
});

/// What is known of a call when it starts ringing.
#[derive(Clone, Debug)]
pub struct NewCall {
    pub link: String,
    pub pbx_call_id: String,
    pub direction: Direction,
    pub remote_raw: Option<String>,
    pub remote_e164: Option<String>,
    pub remote_name: Option<String>,
    pub withheld: bool,
    pub extension: String,
    /// The best match when there is exactly one customer; every match is
    /// kept in `matches`.
    pub customer_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub matches: Vec<CallMatch>,
    pub started_at: DateTime<Utc>,
}

/// One customer a call's number matched, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CallMatch {
    pub customer_id: i64,
    pub customer_name: String,
    pub contact_id: Option<i64>,
    pub contact_name: Option<String>,
    pub reason: String,
}

/// A call as recorded.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CallRecord {
    pub id: i64,
    pub link: String,
    pub pbx_call_id: String,
    pub direction: String,
    pub remote_raw: Option<String>,
    pub remote_e164: Option<String>,
    pub remote_name: Option<String>,
    pub withheld: bool,
    pub extension: Option<String>,
    pub answered_by: Option<String>,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    /// callpop started it (click-to-dial).
    pub originated: bool,
    /// No number came with the call, and the caller did not withhold it.
    pub unavailable: bool,
    pub matches: Vec<CallMatch>,
    pub legs: Vec<Leg>,
    pub transfers: Vec<Transfer>,
}

/// A hand-on of a call from one extension to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Transfer {
    pub from: String,
    pub to: String,
    pub at: DateTime<Utc>,
    pub kind: TransferKind,
}

/// One extension a call rang at.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Leg {
    pub extension: String,
    pub rang_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
}

/// Which calls to list.
#[derive(Clone, Debug, Default)]
pub struct CallFilter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub extension: Option<String>,
    pub direction: Option<Direction>,
    /// Only calls that rang, were answered or were transferred at one of
    /// this user's extensions.
    pub user_id: Option<i64>,
    pub limit: i64,
}
