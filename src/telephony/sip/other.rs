//! Every other request: BYE and OPTIONS get 200, methods callpop knows but
//! does not take get 405, unknown methods 501; each refusal lists Allow.

use super::endpoint::Reply;
use super::message::{response, Message};

/// What this endpoint takes.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS";

/// Methods of the SIP family that this endpoint knows and does not take.
const KNOWN: [&str; 9] = [
    "REGISTER",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "INFO",
    "UPDATE",
    "PRACK",
    "MESSAGE",
    "PUBLISH",
];

pub async fn handle(msg: &Message, reply: &Reply) {
    let method = msg.method().unwrap_or_default();
    let answer = match method {
        // callpop never answers, so there is no dialog for a BYE to end; it
        // still gets 200 so that a PBX tidying up does not retry.
        "BYE" => response(msg, 200, "OK", None, &[]),
        "OPTIONS" => response(
            msg,
            200,
            "OK",
            None,
            &[
                ("Allow", ALLOW),
                ("Accept", "application/sdp"),
                ("Accept-Language", "en"),
            ],
        ),
        m if KNOWN.contains(&m) => {
            response(msg, 405, "Method Not Allowed", None, &[("Allow", ALLOW)])
        }
        _ => response(msg, 501, "Not Implemented", None, &[("Allow", ALLOW)]),
    };
    reply.send(&answer).await;
}

/// The answer to a peer outside `sip.trusted_peers`.
pub fn forbidden(msg: &Message) -> Vec<u8> {
    response(msg, 403, "Forbidden", None, &[])
}
