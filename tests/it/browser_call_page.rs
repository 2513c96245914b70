//! The call-logging page in headless Chromium, as a rep on the phone uses
//! it: from the pop straight to the page, through the form by keyboard, and
//! a validation error that keeps what was typed.

use std::time::Duration;

use crate::chromium::{Chromium, ENTER, TAB};
use crate::helpers::{add_user, session_for, spawn_app, status, Request, SipUdp};
use crate::workflow::acme;

const WAIT: Duration = Duration::from_secs(10);
const NOTES: &str = "Wants the March invoice resent to accounts";

const ACTIVE: &str = "const a = document.activeElement; return a && (a.id || a.textContent);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_logs_a_call_from_the_pop_by_keyboard_and_keeps_the_notes_on_an_error() {
    let Some(chromium) = Chromium::start().await else {
        return;
    };
    let app = spawn_app(&[]).await;
    acme(&app).await;
    let rep = add_user(&app, "alice", "rep", &["201"], "alice-password").await;
    let session = session_for(&app, rep).await;
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

    // Carla of Acme calls 201; the pop leads to the call's page.
    let udp = SipUdp::new(app.sip).await;
    let invite = Request::new("INVITE", "201", "+12125550142");
    let answers = udp.exchange(&invite, 180).await;
    assert_eq!(status(answers.last().unwrap()), 180, "{answers:?}");
    let card = chromium
        .wait_for("return document.querySelector('#pops .pop');", WAIT)
        .await;
    assert!(!card.is_null());
    chromium
        .script("document.querySelector('#pops .pop').click();")
        .await;
    let path = chromium
        .wait_for(
            "return location.pathname.startsWith('/calls/') && location.pathname;",
            WAIT,
        )
        .await;
    let page = chromium.script("return document.body.innerText;").await;
    assert!(page.as_str().unwrap().contains("Acme & Sons"), "{page}");

    // The topic is focused; Tab walks the form in reading order.
    assert_eq!(chromium.script(ACTIVE).await, "topic");
    for (from, to) in [
        ("#topic", "title"),
        ("#title", "contact"),
        ("#contact", "contact_name"),
    ] {
        chromium.keys(from, TAB).await;
        assert_eq!(chromium.script(ACTIVE).await, to, "tab from {from}");
    }
    chromium.keys("#contact_name", TAB).await;
    assert_eq!(chromium.script(ACTIVE).await, "notes");

    // Notes without a title for the new topic: refused, the notes kept.
    chromium.keys("#notes", NOTES).await;
    chromium.keys("#notes", TAB).await;
    assert_eq!(chromium.script(ACTIVE).await, "Save");
    chromium.keys("button[value=done]", ENTER).await;
    chromium
        .wait_for("return document.getElementById('topic-error');", WAIT)
        .await;
    let kept = chromium
        .script("return document.getElementById('notes').value;")
        .await;
    assert_eq!(kept, NOTES);
    assert!(app
        .store
        .call_conversations(call_id(&path))
        .await
        .unwrap()
        .is_empty());

    // A title, Enter, and the conversation is logged.
    chromium
        .keys("#title", &format!("March invoice{ENTER}"))
        .await;
    chromium
        .wait_for(
            "return !document.getElementById('topic-error') \
             && document.body.innerText.includes('March invoice');",
            WAIT,
        )
        .await;
    let logged = app.store.call_conversations(call_id(&path)).await.unwrap();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].notes, NOTES);
    chromium.quit().await;
}

fn call_id(path: &serde_json::Value) -> i64 {
    let path = path.as_str().unwrap();
    path.trim_start_matches("/calls/")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}
