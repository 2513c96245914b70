//! An open pop stream lasts only as long as what opened it: a revoked
//! token, an ended session, a deactivated user or an extension taken away
//! closes it within `api.stream_check_secs` (one second here), and the
//! bootstrap `api.token`'s stream stays.

use std::time::Duration;

use crate::helpers::{
    add_user, admin_browser, api_token_for, pops_with, sign_in, spawn_app, status, Request, SipUdp,
    TestApp,
};
use crate::users::callpop;

const WAIT: Duration = Duration::from_secs(10);
/// Longer than two checks: a stream still open after it is left open.
const STAYS: Duration = Duration::from_millis(2500);

async fn spawn() -> TestApp {
    spawn_app(&[("CALLPOP_API__STREAM_CHECK_SECS", "1")]).await
}

/// Rings `extension` from a number of its own and waits for the 180.
async fn ring(app: &TestApp, extension: &str, from: &str) {
    let udp = SipUdp::new(app.sip).await;
    let invite = Request::new("INVITE", extension, from);
    let answers = udp.exchange(&invite, 180).await;
    assert_eq!(status(answers.last().unwrap()), 180);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_tokens_stream_ends_and_the_bootstrap_tokens_stays() {
    let app = spawn().await;
    let alice = add_user(&app, "alice", "rep", &["201"], "alice-password").await;
    let token = api_token_for(&app, alice).await;
    let id = app.store.api_tokens(alice).await.unwrap()[0].id;
    let mut alices = pops_with(&app, &token, "").await;
    let mut bootstrap = app.pops("201").await;

    ring(&app, "201", "+12125550142").await;
    let pop = alices.next(WAIT).await.expect("alice's pop");
    assert_eq!(pop.event, "pop");
    assert!(
        alices.end(STAYS).await.is_none(),
        "open while the token stands"
    );

    let revoked = callpop(
        &app,
        &["token", "revoke", &id.to_string(), "--user", "alice"],
        "",
    );
    assert!(revoked.status.success(), "{revoked:?}");
    let last = alices
        .end(WAIT)
        .await
        .expect("the stream ends once the token is revoked");
    assert!(last.is_empty(), "{last:?}");

    // The next call pops for the bootstrap token alone; the token is
    // refused from now on.
    assert!(bootstrap.next(WAIT).await.is_some(), "the first call");
    ring(&app, "201", "+12125550143").await;
    let next = bootstrap
        .next(WAIT)
        .await
        .expect("the bootstrap token's stream stays");
    assert_eq!(next.data["extension"], "201");
    for path in ["/api/v1/me", "/api/v1/pops"] {
        let again = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await;
        assert_eq!(again.unwrap().status(), 401, "{path}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_stream_ends_on_sign_out_and_on_a_new_password() {
    let app = spawn().await;
    add_user(&app, "alice", "rep", &["201"], "alice-password").await;

    let mut browser = sign_in(&app, "alice", "alice-password").await;
    let mut stream = browser.pops("").await;
    assert!(stream.end(STAYS).await.is_none(), "open while signed in");
    assert_eq!(browser.submit("/logout", &[]).await.status(), 303);
    assert!(stream.end(WAIT).await.is_some(), "signing out ends it");

    // `callpop user passwd` signs her out everywhere, streams too.
    let browser = sign_in(&app, "alice", "alice-password").await;
    let mut stream = browser.pops("?extension=201").await;
    let passwd = callpop(
        &app,
        &["user", "passwd", "alice", "--password-stdin"],
        "alice-n3w-pass\n",
    );
    assert!(passwd.status.success(), "{passwd:?}");
    assert!(stream.end(WAIT).await.is_some(), "a new password ends it");
    let again = browser
        .request(reqwest::Method::GET, "/api/v1/pops")
        .send()
        .await;
    assert_eq!(again.unwrap().status(), 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_when_its_extension_is_taken_away_or_its_user_deactivated() {
    let app = spawn().await;
    let mut admin = admin_browser(&app).await;
    let alice = add_user(&app, "alice", "rep", &["201", "202"], "alice-password").await;
    let token = api_token_for(&app, alice).await;
    let mut own = pops_with(&app, &token, "").await;
    let mut on_202 = pops_with(&app, &token, "?extension=202").await;
    let mut page = sign_in(&app, "alice", "alice-password")
        .await
        .pops("")
        .await;

    // 201 goes to someone else: what follows it ends, 202's stream stays.
    let path = format!("/admin/users/{alice}");
    let edit = [
        ("display_name", "Alice"),
        ("role", "rep"),
        ("extensions", "202"),
        ("active", "on"),
    ];
    assert_eq!(admin.submit(&path, &edit).await.status(), 303);
    assert!(
        own.end(WAIT).await.is_some(),
        "the token's own stream followed 201"
    );
    assert!(page.end(WAIT).await.is_some(), "so did the page's");
    assert!(on_202.end(STAYS).await.is_none(), "202 is still hers");
    ring(&app, "202", "+12125550144").await;
    let pop = on_202.next(WAIT).await.expect("a pop on 202");
    assert_eq!(pop.data["extension"], "202");

    // Deactivated: every stream of hers ends.
    let off = [
        ("display_name", "Alice"),
        ("role", "rep"),
        ("extensions", "202"),
    ];
    assert_eq!(admin.submit(&path, &off).await.status(), 303);
    assert!(on_202.end(WAIT).await.is_some(), "deactivating her ends it");
    app.stop().await;
}
