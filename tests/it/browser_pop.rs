//! The browser pop: a signed-in page in headless Chromium shows the calls
//! ringing at the rep's extension, as text, and takes them down when the
//! caller gives up.

use std::time::Duration;

use crate::chromium::Chromium;
use crate::helpers::{add_user, session_for, spawn_app, status, Request, SipUdp};

const WAIT: Duration = Duration::from_secs(10);

const CARD_TEXT: &str = "const c = document.querySelector('#pops .pop'); return c && c.innerText;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_page_pops_the_ringing_call_as_text_and_takes_it_down() {
    let Some(chromium) = Chromium::start().await else {
        return;
    };
    let app = spawn_app(&[]).await;
    let rep = add_user(&app, "alice", "rep", &["201"], "alice-password").await;
    let session = session_for(&app, rep).await;

    // Signed in as the rep, on any page.
    chromium.goto(&app.url("/login")).await;
    chromium
        .add_cookie("callpop_session", &session.cookies["callpop_session"])
        .await;
    chromium.goto(&app.url("/calls")).await;
    chromium
        .wait_for(
            "return document.getElementById('pops').dataset.stream === 'open';",
            WAIT,
        )
        .await;

    // A caller whose name carries markup rings 201; 202 rings too.
    let udp = SipUdp::new(app.sip).await;
    let mut invite = Request::new("INVITE", "201", "+12125550140");
    invite
        .headers
        .push("P-Asserted-Identity: \"<b>VIP</b> & Co\" <sip:+12125550140@pbx.invalid>".into());
    let answers = udp.exchange(&invite, 180).await;
    assert_eq!(status(answers.last().unwrap()), 180, "{answers:?}");
    let other = Request::new("INVITE", "202", "+12125550141");
    udp.exchange(&other, 180).await;

    let text = chromium.wait_for(CARD_TEXT, WAIT).await;
    let text = text.as_str().unwrap();
    assert!(text.contains("Ringing · <b>VIP</b> & Co"), "{text}");
    assert!(text.contains("(212) 555-0140"), "{text}");
    let markup = chromium
        .script("return document.querySelectorAll('#pops b').length;")
        .await;
    assert_eq!(markup, 0, "the caller's name is text, not markup");
    let cards = chromium
        .script("return document.querySelectorAll('#pops .pop').length;")
        .await;
    assert_eq!(cards, 1, "202's call is not this rep's");
    let link = chromium
        .script("return document.querySelector('#pops .pop').getAttribute('href');")
        .await;
    let call_id = app
        .calls()
        .await
        .iter()
        .find(|c| c["extension"] == "201")
        .unwrap()["id"]
        .clone();
    assert_eq!(link, format!("/calls/{call_id}"));

    // The caller gives up: the pop goes.
    udp.send(&invite.cancel().bytes()).await;
    chromium
        .wait_for(
            "return document.querySelectorAll('#pops .pop').length === 0;",
            WAIT,
        )
        .await;

    // A name that would turn text around or cover the page (field case 23).
    let mut bidi = Request::new("INVITE", "201", "+12125550142");
    let long = "A".repeat(300);
    bidi.headers.push(format!(
        "P-Asserted-Identity: \"inv\u{202E}fdp.exe\u{200B}{long}\" <sip:+12125550142@pbx.invalid>"
    ));
    udp.exchange(&bidi, 180).await;
    let text = chromium.wait_for(CARD_TEXT, WAIT).await;
    let text = text.as_str().unwrap();
    assert!(text.contains("invfdp.exeAAA"), "{text}");
    assert!(
        !text.contains('\u{202E}') && !text.contains('\u{200B}'),
        "{text:?}"
    );
    let title = text.lines().next().unwrap();
    assert!(title.chars().count() <= "Ringing · ".len() + 64, "{title}");
    assert!(title.ends_with('…'), "{title}");
    chromium.quit().await;
}
