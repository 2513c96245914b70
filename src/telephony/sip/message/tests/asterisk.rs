//! The INVITEs and sipp logs captured from Asterisk.

use super::*;

#[test]
fn asterisk_invites_and_logs() {
    // The INVITE files are byte-exact CRLF messages with no header line around them.
    let invites = fixtures::dir("asterisk", ".txt");
    let invites: Vec<_> = invites
        .into_iter()
        .filter(|(n, _)| n.starts_with("sip-invite-"))
        .collect();
    assert_eq!(invites.len(), 4);
    for (name, raw) in &invites {
        let msg = parse(raw);
        assert_eq!(msg.method(), Some("INVITE"), "{name}");
        check_accepted(name, raw, &msg);
        assert!(
            msg.body.starts_with(b"v=0\r\n") && msg.body.ends_with(b"a=sendrecv\r\n"),
            "{name}"
        );
    }

    let logs = fixtures::dir("asterisk/sip", ".log");
    assert_eq!(logs.len(), 6);
    for (name, _) in &logs {
        let messages = fixtures::sipp_log(&format!("asterisk/sip/{name}"));
        let parsed: Vec<Message> = messages.iter().map(|m| parse(m)).collect();
        assert_eq!(parsed[0].method(), Some("INVITE"), "{name}");
        for (raw, msg) in messages.iter().zip(&parsed) {
            check_accepted(name, raw, msg);
            assert_eq!(
                msg.call_id(),
                parsed[0].call_id(),
                "{name}: one call per log"
            );
        }
    }

    // The log of scenario a holds the same INVITE as its file.
    let log = fixtures::sipp_log("asterisk/sip/a-ext201-uas.log");
    assert_eq!(
        log[0],
        fixtures::read("asterisk/sip-invite-a-to-201-inbound-answered.txt")
    );
    let codes: Vec<_> = log.iter().map(|m| parse(m).status()).collect();
    assert_eq!(
        codes,
        [None, Some(100), Some(180), Some(200), None, None, Some(200)]
    );
}
