//! Bad input on the call-logging page, topics and callbacks: each gets a
//! clear message, keeps what was typed, and writes nothing.

use chrono::{Duration as Days, Utc};

use serde_json::json;

use crate::helpers::{add_user, api_token_for, session_for, spawn_app, Browser, TestApp};
use crate::workflow::{acme, field};

/// A call Anna logs by hand from the customer's number; its id.
async fn manual_call(browser: &mut Browser) -> i64 {
    let made = browser
        .submit(
            "/calls/new",
            &[
                ("direction", "outbound"),
                ("number", "(212) 555-0142"),
                ("when", ""),
            ],
        )
        .await;
    assert_eq!(made.status(), 303, "{}", made.text().await.unwrap());
    let to = made.headers()["location"].to_str().unwrap().to_owned();
    to.trim_start_matches("/calls/").parse().unwrap()
}

struct Setup {
    app: TestApp,
    customer: i64,
    anna: i64,
    browser: Browser,
    call: i64,
}

async fn setup() -> Setup {
    let app = spawn_app(&[]).await;
    let (customer, _) = acme(&app).await;
    let anna = add_user(&app, "anna", "rep", &["201"], "anna-password").await;
    let mut browser = session_for(&app, anna).await;
    let call = manual_call(&mut browser).await;
    Setup {
        app,
        customer,
        anna,
        browser,
        call,
    }
}

/// Sends the log form with the page's hidden fields and `fields`.
async fn send_log(s: &mut Setup, fields: &[(&str, &str)]) -> (u16, String) {
    let page = s
        .browser
        .get(&format!("/calls/{}", s.call))
        .await
        .text()
        .await
        .unwrap();
    let customer = field(&page, "customer").unwrap();
    let seen = field(&page, "seen").unwrap();
    let mut all = vec![("customer", customer.as_str()), ("seen", seen.as_str())];
    all.extend_from_slice(fields);
    let response = s
        .browser
        .submit(&format!("/calls/{}/conversations", s.call), &all)
        .await;
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn nothing_logged(s: &Setup) {
    assert!(s
        .app
        .store
        .call_conversations(s.call)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .app
        .store
        .topics_of_customer(s.customer, false)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_call_is_filed_under_the_customer_its_number_matches() {
    let mut s = setup().await;
    let page = s
        .browser
        .get(&format!("/calls/{}", s.call))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Acme &#38; Sons") && page.contains("outbound"),
        "{page}"
    );
    assert_eq!(field(&page, "customer"), Some(s.customer.to_string()));

    // A number no customer has: offered as a new customer or attached to
    // one, and called back with click-to-dial.
    let unknown = s
        .browser
        .submit(
            "/calls/new",
            &[("direction", "inbound"), ("number", "+1 646 555 0199")],
        )
        .await;
    assert_eq!(unknown.status(), 303);
    let page = s
        .browser
        .get(unknown.headers()["location"].to_str().unwrap())
        .await;
    let page = page.text().await.unwrap();
    let id = field(&page, "back")
        .unwrap()
        .trim_start_matches("/calls/")
        .to_owned();
    assert!(
        page.contains(&format!("href=\"/customers/new?call={id}\"")),
        "{page}"
    );
    assert!(
        page.contains(&format!("href=\"/calls/{id}/attach\"")),
        "{page}"
    );
    assert_eq!(field(&page, "number").as_deref(), Some("+16465550199"));
    assert!(
        !page.contains("name=\"seen\""),
        "no log form without a customer"
    );

    // A time in the future is refused with what was typed.
    let later = (Utc::now() + Days::days(2))
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let refused = s
        .browser
        .submit(
            "/calls/new",
            &[
                ("direction", "inbound"),
                ("number", "555 0199"),
                ("when", &later),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("cannot be in the future") && html.contains("555 0199"),
        "{html}"
    );

    // Something that is not a number is refused, shown back as text.
    let calls_before = s.app.calls().await.len();
    let script = s
        .browser
        .submit(
            "/calls/new",
            &[("direction", "inbound"), ("number", "<script>x</script>")],
        )
        .await;
    assert_eq!(script.status(), 422);
    let html = script.text().await.unwrap();
    assert!(
        html.contains("Type the number") && html.contains("&#60;script&#62;"),
        "{html}"
    );
    assert_eq!(s.app.calls().await.len(), calls_before);
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_or_oversized_notes_come_back_with_the_typed_text_and_nothing_written() {
    let mut s = setup().await;

    let (status, html) = send_log(
        &mut s,
        &[
            ("topic", "new"),
            ("title", "Broken <widget>"),
            ("notes", "   "),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("Write what was discussed."), "{html}");
    assert!(
        html.contains("value=\"Broken &#60;widget&#62;\"")
            || html.contains("Broken &lt;widget&gt;"),
        "{html}"
    );
    nothing_logged(&s).await;

    let long = "x".repeat(10_001);
    let (status, html) = send_log(
        &mut s,
        &[("topic", "new"), ("title", "Too much"), ("notes", &long)],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("at most 10000 characters") && html.contains(&long),
        "kept"
    );
    nothing_logged(&s).await;

    let (status, html) =
        send_log(&mut s, &[("topic", "new"), ("title", ""), ("notes", "hi")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("type a title for a new one") && html.contains(">hi</textarea>"));
    nothing_logged(&s).await;
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_of_another_customer_is_refused() {
    let mut s = setup().await;
    let other = s
        .app
        .store
        .insert_customer(&callpop::store::customers::NewCustomer {
            name: "Other Ltd".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let theirs = s
        .app
        .store
        .create_topic(other, "Their topic", None, Utc::now())
        .await
        .unwrap();

    let (status, html) = send_log(
        &mut s,
        &[
            ("topic", &theirs.to_string()),
            ("notes", "typed while talking"),
        ],
    )
    .await;
    assert_eq!(status, 409);
    assert!(html.contains("not one of this customer") && html.contains("typed while talking"));
    nothing_logged(&s).await;
    assert!(s
        .app
        .store
        .topic_conversations(theirs)
        .await
        .unwrap()
        .is_empty());

    // The customer field itself cannot be swapped for another customer.
    let seen = "0".to_string();
    let response = s
        .browser
        .submit(
            &format!("/calls/{}/conversations", s.call),
            &[
                ("customer", &other.to_string()),
                ("seen", &seen),
                ("topic", "new"),
                ("title", "Sneaky"),
                ("notes", "kept text"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("kept text"));
    nothing_logged(&s).await;
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_or_forged_log_form_writes_nothing_more() {
    let mut s = setup().await;
    let page = s
        .browser
        .get(&format!("/calls/{}", s.call))
        .await
        .text()
        .await
        .unwrap();
    let customer = field(&page, "customer").unwrap();
    let fields = [
        ("customer", customer.as_str()),
        ("seen", "0"),
        ("topic", "new"),
        ("title", "Once"),
        ("notes", "only once please"),
    ];

    // Forged: no session token.
    let path = format!("/calls/{}/conversations", s.call);
    let mut forged = fields.to_vec();
    forged.push(("csrf", "not-the-token"));
    assert_eq!(s.browser.post(&path, &forged).await.status(), 403);
    nothing_logged(&s).await;

    // Sent, then replayed as is.
    assert_eq!(s.browser.submit(&path, &fields).await.status(), 303);
    let replay = s.browser.submit(&path, &fields).await;
    assert_eq!(replay.status(), 409);
    let html = replay.text().await.unwrap();
    assert!(
        html.contains("sent twice") && html.contains("only once please"),
        "{html}"
    );
    assert_eq!(
        s.app.store.call_conversations(s.call).await.unwrap().len(),
        1
    );
    assert_eq!(
        s.app
            .store
            .topics_of_customer(s.customer, false)
            .await
            .unwrap()
            .len(),
        1
    );
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_resolve_is_refused_and_keeps_the_note() {
    let mut s = setup().await;
    let topic = s
        .app
        .store
        .create_topic(s.customer, "Stale", None, Utc::now())
        .await
        .unwrap();

    // Someone resolves and reopens it while Anna's page still says version 1.
    s.app
        .store
        .resolve_topic(topic, 1, None, "ben", "", Utc::now())
        .await
        .unwrap();
    s.app
        .store
        .reopen_topic(topic, 2, None, "", Utc::now())
        .await
        .unwrap();
    let response = s
        .browser
        .submit(
            &format!("/topics/{topic}/resolve"),
            &[("version", "1"), ("note", "my careful note")],
        )
        .await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(html.contains("changed by someone else") && html.contains("my careful note"));
    let now = s.app.store.topic(topic).await.unwrap().unwrap();
    assert!(now.is_open() && now.version == 3);
    assert_eq!(s.app.store.topic_events(topic).await.unwrap().len(), 3);
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_in_the_past_on_others_calendars_or_clashing_are_held_back() {
    let mut s = setup().await;
    let ben = add_user(&s.app, "ben", "rep", &["202"], "ben-password").await;
    let topic = s
        .app
        .store
        .create_topic(s.customer, "Ring back", None, Utc::now())
        .await
        .unwrap();
    let path = format!("/topics/{topic}/callbacks");
    let anna = s.anna.to_string();
    let yesterday = (Utc::now() - Days::days(1)).date_naive().to_string();
    let tomorrow = (Utc::now() + Days::days(1)).date_naive().to_string();

    // In the past.
    let past = s
        .browser
        .submit(
            &path,
            &[
                ("user", &anna),
                ("date", &yesterday),
                ("time", "13:00"),
                ("minutes", "15"),
                ("note", "past note"),
            ],
        )
        .await;
    assert_eq!(past.status(), 422);
    let html = past.text().await.unwrap();
    assert!(
        html.contains("That time has passed") && html.contains("past note"),
        "{html}"
    );
    assert!(s.app.store.topic_callbacks(topic).await.unwrap().is_empty());

    // On another rep's calendar.
    let other = s
        .browser
        .submit(
            &path,
            &[
                ("user", &ben.to_string()),
                ("date", &tomorrow),
                ("time", "13:00"),
                ("minutes", "15"),
            ],
        )
        .await;
    assert_eq!(other.status(), 403);
    assert!(s.app.store.topic_callbacks(topic).await.unwrap().is_empty());

    // A clash is a warning until confirmed.
    let slot = [
        ("user", anna.as_str()),
        ("date", tomorrow.as_str()),
        ("time", "13:00"),
        ("minutes", "30"),
    ];
    assert_eq!(s.browser.submit(&path, &slot).await.status(), 303);
    let mut again = slot.to_vec();
    again[2] = ("time", "13:15");
    let clash = s.browser.submit(&path, &again).await;
    assert_eq!(clash.status(), 409);
    let html = clash.text().await.unwrap();
    assert!(html.contains("overlaps another callback") && html.contains("Schedule anyway"));
    assert_eq!(s.app.store.topic_callbacks(topic).await.unwrap().len(), 1);
    again.push(("confirm", "yes"));
    assert_eq!(s.browser.submit(&path, &again).await.status(), 303);
    assert_eq!(s.app.store.topic_callbacks(topic).await.unwrap().len(), 2);

    // A free slot picked from the day view is taken as the time.
    let picked = [
        ("user", anna.as_str()),
        ("date", tomorrow.as_str()),
        ("slot", "16:30"),
    ];
    assert_eq!(s.browser.submit(&path, &picked).await.status(), 303);
    let callbacks = s.app.store.topic_callbacks(topic).await.unwrap();
    assert_eq!(
        callbacks.last().unwrap().due_at.format("%H:%M").to_string(),
        "16:30"
    );
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reps_close_their_own_callbacks_and_managers_see_every_overdue_one() {
    use callpop::store::callbacks::NewCallback;

    let mut s = setup().await;
    let ben = add_user(&s.app, "ben", "rep", &["202"], "ben-password").await;
    let boss = add_user(&s.app, "boss", "manager", &[], "boss-password").await;
    let topic = s
        .app
        .store
        .create_topic(s.customer, "Late", None, Utc::now())
        .await
        .unwrap();
    let overdue = NewCallback {
        topic_id: topic,
        user_id: s.anna,
        contact_id: None,
        due_at: Utc::now() - Days::hours(2),
        minutes: 15,
        note: String::new(),
        created_by: Some(s.anna),
        created_at: Utc::now() - Days::days(1),
    };
    let id = s.app.store.insert_callback(&overdue).await.unwrap();

    // Anna's week shows it overdue; so does the team view of a manager.
    let week = s.browser.get("/calendar").await.text().await.unwrap();
    assert!(
        week.contains("1 overdue") && week.contains("scheduled, overdue"),
        "{week}"
    );
    let mut manager = session_for(&s.app, boss).await;
    let team = manager.get("/calendar").await.text().await.unwrap();
    assert!(
        team.contains("Team calendar") && team.contains(">ben</a>"),
        "{team}"
    );
    assert!(team.contains("1 overdue"), "{team}");

    // Reps see and close their own only; a manager closes anyone's.
    let mut b = session_for(&s.app, ben).await;
    let peek = b.get(&format!("/calendar?user={}", s.anna)).await;
    assert_eq!(peek.status(), 403);
    let refused = b.submit(&format!("/callbacks/{id}/done"), &[]).await;
    assert_eq!(refused.status(), 403);
    assert!(s
        .app
        .store
        .callback(id)
        .await
        .unwrap()
        .unwrap()
        .is_scheduled());
    let done = manager
        .submit(&format!("/callbacks/{id}/done"), &[("back", "/calendar")])
        .await;
    assert_eq!(done.status(), 303);
    let closed = s.app.store.callback(id).await.unwrap().unwrap();
    assert_eq!(
        (closed.status.as_str(), closed.closed_by.as_deref()),
        ("done", Some("boss"))
    );
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_logs_lists_and_schedules_with_the_same_checks() {
    let s = setup().await;
    let token = api_token_for(&s.app, s.anna).await;
    let api = |method: reqwest::Method, path: &str| {
        s.app
            .client
            .request(method, s.app.url(path))
            .bearer_auth(&token)
    };

    let logged = api(reqwest::Method::POST, "/api/v1/conversations")
        .json(&json!({"customer_id": s.customer, "call_id": s.call,
                      "new_topic": "Via the API", "notes": "scripted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(logged.status(), 201);
    let topic = logged.json::<serde_json::Value>().await.unwrap()["topic_id"]
        .as_i64()
        .unwrap();

    let empty = api(reqwest::Method::POST, "/api/v1/conversations")
        .json(&json!({"customer_id": s.customer, "topic_id": topic, "notes": " "}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);

    let list = api(
        reqwest::Method::GET,
        &format!("/api/v1/topics?customer={}", s.customer),
    )
    .send()
    .await
    .unwrap()
    .json::<serde_json::Value>()
    .await
    .unwrap();
    assert_eq!(list[0]["title"], "Via the API");
    assert_eq!(list[0]["calls"], 1);

    let due = (Utc::now() + Days::days(1)).to_rfc3339();
    let slot = json!({"topic_id": topic, "due_at": due, "minutes": 30});
    let made = api(reqwest::Method::POST, "/api/v1/callbacks")
        .json(&slot)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let clash = api(reqwest::Method::POST, "/api/v1/callbacks")
        .json(&slot)
        .send()
        .await
        .unwrap();
    assert_eq!(clash.status(), 409);
    let past = json!({"topic_id": topic, "due_at": "2020-01-01T10:00:00Z"});
    let past = api(reqwest::Method::POST, "/api/v1/callbacks")
        .json(&past)
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 400);
    let mine = api(reqwest::Method::GET, "/api/v1/callbacks")
        .send()
        .await
        .unwrap();
    assert_eq!(
        mine.json::<serde_json::Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let one = api(reqwest::Method::GET, &format!("/api/v1/topics/{topic}"))
        .send()
        .await
        .unwrap();
    let version = one.json::<serde_json::Value>().await.unwrap()["version"]
        .as_i64()
        .unwrap();
    let resolve = api(
        reqwest::Method::POST,
        &format!("/api/v1/topics/{topic}/resolve"),
    )
    .json(&json!({"version": version, "note": "done by script"}))
    .send()
    .await
    .unwrap();
    assert_eq!(resolve.status(), 200);
    let mine = api(reqwest::Method::GET, "/api/v1/callbacks")
        .send()
        .await
        .unwrap();
    assert!(mine
        .json::<serde_json::Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .is_empty());
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_a_call_logged_under_a_customer_it_is_not_about() {
    let mut s = setup().await;
    let other = callpop::store::customers::NewCustomer {
        name: "Other Works".into(),
        ..Default::default()
    };
    let other = s.app.store.insert_customer(&other).await.unwrap();
    let token = api_token_for(&s.app, s.anna).await;
    let refused = s
        .app
        .client
        .post(s.app.url("/api/v1/conversations"))
        .bearer_auth(&token)
        .json(&json!({"customer_id": other, "call_id": s.call,
                      "new_topic": "Filed wrong", "notes": "not theirs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body = refused.text().await.unwrap();
    assert!(body.contains("not about this customer"), "{body}");
    nothing_logged(&s).await;
    let theirs = s.app.store.topics_of_customer(other, false).await.unwrap();
    assert!(theirs.is_empty(), "{theirs:?}");

    // The page refuses the same customer, and the call's own still logs.
    let page = s.browser.get(&format!("/calls/{}", s.call)).await;
    let page = page.text().await.unwrap();
    let seen = field(&page, "seen").unwrap();
    let other = other.to_string();
    let fields = [
        ("customer", other.as_str()),
        ("seen", seen.as_str()),
        ("topic", "new"),
        ("title", "Filed wrong"),
        ("notes", "not theirs"),
    ];
    let path = format!("/calls/{}/conversations", s.call);
    let sent = s.browser.submit(&path, &fields).await;
    assert_eq!(sent.status(), 422);
    assert!(sent
        .text()
        .await
        .unwrap()
        .contains("Pick the customer this call is about"));
    nothing_logged(&s).await;
    let right = [
        ("topic", "new"),
        ("title", "Right one"),
        ("notes", "theirs"),
    ];
    let (status, _) = send_log(&mut s, &right).await;
    assert_eq!(status, 303);
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_schedules_no_callback_for_a_deactivated_rep() {
    let s = setup().await;
    let anna = api_token_for(&s.app, s.anna).await;
    let logged = s
        .app
        .client
        .post(s.app.url("/api/v1/conversations"))
        .bearer_auth(&anna)
        .json(&json!({"customer_id": s.customer, "new_topic": "Follow up", "notes": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(logged.status(), 201);
    let topic = logged.json::<serde_json::Value>().await.unwrap()["topic_id"]
        .as_i64()
        .unwrap();
    let gone = add_user(&s.app, "gone", "rep", &["299"], "gone-password").await;
    let pool = sqlx::SqlitePool::connect(&s.app.database_url)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET active = 0 WHERE id = $1")
        .bind(gone)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let mia = add_user(&s.app, "mia", "manager", &[], "mia-password").await;
    let mia = api_token_for(&s.app, mia).await;

    let due = (Utc::now() + Days::days(1)).to_rfc3339();
    let refused = s
        .app
        .client
        .post(s.app.url("/api/v1/callbacks"))
        .bearer_auth(&mia)
        .json(&json!({"topic_id": topic, "user_id": gone, "due_at": due, "minutes": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(s.app.store.topic_callbacks(topic).await.unwrap().is_empty());
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_in_the_hour_clocks_skip_is_named_for_what_it_is() {
    let app = spawn_app(&[("CALLPOP_COMPANY__TIME_ZONE", "Europe/Berlin")]).await;
    let (customer, _) = acme(&app).await;
    let anna = add_user(&app, "anna", "rep", &["201"], "anna-password").await;
    let mut browser = session_for(&app, anna).await;
    let topic = app
        .store
        .create_topic(customer, "Ring back", None, Utc::now())
        .await
        .unwrap();

    // Berlin's clocks go from 02:00 to 03:00 on the last Sunday of March.
    let response = browser
        .submit(
            &format!("/topics/{topic}/callbacks"),
            &[
                ("user", &anna.to_string()),
                ("date", "2030-03-31"),
                ("time", "02:30"),
                ("minutes", "15"),
                ("note", "gap note"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("does not exist in Europe/Berlin"), "{html}");
    assert!(html.contains("gap note"), "the note is kept");
    assert!(app.store.topic_callbacks(topic).await.unwrap().is_empty());
    app.stop().await;
}
