//! Links to phone systems. Each link turns what one kind of PBX says into
//! [`CallEvent`]s for the tracker; nothing past this module knows SIP or AMI.

pub mod ami;
pub mod sip;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Which way a call goes, seen from the company.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
    /// Between two of the company's own phones: recorded, never looked up
    /// or popped.
    Internal,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
        }
    }
}

/// The party outside the company, as the PBX presented it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Party {
    /// The number as sent, `None` when there is none (anonymous, withheld).
    pub number: Option<String>,
    /// The display name exactly as sent, unquoted and unescaped.
    pub name: Option<String>,
    /// The caller asked not to be shown: no number is looked up or shown.
    pub withheld: bool,
}

/// One thing a link saw happen to a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallEvent {
    /// The link's configured name (`sip` for the built-in listener).
    pub link: String,
    /// The PBX's own id for the call (SIP Call-ID, AMI Linkedid).
    pub pbx_call_id: String,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The call rings at `extension`. The first one for a call opens it.
    Ringing {
        direction: Direction,
        extension: String,
        remote: Party,
    },
    /// `extension` picked the call up.
    Answered { extension: String },
    /// The ringing at `extension` stopped because another phone answered;
    /// who answered is not known to the link.
    AnsweredElsewhere { extension: String },
    /// The ringing at `extension` stopped and nobody there answered.
    StoppedRinging { extension: String },
    /// The call moved from one extension to another.
    Transferred {
        from: String,
        to: String,
        kind: TransferKind,
    },
    /// callpop itself asked the PBX for this call (click-to-dial).
    Originated,
    /// The caller turned out to have restricted their number after the call
    /// was recorded with it: forget the number and whom it matched.
    Withheld,
    /// The call is over. `abandoned` when the caller gave up before anyone
    /// answered.
    Ended { abandoned: bool },
    /// The link lost sight of the call and will not see it end: close it
    /// with what is known.
    Lost,
}

/// How a call was handed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransferKind {
    /// Put through without speaking to the new extension first.
    Blind,
    /// Put through after a consultation call with the new extension.
    Attended,
}

impl TransferKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Blind => "blind",
            TransferKind::Attended => "attended",
        }
    }
}
