//! Stream framing: cutting whole messages out of a TCP byte stream by their
//! Content-Length, without waiting forever for a peer that never finishes.

use super::fields::content_length;
use super::head::{head_end, read_head, skip_line_breaks};
use super::ParseError;

/// The largest header section [`frame`] buffers on a stream before giving up. A UDP
/// message cannot be bigger, and a stream peer that sends more is broken or hostile.
pub const MAX_HEAD: usize = 64 * 1024;

/// The largest body [`frame`] accepts on a stream. callpop reads signalling (SDP, short
/// text); a bigger Content-Length comes from a broken or hostile peer, not from a call.
pub const MAX_BODY: usize = 1024 * 1024;

/// What [`frame`] found at the start of a stream buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// More bytes are needed.
    Incomplete,
    /// Line breaks before a message (RFC 5626 keep-alives): drop this many bytes.
    KeepAlive(usize),
    /// One whole message of this many bytes; hand them to [`Message::parse`].
    ///
    /// [`Message::parse`]: super::Message::parse
    Message(usize),
    /// The stream cannot be framed any further; close the connection.
    Invalid(ParseError),
}

/// Cuts the next message out of a stream buffer by its Content-Length, which RFC 3261
/// §18.3 makes mandatory on streams. Headers over [`MAX_HEAD`] or a body over [`MAX_BODY`]
/// are [`Frame::Invalid`], and so is a header section that cannot be read (not UTF-8, a
/// line without ':'), because its Content-Length cannot be trusted. Everything else is
/// left to [`Message::parse`].
///
/// [`Message::parse`]: super::Message::parse
pub fn frame(buf: &[u8]) -> Frame {
    let breaks = buf.len() - skip_line_breaks(buf).len();
    if breaks > 0 {
        return Frame::KeepAlive(breaks);
    }

    // Search only the first MAX_HEAD bytes, so the answer never depends on how the
    // bytes were split into reads.
    let window = &buf[..buf.len().min(MAX_HEAD)];
    let Some(head_len) = head_end(window) else {
        if buf.len() >= MAX_HEAD {
            return Frame::Invalid(ParseError::TooLarge {
                what: "header section",
                limit: MAX_HEAD,
            });
        }
        return Frame::Incomplete;
    };

    match stream_body_len(&buf[..head_len]) {
        Ok(body) if head_len + body <= buf.len() => Frame::Message(head_len + body),
        Ok(_) => Frame::Incomplete,
        Err(e) => Frame::Invalid(e),
    }
}

/// The body length a stream message announces.
fn stream_body_len(head: &[u8]) -> Result<usize, ParseError> {
    let head = read_head(head)?;
    let len = content_length(&head.fields)?.ok_or(ParseError::Missing("content-length"))?;
    if len > MAX_BODY {
        return Err(ParseError::TooLarge {
            what: "body",
            limit: MAX_BODY,
        });
    }
    Ok(len)
}
