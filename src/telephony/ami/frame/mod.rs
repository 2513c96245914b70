//! AMI framing: cutting the bytes Asterisk sends into its greeting line and its
//! messages, without copying a value that can be borrowed from the read buffer.
//!
//! What the framer holds to, on any input:
//! - lines end with CRLF; a bare LF or CR inside a line belongs to the value;
//! - a message is a run of `Name: value` lines closed by an empty line; each line is
//!   split at its first ':' and one space after that ':' is dropped, so `AccountCode:`
//!   and `AccountCode: ` both have the empty value;
//! - a line without ':' continues the value before it (joined with "\n"); a message
//!   whose first line has no ':' is [`Frame::Garbled`];
//! - line breaks between messages are skipped: never an empty message, never an error;
//! - a frame, its closing empty line included, is at most [`MAX_FRAME`] bytes; a longer
//!   one is [`Frame::Garbled`] and the rest of it is dropped as it arrives, up to the next
//!   empty line, so the framer holds little more than [`MAX_FRAME`] plus one read;
//! - the frames returned do not depend on how the bytes were split into reads, each
//!   byte is looked at a bounded number of times, and no input makes the framer panic.
//!
//! The framer logs nothing: what a garbled frame means is for the connection to say.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

#[cfg(test)]
mod tests;

/// The largest frame callpop reads, its closing empty line included. Asterisk's own
/// events are well under 4 KiB; anything near this is a broken or hostile peer.
pub const MAX_FRAME: usize = 64 * 1024;

/// How many bytes of a garbled frame its [`Garbled::excerpt`] shows.
const EXCERPT: usize = 80;

/// Cuts an AMI byte stream into frames. Push each read with [`Framer::push`], then call
/// [`Framer::next`] until it returns `None` before reading again.
#[derive(Debug)]
pub struct Framer {
    /// Bytes from the socket. Those before `start` were returned already; they are
    /// dropped at the next push, so that the frame last returned can borrow them.
    buf: Vec<u8>,
    start: usize,
    state: State,
    /// How far reading the frame at `start` has got, kept between pushes so that a
    /// frame arriving in many small reads is searched once, not once per read.
    scan: Scan,
    /// The fields of the frame at `start`, reused from one message to the next.
    fields: Vec<Field>,
    /// The greeting line, decoded.
    greeting: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The greeting line comes first.
    Greeting,
    Messages,
    /// Dropping the rest of a frame that was too long, up to the next empty line;
    /// `matched` bytes of "\r\n\r\n" were the last ones seen.
    Skipping {
        matched: u8,
    },
}

/// What [`Framer::next`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// The protocol greeting, such as `Asterisk Call Manager/9.0.0`.
    Banner(&'a str),
    Message(Message<'a>),
    /// Bytes that are not a message. They are dropped and the framer goes on with the
    /// next message.
    Garbled(Garbled),
}

/// A frame the framer dropped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Garbled {
    pub reason: &'static str,
    /// The first bytes of the frame, decoded lossily, with control characters escaped
    /// so that it can be logged as it is.
    pub excerpt: String,
}

/// One AMI message: its fields in the order they came. Values are borrowed from the
/// read buffer; a copy is made only for a value continued over several lines or for a
/// message that is not valid UTF-8.
///
/// Invalid UTF-8 is decoded lossily (U+FFFD) and the message kept: a caller name
/// mangled by a misconfigured trunk must not cost the whole call event.
#[derive(Clone)]
pub struct Message<'a> {
    /// The text the spans in `fields` point into: the frame itself, or a copy of it
    /// followed by the joined values of continued fields.
    text: Cow<'a, str>,
    fields: Cow<'a, [Field]>,
}

/// Where one field's name and value are in [`Message::text`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    name: Range<usize>,
    value: Range<usize>,
}

impl Framer {
    /// A framer for a fresh connection: the protocol greeting line
    /// (`Asterisk Call Manager/9.0.0`) comes first and is returned as [`Frame::Banner`].
    pub fn new() -> Framer {
        Framer::starting_in(State::Greeting)
    }

    /// A framer for a stream that starts after the greeting (tests, benchmarks).
    pub fn without_banner() -> Framer {
        Framer::starting_in(State::Messages)
    }

    fn starting_in(state: State) -> Framer {
        Framer {
            buf: Vec::new(),
            start: 0,
            state,
            scan: Scan::default(),
            fields: Vec::new(),
            greeting: String::new(),
        }
    }

    /// Appends bytes read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        // Drop what was returned here rather than per frame: one move per read.
        self.buf.drain(..self.start);
        self.start = 0;
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, or `None` when more bytes are needed.
    #[allow(clippy::should_implement_trait)] // frames borrow the framer: not an Iterator
    pub fn next(&mut self) -> Option<Frame<'_>> {
        match self.state {
            State::Greeting => self.greeting(),
            State::Messages => self.message(),
            State::Skipping { .. } => {
                if self.skip() {
                    self.message()
                } else {
                    None
                }
            }
        }
    }

    /// Bytes held that do not yet make a whole frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    fn greeting(&mut self) -> Option<Frame<'_>> {
        self.skip_line_breaks();
        let end = self.buf.len().min(self.start + MAX_FRAME);
        let Some(line) = self.scan.next_line(&self.buf[self.start..end]) else {
            if end - self.start < MAX_FRAME {
                return None;
            }
            return Some(self.too_long("greeting line too long"));
        };

        // A peer that starts with a field skipped the greeting: say so, then read the
        // same bytes again as a message.
        let line = &self.buf[self.start..end][line];
        self.scan = Scan::default();
        self.state = State::Messages;
        if line.contains(&b':') {
            let garbled = Garbled::new("no manager greeting before the first message", line);
            return Some(Frame::Garbled(garbled));
        }

        self.greeting = String::from_utf8_lossy(line).into_owned();
        self.start += line.len() + 2;
        Some(Frame::Banner(&self.greeting))
    }

    fn message(&mut self) -> Option<Frame<'_>> {
        if self.scan.is_fresh() {
            self.skip_line_breaks();
            self.fields.clear();
        }
        let end = self.buf.len().min(self.start + MAX_FRAME);
        let Some(len) = self.scan.run(&self.buf[self.start..end], &mut self.fields) else {
            if end - self.start < MAX_FRAME {
                return None;
            }
            return Some(self.too_long("frame too long (over 64 KiB without an empty line)"));
        };

        let scan = std::mem::take(&mut self.scan);
        let frame = &self.buf[self.start..self.start + len];
        self.start += len;
        if scan.garbled {
            let garbled = Garbled::new("first line of the message has no ':'", frame);
            return Some(Frame::Garbled(garbled));
        }
        Some(Frame::Message(Message::read(
            frame,
            &mut self.fields,
            scan.continued,
        )))
    }

    /// Line breaks between messages (or before the greeting) are not a frame.
    fn skip_line_breaks(&mut self) {
        let breaks = self.buf[self.start..]
            .iter()
            .take_while(|&&b| matches!(b, b'\r' | b'\n'))
            .count();
        self.start += breaks;
    }

    /// Reports the frame at `start` as too long and starts dropping it.
    fn too_long(&mut self, reason: &'static str) -> Frame<'_> {
        let garbled = Garbled::new(reason, &self.buf[self.start..]);

        // The lines before the one being read were not empty, so the frame can only
        // end after it. Resume two bytes early, where the CRLF before that line is.
        self.start += self.scan.line.saturating_sub(2);
        self.scan = Scan::default();
        self.state = State::Skipping { matched: 0 };
        Frame::Garbled(garbled)
    }

    /// Drops bytes up to and including the next empty line. True once it was found.
    fn skip(&mut self) -> bool {
        let State::Skipping { mut matched } = self.state else {
            return true;
        };
        for (i, &byte) in self.buf[self.start..].iter().enumerate() {
            matched = match (matched, byte) {
                (0 | 2, b'\r') | (1 | 3, b'\n') => matched + 1,
                (_, b'\r') => 1,
                _ => 0,
            };
            if matched == 4 {
                self.start += i + 1;
                self.state = State::Messages;
                return true;
            }
        }
        self.start = self.buf.len();
        self.state = State::Skipping { matched };
        false
    }
}

impl Default for Framer {
    fn default() -> Framer {
        Framer::new()
    }
}

/// Reading the lines of one frame, resumable when more bytes come. Offsets count from
/// the start of the frame, which does not move while the frame is read.
#[derive(Debug, Default)]
struct Scan {
    /// Where the line being read starts.
    line: usize,
    /// How far the search for that line's CRLF has got.
    searched: usize,
    /// The first line had no ':': the frame is read to its end and dropped.
    garbled: bool,
    /// A line without ':' continued a value: the values hold CRLF until joined.
    continued: bool,
}

impl Scan {
    fn is_fresh(&self) -> bool {
        self.searched == 0
    }

    /// Reads the complete lines of `frame` not read yet, adding their fields to
    /// `fields`. Once the empty line that closes the frame is there, returns the length
    /// of the frame up to and including it.
    fn run(&mut self, frame: &[u8], fields: &mut Vec<Field>) -> Option<usize> {
        while let Some(line) = self.next_line(frame) {
            if line.is_empty() {
                return Some(self.line);
            }
            self.read_line(frame, line, fields);
        }
        None
    }

    /// The next line of `frame` without its CRLF, if all of it is there.
    fn next_line(&mut self, frame: &[u8]) -> Option<Range<usize>> {
        while let Some(found) = find(&frame[self.searched..], b'\n') {
            let lf = self.searched + found;
            self.searched = lf + 1;
            // A LF without CR before it is part of the line.
            if lf > self.line && frame[lf - 1] == b'\r' {
                let line = self.line..lf - 1;
                self.line = lf + 1;
                return Some(line);
            }
        }
        self.searched = frame.len();
        None
    }

    fn read_line(&mut self, frame: &[u8], line: Range<usize>, fields: &mut Vec<Field>) {
        if self.garbled {
            return;
        }
        let Some(colon) = find(&frame[line.clone()], b':').map(|i| line.start + i) else {
            match fields.last_mut() {
                Some(field) => {
                    field.value.end = line.end;
                    self.continued = true;
                }
                None => self.garbled = true,
            }
            return;
        };

        // One space after the colon is the separator; any more belong to the value.
        let mut value = colon + 1;
        if value < line.end && frame[value] == b' ' {
            value += 1;
        }
        fields.push(Field {
            name: line.start..colon,
            value: value..line.end,
        });
    }
}

/// The first `byte` in `haystack`, eight bytes at a time: a byte-by-byte loop made the
/// framer three times slower, and std's memchr is not public.
fn find(haystack: &[u8], byte: u8) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let pattern = ONES * u64::from(byte);

    let mut words = haystack.chunks_exact(8);
    for (i, word) in words.by_ref().enumerate() {
        let word = u64::from_le_bytes(word.try_into().expect("chunks of 8")) ^ pattern;
        // A zero byte (a match) sets its high bit here. Bytes above the first match may
        // be flagged wrongly, but the lowest flag is always the first match.
        let matches = word.wrapping_sub(ONES) & !word & HIGHS;
        if matches != 0 {
            return Some(i * 8 + matches.trailing_zeros() as usize / 8);
        }
    }
    let rest = words.remainder();
    let tail = haystack.len() - rest.len();
    rest.iter().position(|&b| b == byte).map(|i| tail + i)
}

impl Garbled {
    fn new(reason: &'static str, frame: &[u8]) -> Garbled {
        let shown = &frame[..frame.len().min(EXCERPT)];
        Garbled {
            reason,
            excerpt: String::from_utf8_lossy(shown).escape_debug().to_string(),
        }
    }
}

impl fmt::Display for Garbled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: \"{}\"", self.reason, self.excerpt)
    }
}

impl<'a> Message<'a> {
    /// The message in `frame`, whose lines [`Scan::run`] read into `fields`.
    fn read(frame: &'a [u8], fields: &'a mut Vec<Field>, continued: bool) -> Message<'a> {
        let mut text = match std::str::from_utf8(frame) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => {
                // Decoding moves the offsets, so read the lines again. CR, LF and ':'
                // are never part of what is replaced, so the same lines come out.
                let text = String::from_utf8_lossy(frame).into_owned();
                fields.clear();
                Scan::default().run(text.as_bytes(), fields);
                Cow::Owned(text)
            }
        };
        if continued {
            join_continued(text.to_mut(), fields);
        }
        Message {
            text,
            fields: Cow::Borrowed(fields.as_slice()),
        }
    }

    /// A message made of these fields, for tests of what reads messages.
    pub fn from_fields<'f>(fields: impl IntoIterator<Item = (&'f str, &'f str)>) -> Message<'a> {
        let mut text = String::new();
        let mut spans = Vec::new();
        for (name, value) in fields {
            let name_start = text.len();
            text.push_str(name);
            let value_start = text.len();
            text.push_str(value);
            spans.push(Field {
                name: name_start..value_start,
                value: value_start..text.len(),
            });
        }
        Message {
            text: Cow::Owned(text),
            fields: Cow::Owned(spans),
        }
    }

    /// The value of the first field called `name`, compared ASCII case-insensitively
    /// (Asterisk versions differ: `Uniqueid`, `UniqueID`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The value of `Event`, for messages Asterisk sends on its own.
    pub fn event(&self) -> Option<&str> {
        self.get("Event")
    }

    /// The value of `Response`, for the answer to an action.
    pub fn response(&self) -> Option<&str> {
        self.get("Response")
    }

    /// The value of `ActionID`, which ties a response to the action that asked for it.
    pub fn action_id(&self) -> Option<&str> {
        self.get("ActionID")
    }

    /// Every field as (name, value), in the order they came.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|field| (self.slice(&field.name), self.slice(&field.value)))
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The same message, owning its text, to keep past the next read.
    pub fn into_owned(self) -> Message<'static> {
        Message {
            text: Cow::Owned(self.text.into_owned()),
            fields: Cow::Owned(self.fields.into_owned()),
        }
    }

    fn slice(&self, span: &Range<usize>) -> &str {
        // Spans start and end at ASCII delimiters, so this never misses; `get` keeps
        // even a mistake here from panicking.
        self.text.get(span.clone()).unwrap_or_default()
    }
}

/// Copies each value that spans several lines to the end of `text` with its line
/// breaks as "\n", and points its field there.
fn join_continued(text: &mut String, fields: &mut [Field]) {
    for field in fields {
        let Some(value) = text.get(field.value.clone()) else {
            continue;
        };
        if !value.contains("\r\n") {
            continue;
        }
        let joined = value.replace("\r\n", "\n");
        let start = text.len();
        text.push_str(&joined);
        field.value = start..text.len();
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.fields()).finish()
    }
}

/// Two messages are equal when they hold the same fields in the same order.
impl PartialEq for Message<'_> {
    fn eq(&self, other: &Message<'_>) -> bool {
        self.fields().eq(other.fields())
    }
}

impl Eq for Message<'_> {}
