//! Call assembly: from the channels Asterisk reports to the calls callpop
//! records, as [`CallEvent`]s for the tracker.
//!
//! Asterisk never says "a call from X rang 201". It reports channels: one
//! per phone or trunk leg, each with a `Uniqueid`, grouped into a call by
//! the `Linkedid` (the `Uniqueid` of the call's first channel). So:
//!
//! - the direction follows from the first channel: from a trunk (or from
//!   somewhere not configured) the call is inbound; from one of the
//!   company's phones it is outbound or internal, decided by what it dials;
//! - an extension rings when a `DialBegin` (or a queue's `AgentCalled`)
//!   targets a phone's channel; Local channels are followed to the phone
//!   they dial, never counted themselves;
//! - `DialEnd` says how that ringing ended: answered, not answered, or
//!   cancelled (the caller gave up, or another phone took the call);
//! - the call ends when its last real channel hangs up.
//!
//! The assembler is plain data in, events out: no sockets, no clock. The
//! link feeds it, answers what it asks, and ticks it.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeZone, Utc};
use tracing::debug;

use super::classify::{Endpoints, Side};
use super::frame::Message;
use crate::telephony::{CallEvent, Direction, EventKind, Party, TransferKind};

/// What the assembler wants the link to ask Asterisk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    /// Whether the caller restricted presentation of their number: no call
    /// event carries it, so `Getvar CALLERID(pres)` on the caller's channel.
    Presentation { linkedid: String, channel: String },
}

/// What one step of assembly produced.
#[derive(Debug, Default)]
pub struct Output {
    pub events: Vec<CallEvent>,
    pub asks: Vec<Ask>,
}

/// One line of a `CoreShowChannels` answer: a channel up right now.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub channel: String,
    pub uniqueid: String,
    pub linkedid: String,
    pub context: String,
    pub exten: String,
    pub caller_num: String,
    pub caller_name: String,
    pub connected_num: String,
    pub connected_name: String,
    /// `Up`, `Ring`, `Ringing`...
    pub state: String,
    pub bridged: bool,
    pub duration_secs: i64,
}

/// How the assembler is set up.
#[derive(Clone, Debug)]
pub struct Settings {
    pub endpoints: Endpoints,
    pub ask_presentation: bool,
    /// How long a call's pop may wait for the presentation answer.
    pub presentation_wait: chrono::Duration,
    /// A call (or stray channel) with no news for this long is given up.
    pub stale_after: chrono::Duration,
}

struct Channel {
    linkedid: String,
    name: String,
    side: Side,
    caller_num: String,
    caller_name: String,
    connected_num: String,
    /// The extension this channel rings for, once a dial targets it; for an
    /// outbound call's trunk channel, the extension that dialled.
    leg: Option<String>,
    leg_over: bool,
    up: bool,
    last_news: DateTime<Utc>,
}

/// How long an ended call still listens for a presentation answer that
/// came too late to hold its pop.
const LATE_ANSWER: chrono::Duration = chrono::Duration::seconds(10);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Presentation {
    NotAsked,
    Waiting {
        until: DateTime<Utc>,
    },
    /// The wait ran out and the call went ahead with the number; an answer
    /// that comes later can still withhold it.
    Overdue,
    Known,
}

struct Call {
    /// `None` while a phone's call has not yet dialled anything.
    direction: Option<Direction>,
    /// The extension of the phone that started the call, if one did.
    dialer: Option<String>,
    remote: Party,
    /// A ringing event has gone to the tracker.
    opened: bool,
    answered: bool,
    caller_gave_up: bool,
    originated: bool,
    presentation: Presentation,
    /// Events kept back until the presentation answer arrives.
    held: Vec<CallEvent>,
    /// Real (non-Local) channels still up.
    channels: usize,
    /// Its last channel hung up; it stays only to hear its presentation.
    over: bool,
    last_news: DateTime<Utc>,
}

pub struct Assembler {
    link: String,
    settings: Settings,
    channels: HashMap<String, Channel>,
    calls: HashMap<String, Call>,
    /// The latest arrival or tick: the link's clock, as far as it told us.
    now: DateTime<Utc>,
    /// While a channel list is being read: what changed since it was asked.
    listing: Option<Listing>,
}

/// Channels known when a list was asked for, and those that hung up since:
/// the list reflects the moment it was asked, events keep flowing after.
struct Listing {
    known: HashSet<String>,
    hung_up: HashSet<String>,
}

impl Assembler {
    pub fn new(link: &str, settings: Settings) -> Assembler {
        Assembler {
            link: link.to_owned(),
            settings,
            channels: HashMap::new(),
            calls: HashMap::new(),
            now: DateTime::<Utc>::MIN_UTC,
            listing: None,
        }
    }

    /// Applies one message from Asterisk that arrived at `arrival`.
    pub fn handle(&mut self, msg: &Message<'_>, arrival: DateTime<Utc>, out: &mut Output) {
        let Some(event) = msg.event() else { return };
        // Most of what Asterisk says (variables, dialplan steps, device
        // states, RTCP) does not change who rang whom: leave it unread.
        let relevant = matches!(
            event,
            "Newchannel"
                | "NewCallerid"
                | "NewConnectedLine"
                | "Newstate"
                | "DialBegin"
                | "AgentCalled"
                | "DialEnd"
                | "HangupRequest"
                | "Hangup"
                | "QueueCallerAbandon"
                | "BlindTransfer"
                | "AttendedTransfer"
        );
        if !relevant {
            return;
        }

        self.now = self.now.max(arrival);
        let at = event_time(msg, arrival);
        let get = |name: &str| msg.get(name).unwrap_or("");
        match event {
            "Newchannel" => {
                let uniqueid = get("Uniqueid");
                let linkedid = msg.get("Linkedid").unwrap_or(uniqueid);
                let fresh = NewChannel {
                    uniqueid,
                    linkedid,
                    name: get("Channel"),
                    context: get("Context"),
                    caller_num: get("CallerIDNum"),
                    caller_name: get("CallerIDName"),
                    connected_num: get("ConnectedLineNum"),
                };
                self.add_channel(&fresh, out);
            }
            "NewCallerid" => {
                self.new_callerid(get("Uniqueid"), get("CallerIDNum"), get("CallerIDName"))
            }
            "NewConnectedLine" => {
                if let Some(ch) = self.channels.get_mut(get("Uniqueid")) {
                    ch.connected_num = get("ConnectedLineNum").to_owned();
                    ch.last_news = self.now;
                }
            }
            "Newstate" => {
                if let Some(ch) = self.channels.get_mut(get("Uniqueid")) {
                    ch.up = get("ChannelStateDesc") == "Up";
                    ch.last_news = self.now;
                }
            }
            "DialBegin" | "AgentCalled" => {
                let dest = get("DestUniqueid");
                self.learn_dest(msg, dest);
                let source = msg.get("Uniqueid").filter(|s| !s.is_empty());
                self.dial(source, dest, get("DialString"), at, out);
            }
            "DialEnd" => self.dial_end(get("DestUniqueid"), get("DialStatus"), at, out),
            "HangupRequest" => self.hangup_request(get("Uniqueid")),
            "Hangup" => self.hangup(get("Uniqueid"), get("Cause"), at, out),
            "QueueCallerAbandon" => {
                if let Some(call) = self.calls.get_mut(get("Linkedid")) {
                    call.caller_gave_up = true;
                }
            }
            "BlindTransfer" => self.blind_transfer(msg, at, out),
            "AttendedTransfer" => self.attended_transfer(msg, at, out),
            _ => {}
        }
    }

    /// The answer to a presentation [`Ask`]: Asterisk's `CALLERID(pres)`
    /// (`allowed_not_screened`, `prohib_passed_screen`...), or `None` when
    /// it could not say. Releases what the call was holding back.
    pub fn presentation(&mut self, linkedid: &str, value: Option<&str>, out: &mut Output) {
        let Some(call) = self.calls.get_mut(linkedid) else {
            return;
        };
        let restricted = value.is_some_and(|v| v.to_ascii_lowercase().starts_with("prohib"));
        let late = match call.presentation {
            Presentation::Waiting { .. } => false,
            Presentation::Overdue => true,
            Presentation::NotAsked | Presentation::Known => return,
        };
        call.presentation = Presentation::Known;
        if !restricted || call.remote.withheld {
            self.release(linkedid, out);
            return;
        }

        debug!(link = %self.link, linkedid, "caller restricted presentation");
        call.remote.withheld = true;
        call.remote.number = None;
        if late && call.opened {
            let event = self.event(linkedid, self.now, EventKind::Withheld);
            out.events.push(event);
        }
        self.release(linkedid, out);
    }

    /// Sends what a call held back while it waited for its presentation,
    /// with the caller as now known, and lets go of a call that is over.
    fn release(&mut self, linkedid: &str, out: &mut Output) {
        let Some(call) = self.calls.get_mut(linkedid) else {
            return;
        };
        let remote = call.remote.clone();
        for mut event in call.held.drain(..) {
            if let EventKind::Ringing { remote: r, .. } = &mut event.kind {
                *r = remote.clone();
            }
            out.events.push(event);
        }
        if call.over && call.presentation != Presentation::Overdue {
            self.calls.remove(linkedid);
        }
    }

    /// Marks the call whose first channel is `uniqueid` as started by
    /// callpop (the `Uniqueid` of an `OriginateResponse`).
    pub fn originated(&mut self, uniqueid: &str, at: DateTime<Utc>, out: &mut Output) {
        let linkedid = match self.channels.get(uniqueid) {
            Some(ch) => ch.linkedid.clone(),
            None => uniqueid.to_owned(),
        };
        let Some(call) = self.calls.get_mut(&linkedid) else {
            return;
        };
        if call.originated {
            return;
        }
        call.originated = true;
        if call.opened {
            self.emit(&linkedid, at, EventKind::Originated, out);
        }
    }

    /// Time passes: releases calls whose presentation answer is overdue and
    /// gives up calls with no news for too long.
    pub fn tick(&mut self, now: DateTime<Utc>, out: &mut Output) {
        self.now = self.now.max(now);
        let overdue: Vec<String> = self
            .calls
            .iter()
            .filter(
                |(_, c)| matches!(c.presentation, Presentation::Waiting { until } if until <= now),
            )
            .map(|(id, _)| id.clone())
            .collect();
        for linkedid in overdue {
            // Popping on time matters more; a late answer still counts.
            debug!(link = %self.link, linkedid = %linkedid, "no presentation answer in time");
            if let Some(call) = self.calls.get_mut(&linkedid) {
                call.presentation = Presentation::Overdue;
            }
            self.release(&linkedid, out);
        }

        // An ended call kept for an overdue answer waits only so long.
        self.calls.retain(|_, c| {
            !(c.over && c.presentation == Presentation::Overdue && now - c.last_news > LATE_ANSWER)
        });

        let stale_after = self.settings.stale_after;
        let stale: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, c)| now - c.last_news >= stale_after)
            .map(|(id, _)| id.clone())
            .collect();
        for linkedid in stale {
            if let Some(call) = self.calls.remove(&linkedid) {
                out.events.extend(call.held);
                if call.opened && !call.over {
                    out.events.push(self.event(&linkedid, now, EventKind::Lost));
                }
            }
        }
        let calls = &self.calls;
        self.channels
            .retain(|_, ch| calls.contains_key(&ch.linkedid) || now - ch.last_news < stale_after);
    }

    /// The link asked Asterisk what is up: remember what is known now.
    pub fn begin_snapshot(&mut self) {
        self.listing = Some(Listing {
            known: self.channels.keys().cloned().collect(),
            hung_up: HashSet::new(),
        });
    }

    /// The list will not come.
    pub fn end_snapshot(&mut self) {
        self.listing = None;
    }

    /// After a reconnect: what Asterisk says is up now. Channels that went
    /// away meanwhile hang up, channels that appeared join their calls, and
    /// phones that picked up meanwhile answer; nothing is reported twice.
    pub fn reconcile(&mut self, snapshot: &[Snapshot], now: DateTime<Utc>, out: &mut Output) {
        self.now = self.now.max(now);
        let listing = self.listing.take();
        // Hang-ups first: a phone that stopped ringing while the link was
        // down did so before the phone still up answered, as far as anyone
        // can tell.
        let listed: HashSet<&str> = snapshot.iter().map(|s| s.uniqueid.as_str()).collect();
        let gone: Vec<String> = self
            .channels
            .keys()
            .filter(|id| !listed.contains(id.as_str()))
            .filter(|id| listing.as_ref().is_none_or(|l| l.known.contains(*id)))
            .cloned()
            .collect();
        for uniqueid in gone {
            self.hangup(&uniqueid, "", now, out);
        }

        // Then what is up, each call's first channel before the others.
        let mut ordered: Vec<&Snapshot> = snapshot.iter().collect();
        ordered.sort_by_key(|s| s.uniqueid != s.linkedid);
        for s in ordered {
            if listing
                .as_ref()
                .is_some_and(|l| l.hung_up.contains(&s.uniqueid))
            {
                continue;
            }
            let at = now - chrono::Duration::seconds(s.duration_secs.max(0));
            if !self.channels.contains_key(&s.uniqueid) {
                let fresh = NewChannel {
                    uniqueid: &s.uniqueid,
                    linkedid: &s.linkedid,
                    name: &s.channel,
                    context: &s.context,
                    caller_num: &s.caller_num,
                    caller_name: &s.caller_name,
                    connected_num: &s.connected_num,
                };
                self.add_channel(&fresh, out);
            }
            let Some(ch) = self.channels.get(&s.uniqueid) else {
                continue;
            };
            let first = s.uniqueid == s.linkedid;
            if !first && ch.leg.is_none() && !matches!(ch.side, Side::Local) {
                self.dial(Some(&s.linkedid), &s.uniqueid, "", at, out);
            }
            let ringing_leg = self
                .channels
                .get(&s.uniqueid)
                .is_some_and(|ch| ch.leg.is_some() && !ch.leg_over);
            if ringing_leg && s.state == "Up" {
                self.dial_end(&s.uniqueid, "ANSWER", now, out);
            }
        }
    }

    /// Calls being followed now.
    pub fn live_calls(&self) -> usize {
        self.calls.len()
    }

    fn add_channel(&mut self, fresh: &NewChannel<'_>, out: &mut Output) {
        let side = self.settings.endpoints.classify(fresh.name, fresh.context);
        let first = fresh.uniqueid == fresh.linkedid;
        if first && !self.calls.contains_key(fresh.linkedid) {
            let call = self.new_call(fresh, &side, out);
            self.calls.insert(fresh.linkedid.to_owned(), call);
        }
        if let Some(call) = self.calls.get_mut(fresh.linkedid) {
            if side != Side::Local {
                call.channels += 1;
            }
            call.last_news = self.now;
        }
        self.channels.insert(
            fresh.uniqueid.to_owned(),
            Channel {
                linkedid: fresh.linkedid.to_owned(),
                name: fresh.name.to_owned(),
                side,
                caller_num: fresh.caller_num.to_owned(),
                caller_name: fresh.caller_name.to_owned(),
                connected_num: fresh.connected_num.to_owned(),
                leg: None,
                leg_over: false,
                up: false,
                last_news: self.now,
            },
        );
    }

    fn new_call(&self, fresh: &NewChannel<'_>, side: &Side, out: &mut Output) -> Call {
        let mut call = Call {
            direction: None,
            dialer: None,
            remote: Party::default(),
            opened: false,
            answered: false,
            caller_gave_up: false,
            originated: false,
            presentation: Presentation::NotAsked,
            held: Vec::new(),
            channels: 0,
            over: false,
            last_news: self.now,
        };
        match side {
            Side::Trunk | Side::Unknown => {
                call.direction = Some(Direction::Inbound);
                call.remote = party(fresh.caller_num, fresh.caller_name);
                if self.settings.ask_presentation && call.remote.number.is_some() {
                    call.presentation = Presentation::Waiting {
                        until: self.now + self.settings.presentation_wait,
                    };
                    out.asks.push(Ask::Presentation {
                        linkedid: fresh.linkedid.to_owned(),
                        channel: fresh.name.to_owned(),
                    });
                }
            }
            Side::Internal(extension) => call.dialer = Some(extension.clone()),
            Side::Local => {}
        }
        call
    }

    fn new_callerid(&mut self, uniqueid: &str, num: &str, name: &str) {
        let Some(ch) = self.channels.get_mut(uniqueid) else {
            return;
        };
        ch.caller_num = num.to_owned();
        ch.caller_name = name.to_owned();
        ch.last_news = self.now;

        // The caller's number may be set by the dialplan after the trunk's
        // channel appeared; it counts until the call first rings.
        let first = uniqueid == ch.linkedid;
        if let Some(call) = self.calls.get_mut(&ch.linkedid) {
            if first && !call.opened && call.direction == Some(Direction::Inbound) {
                let withheld = call.remote.withheld;
                call.remote = party(num, name);
                call.remote.withheld |= withheld;
            }
        }
    }

    /// A dialled channel that no `Newchannel` announced (a reconnect raced
    /// it): learn it from the dial event's `Dest*` fields.
    fn learn_dest(&mut self, msg: &Message<'_>, dest: &str) {
        if dest.is_empty() || self.channels.contains_key(dest) {
            return;
        }
        let get = |name: &str| msg.get(name).unwrap_or("");
        let fresh = NewChannel {
            uniqueid: dest,
            linkedid: msg
                .get("DestLinkedid")
                .or(msg.get("Linkedid"))
                .unwrap_or(dest),
            name: get("DestChannel"),
            context: get("DestContext"),
            caller_num: get("DestCallerIDNum"),
            caller_name: get("DestCallerIDName"),
            connected_num: get("DestConnectedLineNum"),
        };
        self.add_channel(&fresh, &mut Output::default());
    }

    /// A dial from `source` (absent when Asterisk itself originates) to the
    /// channel `dest`.
    fn dial(
        &mut self,
        source: Option<&str>,
        dest: &str,
        dial_string: &str,
        at: DateTime<Utc>,
        out: &mut Output,
    ) {
        let Some(ch) = self.channels.get(dest) else {
            return;
        };
        let linkedid = ch.linkedid.clone();
        let Some(call) = self.calls.get_mut(&linkedid) else {
            return;
        };
        call.last_news = self.now;
        // An originate rings the rep's own phone first: not a leg, and a
        // repeated dial (AgentCalled, then DialBegin) changes nothing.
        if dest == linkedid || ch.leg.is_some() {
            return;
        }

        let (kind, leg) = match (&ch.side, call.direction) {
            (Side::Local, _) => return,
            (Side::Internal(extension), Some(Direction::Inbound)) => {
                let kind = EventKind::Ringing {
                    direction: Direction::Inbound,
                    extension: extension.clone(),
                    remote: call.remote.clone(),
                };
                (kind, extension.clone())
            }
            (Side::Internal(extension), None) if source.is_some() => {
                // One phone calling another: the caller is the colleague.
                call.direction = Some(Direction::Internal);
                let (num, name) = match self.channels.get(&linkedid) {
                    Some(first) => (first.caller_num.as_str(), first.caller_name.as_str()),
                    None => ("", ""),
                };
                let mut remote = party(num, name);
                if remote.number.is_none() {
                    remote.number = call.dialer.clone();
                }
                call.remote = remote.clone();
                let kind = EventKind::Ringing {
                    direction: Direction::Internal,
                    extension: extension.clone(),
                    remote,
                };
                (kind, extension.clone())
            }
            (Side::Trunk | Side::Unknown, None) => {
                let Some(dialer) = call.dialer.clone() else {
                    return;
                };
                call.direction = Some(Direction::Outbound);
                let number = dialled_number(dial_string)
                    .or_else(|| usable(&ch.caller_num))
                    .map(str::to_owned);
                call.remote = Party {
                    number,
                    name: None,
                    withheld: false,
                };
                let kind = EventKind::Ringing {
                    direction: Direction::Outbound,
                    extension: dialer.clone(),
                    remote: call.remote.clone(),
                };
                (kind, dialer)
            }
            (Side::Trunk | Side::Unknown, Some(Direction::Outbound)) => {
                // A second trunk tried for the same outbound call.
                let dialer = call.dialer.clone().unwrap_or_default();
                if let Some(ch) = self.channels.get_mut(dest) {
                    ch.leg = Some(dialer);
                }
                return;
            }
            _ => {
                debug!(link = %self.link, linkedid = %linkedid, channel = %ch.name,
                    "dial not followed");
                return;
            }
        };

        let originated = call.originated && !call.opened;
        call.opened = true;
        if let Some(ch) = self.channels.get_mut(dest) {
            ch.leg = Some(leg);
        }
        self.emit(&linkedid, at, kind, out);
        if originated {
            self.emit(&linkedid, at, EventKind::Originated, out);
        }
    }

    fn dial_end(&mut self, dest: &str, status: &str, at: DateTime<Utc>, out: &mut Output) {
        let Some(ch) = self.channels.get_mut(dest) else {
            return;
        };
        ch.last_news = self.now;
        let Some(extension) = ch.leg.clone().filter(|_| !ch.leg_over) else {
            return;
        };
        ch.leg_over = true;
        let linkedid = ch.linkedid.clone();
        let Some(call) = self.calls.get_mut(&linkedid) else {
            return;
        };
        call.last_news = self.now;
        let outbound = call.direction == Some(Direction::Outbound);

        let kind = match status {
            "ANSWER" => {
                if let Some(ch) = self.channels.get_mut(dest) {
                    ch.up = true;
                }
                call.answered = true;
                EventKind::Answered { extension }
            }
            _ if outbound => return,
            "CANCEL" if call.answered => EventKind::AnsweredElsewhere { extension },
            "CANCEL" => {
                // Nobody picked up and the dial was called off: the caller
                // hung up.
                call.caller_gave_up = true;
                EventKind::StoppedRinging { extension }
            }
            _ => EventKind::StoppedRinging { extension },
        };
        self.emit(&linkedid, at, kind, out);
    }

    fn hangup_request(&mut self, uniqueid: &str) {
        let Some(ch) = self.channels.get(uniqueid) else {
            return;
        };
        let first = uniqueid == ch.linkedid;
        if let Some(call) = self.calls.get_mut(&ch.linkedid) {
            if first && !call.answered && call.direction == Some(Direction::Inbound) {
                call.caller_gave_up = true;
            }
        }
    }

    fn hangup(&mut self, uniqueid: &str, cause: &str, at: DateTime<Utc>, out: &mut Output) {
        let Some(ch) = self.channels.remove(uniqueid) else {
            return;
        };
        if let Some(listing) = &mut self.listing {
            listing.hung_up.insert(uniqueid.to_owned());
        }
        let Some(call) = self.calls.get_mut(&ch.linkedid) else {
            return;
        };
        call.last_news = self.now;
        if ch.side != Side::Local {
            call.channels = call.channels.saturating_sub(1);
        }

        // A phone that hung up still ringing, with no DialEnd to say how.
        let outbound = call.direction == Some(Direction::Outbound);
        if let Some(extension) = ch.leg.filter(|_| !ch.leg_over && !outbound) {
            // Cause 26: "answered elsewhere".
            let kind = if cause == "26" || call.answered {
                EventKind::AnsweredElsewhere { extension }
            } else {
                EventKind::StoppedRinging { extension }
            };
            self.emit(&ch.linkedid, at, kind, out);
        }

        let Some(call) = self.calls.get_mut(&ch.linkedid) else {
            return;
        };
        if call.channels > 0 || call.over {
            return;
        }
        if !call.opened {
            self.calls.remove(&ch.linkedid);
            debug!(link = %self.link, linkedid = %ch.linkedid, "call ended without ringing a phone");
            return;
        }

        // A call still waiting to hear whether its caller may be shown
        // ends once it has heard (or given up waiting), so that its number
        // is never recorded before the answer.
        call.over = true;
        let asking = matches!(
            call.presentation,
            Presentation::Waiting { .. } | Presentation::Overdue
        );
        let abandoned = call.caller_gave_up && !call.answered;
        self.emit(&ch.linkedid, at, EventKind::Ended { abandoned }, out);
        self.channels.retain(|_, c| c.linkedid != ch.linkedid);
        if !asking {
            self.calls.remove(&ch.linkedid);
        }
    }

    fn blind_transfer(&mut self, msg: &Message<'_>, at: DateTime<Utc>, out: &mut Output) {
        if msg.get("Result") != Some("Success") {
            return;
        }
        let Some(from) = self.extension_of(msg.get("TransfererUniqueid")) else {
            return;
        };
        let Some(to) = msg.get("Extension").filter(|x| !x.is_empty()) else {
            return;
        };
        let linkedid = msg
            .get("TransfereeLinkedid")
            .or(msg.get("TransfererLinkedid"))
            .unwrap_or("");
        if self.calls.get(linkedid).is_some_and(|c| c.opened) {
            let kind = EventKind::Transferred {
                from,
                to: to.to_owned(),
                kind: TransferKind::Blind,
            };
            self.emit(linkedid, at, kind, out);
        }
    }

    fn attended_transfer(&mut self, msg: &Message<'_>, at: DateTime<Utc>, out: &mut Output) {
        if msg.get("Result") != Some("Success") {
            return;
        }
        let Some(from) = self.extension_of(msg.get("OrigTransfererUniqueid")) else {
            return;
        };
        let Some(to) = self.extension_of(msg.get("TransferTargetUniqueid")) else {
            return;
        };
        let linkedid = msg.get("OrigTransfererLinkedid").unwrap_or("");
        if !self.calls.get(linkedid).is_some_and(|c| c.opened) {
            return;
        }
        // The new extension already spoke with the transferer: it takes
        // the call at once.
        let kind = EventKind::Transferred {
            from,
            to: to.clone(),
            kind: TransferKind::Attended,
        };
        self.emit(linkedid, at, kind, out);
        self.emit(linkedid, at, EventKind::Answered { extension: to }, out);
    }

    fn extension_of(&self, uniqueid: Option<&str>) -> Option<String> {
        let ch = self.channels.get(uniqueid?)?;
        match &ch.side {
            Side::Internal(extension) => Some(extension.clone()),
            _ => ch.leg.clone(),
        }
    }

    /// Sends an event now, or holds it while the call waits to learn
    /// whether the caller's number may be shown.
    fn emit(&mut self, linkedid: &str, at: DateTime<Utc>, kind: EventKind, out: &mut Output) {
        let event = self.event(linkedid, at, kind);
        match self.calls.get_mut(linkedid) {
            Some(call) if matches!(call.presentation, Presentation::Waiting { .. }) => {
                call.held.push(event)
            }
            _ => out.events.push(event),
        }
    }

    fn event(&self, linkedid: &str, at: DateTime<Utc>, kind: EventKind) -> CallEvent {
        CallEvent {
            link: self.link.clone(),
            pbx_call_id: linkedid.to_owned(),
            at,
            kind,
        }
    }
}

/// The fields of a channel as it appears.
struct NewChannel<'a> {
    uniqueid: &'a str,
    linkedid: &'a str,
    name: &'a str,
    context: &'a str,
    caller_num: &'a str,
    caller_name: &'a str,
    connected_num: &'a str,
}

/// When the event happened: its `Timestamp:` (sent when the PBX has
/// `timestampevents` on), else when it arrived.
fn event_time(msg: &Message<'_>, arrival: DateTime<Utc>) -> DateTime<Utc> {
    let Some(stamp) = msg.get("Timestamp") else {
        return arrival;
    };
    let (secs, frac) = stamp.split_once('.').unwrap_or((stamp, "0"));
    let Ok(secs) = secs.parse::<i64>() else {
        return arrival;
    };
    let digits = &frac[..frac.len().min(9)];
    let nanos = digits.parse::<u32>().unwrap_or(0) * 10u32.pow(9 - digits.len() as u32);
    Utc.timestamp_opt(secs, nanos).single().unwrap_or(arrival)
}

/// Words PBXs put in place of a number the caller withheld.
const WITHHELD: [&str; 4] = ["anonymous", "restricted", "private", "withheld"];

/// The caller as AMI shows them. A withheld number is never kept; a
/// placeholder (`<unknown>`, empty, a word with no digit) is no number.
fn party(num: &str, name: &str) -> Party {
    let is_withheld = |text: &str| WITHHELD.iter().any(|w| text.eq_ignore_ascii_case(w));
    let withheld = is_withheld(num.trim()) || is_withheld(name.trim());
    let name = Some(name).filter(|n| !n.is_empty() && *n != "<unknown>");
    Party {
        number: usable(num).filter(|_| !withheld).map(str::to_owned),
        name: name.map(str::to_owned),
        withheld,
    }
}

/// `num` when it is a number at all.
fn usable(num: &str) -> Option<&str> {
    let num = num.trim();
    let placeholder = num == "<unknown>" || !num.bytes().any(|b| b.is_ascii_digit());
    (!placeholder).then_some(num)
}

/// The number in a dial string: `trunk/+1555019901` → `+1555019901`,
/// `PJSIP/12125550159@carrier` → `12125550159`.
fn dialled_number(dial_string: &str) -> Option<&str> {
    let target = dial_string.rsplit('/').next().unwrap_or(dial_string);
    let target = target.split('@').next().unwrap_or(target);
    let target = target.split(',').next().unwrap_or(target);
    usable(target)
}

#[cfg(test)]
mod tests;
