//! The customer pages and API as reps and managers use them: search by name,
//! contact, email or a number typed any way; edits refused when stale with
//! the typed text kept; contacts and numbers; merging; turning an unknown
//! caller into a customer or attaching the call to one; click-to-dial from
//! the pages against a replaying Asterisk.

use std::time::Duration;

use callpop::calls::NewCall;
use callpop::telephony::Direction;
use serde_json::{json, Value};

use crate::ami_server::{AmiServer, Options, Script};
use crate::helpers::{
    add_user, api_token_for, eventually, session_for, spawn_app, spawn_app_with_config, Browser,
    TestApp,
};

const WAIT: Duration = Duration::from_secs(10);

/// A rep at extension 201, signed in.
async fn rep(app: &TestApp) -> (i64, Browser) {
    let id = add_user(app, "rita", "rep", &["201"], "rita-password").await;
    (id, session_for(app, id).await)
}

/// Adds a customer through the form; returns its id from the redirect.
async fn add_customer(browser: &mut Browser, fields: &[(&str, &str)]) -> i64 {
    let response = browser.submit("/customers", fields).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let to = location(&response);
    let id = to
        .strip_prefix("/customers/")
        .and_then(|rest| rest.split('?').next())
        .and_then(|id| id.parse().ok());
    id.unwrap_or_else(|| panic!("not a customer page: {to}"))
}

fn location(response: &reqwest::Response) -> String {
    let header = response.headers().get("location").expect("a redirect");
    header.to_str().unwrap().to_owned()
}

async fn page(browser: &mut Browser, path: &str) -> String {
    let response = browser.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// The names a customer list page shows, in order.
fn listed(html: &str) -> Vec<String> {
    let Some(results) = html.split("id=\"results\"").nth(1) else {
        return Vec::new();
    };
    results
        .split("<a href=\"/customers/")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.split_once('>')?.1;
            Some(name.split('<').next()?.to_owned())
        })
        .collect()
}

/// A call from `raw` that rang at extension 201.
async fn call_from(app: &TestApp, raw: &str, name: &str) -> i64 {
    let call = NewCall {
        link: "sip".into(),
        pbx_call_id: format!("test-{raw}-{name}"),
        direction: Direction::Inbound,
        remote_raw: Some(raw.into()),
        remote_e164: None,
        remote_name: Some(name.into()),
        withheld: false,
        extension: "201".into(),
        customer_id: None,
        contact_id: None,
        matches: Vec::new(),
        started_at: chrono::Utc::now(),
    };
    app.store.insert_call(&call).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_found_by_name_contact_email_or_a_number_written_any_way() {
    let app = spawn_app(&[]).await;
    let (_, mut browser) = rep(&app).await;
    add_customer(
        &mut browser,
        &[
            ("name", "Acme Widgets"),
            ("number", "(555) 010-1234"),
            ("kind", "work"),
            ("contact_name", "Ann Lee"),
            ("contact_email", "ann@acme.example"),
        ],
    )
    .await;
    add_customer(
        &mut browser,
        &[("name", "Beta Tools"), ("number", "+44 20 7946 0958")],
    )
    .await;

    for q in [
        "acme",
        "WIDGETS",
        "ann l",
        "ANN@ACME",
        "(555) 010-1234",
        "+1 555 010 1234",
        "5550101234",
        "555.010.1234",
    ] {
        let html = page(&mut browser, &format!("/customers?q={}", urlencode(q))).await;
        assert_eq!(listed(&html), ["Acme Widgets"], "{q}");
    }
    let html = page(&mut browser, "/customers?q=%2B44%2020%207946%200958").await;
    assert_eq!(listed(&html), ["Beta Tools"]);
    let html = page(&mut browser, "/customers").await;
    assert_eq!(listed(&html), ["Acme Widgets", "Beta Tools"]);
    assert!(html.contains("autofocus"), "the search box takes the keys");

    // The API finds the same.
    let token = api_token_for(
        &app,
        add_user(&app, "api", "rep", &[], "api-password").await,
    )
    .await;
    let found: Value = app
        .client
        .get(app.url("/api/v1/customers?q=%2B1%20555%20010%201234"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["by_number"], true, "{found:#}");
    assert_eq!(found["customers"][0]["name"], "Acme Widgets", "{found:#}");
    app.stop().await;
}

fn urlencode(text: &str) -> String {
    let keep = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    let bytes = text.bytes();
    bytes
        .map(|b| match keep(b) {
            true => (b as char).to_string(),
            false => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_with_a_mistake_comes_back_with_everything_typed_and_writes_nothing() {
    let app = spawn_app(&[]).await;
    let (_, mut browser) = rep(&app).await;

    let typed = [
        ("name", "  "),
        ("number", "(212) 555-0142"),
        ("contact_name", "Ann Lee"),
        ("contact_email", "ann@acme.example"),
        ("notes", "pays late & <early>"),
    ];
    let response = browser.submit("/customers", &typed).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("Name is needed."), "{html}");
    for kept in [
        "(212) 555-0142",
        "Ann Lee",
        "ann@acme.example",
        "pays late &#38; &#60;early&#62;",
    ] {
        assert!(html.contains(kept), "{kept} kept in {html}");
    }

    let long = "x".repeat(201);
    let response = browser.submit("/customers", &[("name", &long)]).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("at most 200 fit"));
    let response = browser
        .submit(
            "/customers",
            &[("name", "Acme"), ("number", "1-800-FLOWERS")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("not a phone number"));
    let response = browser
        .submit("/customers", &[("name", "Acme"), ("contact_email", "ann")])
        .await;
    assert_eq!(response.status(), 422);

    let all = page(&mut browser, "/customers").await;
    assert!(listed(&all).is_empty(), "nothing written: {all}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_edit_is_refused_and_keeps_what_was_typed() {
    let app = spawn_app(&[]).await;
    let (_, mut rita) = rep(&app).await;
    let sam = add_user(&app, "sam", "rep", &["202"], "sam-password").await;
    let mut sam = session_for(&app, sam).await;
    let id = add_customer(&mut rita, &[("name", "Acme")]).await;
    let path = format!("/customers/{id}");

    // Both read version 1; Rita saves first.
    let first = rita
        .submit(
            &path,
            &[("name", "Acme Corp"), ("notes", ""), ("version", "1")],
        )
        .await;
    assert_eq!(first.status(), 303);
    let second = sam
        .submit(
            &path,
            &[
                ("name", "ACME (Sam)"),
                ("notes", "Sam's notes"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(second.status(), 409);
    let html = second.text().await.unwrap();
    assert!(html.contains("Someone changed this"), "{html}");
    assert!(
        html.contains("ACME (Sam)") && html.contains("Sam&#39;s notes"),
        "{html}"
    );
    assert!(
        html.contains("name=\"version\" value=\"2\""),
        "the form now names version 2"
    );

    let stored = app.store.customer(id).await.unwrap().unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.notes.as_str()),
        ("Acme Corp", "")
    );

    // Contacts carry their own version.
    let added = rita
        .submit(
            &format!("{path}/contacts"),
            &[("name", "Ann"), ("number", "212 555 0142")],
        )
        .await;
    assert_eq!(added.status(), 303);
    let contact = app.store.customer(id).await.unwrap().unwrap().contacts[0].id;
    let contact_path = format!("{path}/contacts/{contact}");
    let saved = rita
        .submit(&contact_path, &[("name", "Ann Lee"), ("version", "1")])
        .await;
    assert_eq!(saved.status(), 303);
    let stale = sam
        .submit(&contact_path, &[("name", "Annie"), ("version", "1")])
        .await;
    assert_eq!(stale.status(), 409);
    assert!(stale.text().await.unwrap().contains("Annie"));
    assert_eq!(
        app.store.customer(id).await.unwrap().unwrap().contacts[0].name,
        "Ann Lee"
    );

    // The API answers a stale version with 409.
    let token = api_token_for(
        &app,
        add_user(&app, "api", "rep", &[], "api-password").await,
    )
    .await;
    let patch = |version: i64| {
        app.client
            .patch(app.url(&format!("/api/v1/customers/{id}")))
            .bearer_auth(&token)
            .json(&json!({"notes": "from the api", "version": version}))
            .send()
    };
    assert_eq!(patch(1).await.unwrap().status(), 409);
    let saved: Value = patch(2).await.unwrap().json().await.unwrap();
    assert_eq!(saved["version"], 3);
    let contact_url = app.url(&format!("/api/v1/customers/{id}/contacts/{contact}"));
    let edit_contact = |version: i64| {
        app.client
            .post(&contact_url)
            .bearer_auth(&token)
            .json(&json!({"name": "Ann B. Lee", "version": version}))
            .send()
    };
    assert_eq!(edit_contact(1).await.unwrap().status(), 409);
    assert_eq!(edit_contact(2).await.unwrap().status(), 200);
    let remove = app
        .client
        .post(format!("{contact_url}/remove"))
        .bearer_auth(&token);
    assert_eq!(remove.send().await.unwrap().status(), 204);
    let left = app.store.customer(id).await.unwrap().unwrap();
    assert!(
        left.contacts.is_empty() && left.numbers.is_empty(),
        "{left:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_and_contacts_are_added_to_their_own_customer_only() {
    let app = spawn_app(&[]).await;
    let (_, mut browser) = rep(&app).await;
    let acme = add_customer(&mut browser, &[("name", "Acme"), ("contact_name", "Ann")]).await;
    let beta = add_customer(&mut browser, &[("name", "Beta"), ("contact_name", "Bob")]).await;
    let bob = app.store.customer(beta).await.unwrap().unwrap().contacts[0].id;

    let numbers = format!("/customers/{acme}/numbers");
    let response = browser
        .submit(&numbers, &[("number", "+1 212 555 0100"), ("kind", "fax")])
        .await;
    assert_eq!(response.status(), 303);
    let bad = browser
        .submit(&numbers, &[("number", "call me"), ("kind", "work")])
        .await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("value=\"call me\""));
    let foreign = browser
        .submit(
            &numbers,
            &[("number", "212 555 0101"), ("contact", &bob.to_string())],
        )
        .await;
    assert_eq!(foreign.status(), 400, "Bob is Beta's");

    let stored = app.store.customer(acme).await.unwrap().unwrap();
    assert_eq!(stored.numbers.len(), 1);
    assert_eq!(stored.numbers[0].e164.as_deref(), Some("+12125550100"));
    let html = page(&mut browser, &format!("/customers/{acme}")).await;
    assert!(
        html.contains("(212) 555-0100") && html.contains("action=\"/dial\""),
        "{html}"
    );
    assert!(
        html.contains("name=\"number\" value=\"+12125550100\""),
        "the Call button"
    );
    let csrf = format!("name=\"csrf\" value=\"{}\"", browser.csrf.clone().unwrap());
    let button = html.split("action=\"/dial\"").nth(1).unwrap();
    assert!(
        button.split("</form>").next().unwrap().contains(&csrf),
        "{button}"
    );

    let removed = browser
        .submit(
            &format!("/customers/{beta}/numbers/{}/remove", stored.numbers[0].id),
            &[],
        )
        .await;
    assert_eq!(removed.status(), 404, "not Beta's number");
    let removed = browser
        .submit(
            &format!("/customers/{acme}/numbers/{}/remove", stored.numbers[0].id),
            &[],
        )
        .await;
    assert_eq!(removed.status(), 303);
    assert!(app
        .store
        .customer(acme)
        .await
        .unwrap()
        .unwrap()
        .numbers
        .is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_merge_a_duplicate_which_then_leads_to_the_kept_customer() {
    let app = spawn_app(&[]).await;
    let (_, mut rita) = rep(&app).await;
    let acme = add_customer(&mut rita, &[("name", "Acme"), ("number", "212 555 0100")]).await;
    let dupe = add_customer(
        &mut rita,
        &[
            ("name", "ACME Inc."),
            ("contact_name", "Ann"),
            ("number", "212 555 0142"),
        ],
    )
    .await;
    let call = call_from(&app, "2125550142", "Ann").await;
    let attach = format!("/calls/{call}/attach");
    let attached = rita
        .submit(&attach, &[("customer", &dupe.to_string())])
        .await;
    assert_eq!(attached.status(), 303);

    let merge = format!("/customers/{acme}/merge");
    assert_eq!(rita.get(&merge).await.status(), 403);
    let fields = [("duplicate", dupe.to_string())];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(rita.submit(&merge, &fields).await.status(), 403);

    let manager = add_user(&app, "mia", "manager", &[], "mia-password").await;
    let mut mia = session_for(&app, manager).await;
    let found = page(&mut mia, &format!("{merge}?q=acme")).await;
    assert!(
        found.contains("ACME Inc.") && found.contains("name=\"duplicate\""),
        "{found}"
    );
    let itself = mia
        .submit(&merge, &[("duplicate", &acme.to_string())])
        .await;
    assert_eq!(itself.status(), 422);
    assert!(itself
        .text()
        .await
        .unwrap()
        .contains("cannot be merged into itself"));

    let merged = mia.submit(&merge, &fields).await;
    assert_eq!(merged.status(), 303);
    let kept = app.store.customer(acme).await.unwrap().unwrap();
    assert_eq!((kept.contacts.len(), kept.numbers.len()), (1, 2));
    let shown = page(&mut mia, &format!("/customers/{acme}")).await;
    assert!(
        shown.contains(&format!("href=\"/calls/{call}\"")),
        "the call moved: {shown}"
    );
    let to = mia.get(&format!("/customers/{dupe}")).await;
    assert_eq!(location(&to), format!("/customers/{acme}"));
    assert_eq!(listed(&page(&mut mia, "/customers?q=acme").await), ["Acme"]);
    let into_merged = format!("/customers/{dupe}/merge");
    let again = mia
        .submit(&into_merged, &[("duplicate", &acme.to_string())])
        .await;
    assert_eq!(again.status(), 422, "into a merged customer");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_caller_becomes_a_customer_or_is_attached_to_one() {
    let app = spawn_app(&[]).await;
    let (_, mut browser) = rep(&app).await;

    // The form comes filled from the call; saving goes back to the call.
    let call = call_from(&app, "+12125550177", "Zoë <b>Nuñez</b>").await;
    let form = page(&mut browser, &format!("/customers/new?call={call}")).await;
    assert!(form.contains("value=\"(212) 555-0177\""), "{form}");
    assert!(form.contains("Zoë &#60;b&#62;Nuñez&#60;/b&#62;"), "{form}");
    let saved = browser
        .submit(
            "/customers",
            &[
                ("name", "Nuñez Bakery"),
                ("number", "(212) 555-0177"),
                ("contact_name", "Zoë Nuñez"),
                ("call", &call.to_string()),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), format!("/calls/{call}"));
    let record = app.store.call(call).await.unwrap().unwrap();
    let matched: Vec<_> = record
        .matches
        .iter()
        .map(|m| {
            (
                m.customer_name.as_str(),
                m.contact_name.as_deref(),
                m.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(matched, [("Nuñez Bakery", Some("Zoë Nuñez"), "assigned")]);

    // Made again from the same call: refused, with what was typed kept,
    // until the form says to move the call.
    let again = [("name", "Nuñez & Sons"), ("call", &call.to_string())];
    let refused = browser.submit("/customers", &again).await;
    assert_eq!(refused.status(), 422);
    let form = refused.text().await.unwrap();
    assert!(
        form.contains("tick replace") && form.contains("Nuñez &#38; Sons"),
        "{form}"
    );
    assert!(listed(&page(&mut browser, "/customers?q=sons").await).is_empty());

    // A second caller is attached to a customer that exists; the number
    // goes onto the contact chosen.
    let acme = add_customer(&mut browser, &[("name", "Acme"), ("contact_name", "Ann")]).await;
    let ann = app.store.customer(acme).await.unwrap().unwrap().contacts[0].id;
    let other = call_from(&app, "2125550188", "ANN LEE").await;
    let attach = format!("/calls/{other}/attach");
    let search = page(&mut browser, &format!("{attach}?q=acme")).await;
    assert!(search.contains(&format!("customer={acme}")), "{search}");
    let chosen = page(&mut browser, &format!("{attach}?customer={acme}")).await;
    assert!(
        chosen.contains(&format!("<option value=\"{ann}\">Ann</option>")),
        "{chosen}"
    );
    let done = browser
        .submit(
            &attach,
            &[
                ("customer", &acme.to_string()),
                ("contact", &ann.to_string()),
            ],
        )
        .await;
    assert_eq!(done.status(), 303);
    let numbers = app.store.customer(acme).await.unwrap().unwrap().numbers;
    assert_eq!(numbers.len(), 1);
    assert_eq!(numbers[0].contact_id, Some(ann));
    let looked_up = app.api("/api/v1/lookup?number=%2B12125550188").await;
    assert_eq!(
        looked_up["matches"][0]["customer_name"], "Acme",
        "{looked_up:#}"
    );

    // Moving a call to another customer must be asked for.
    let bakery = record.matches[0].customer_id.to_string();
    let moved = browser.submit(&attach, &[("customer", &bakery)]).await;
    assert_eq!(moved.status(), 422);
    assert!(moved.text().await.unwrap().contains("tick replace"));
    let replaced = browser
        .submit(&attach, &[("customer", &bakery), ("replace", "on")])
        .await;
    assert_eq!(replaced.status(), 303);

    // A call that rang at another rep's phone is not theirs to attach.
    let sam = add_user(&app, "sam", "rep", &["202"], "sam-password").await;
    let mut sam = session_for(&app, sam).await;
    let refused = sam
        .submit(
            &attach,
            &[("customer", &acme.to_string()), ("replace", "on")],
        )
        .await;
    assert_eq!(refused.status(), 403);
    app.stop().await;
}

/// A `[[links]]` entry for the replaying Asterisk on `port`, ringing phones as
/// `SIP/{extension}` as the recording did.
fn link_toml(port: u16) -> String {
    format!(
        "[[links]]\nkind = \"ami\"\nname = \"office\"\nhost = \"127.0.0.1\"\nport = {port}\n\
         username = \"crm\"\nsecret = \"crmsecret\"\ntrunk_contexts = [\"from-trunk\"]\n\
         internal_contexts = [\"from-internal\"]\nping_secs = 20\nstale_after_secs = 14400\n\
         ask_presentation = true\noriginate_channel = \"SIP/{{extension}}\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_button_dials_from_the_reps_phone_and_follows_it_to_the_call_record() {
    let server = AmiServer::start(
        Script::fixture("ami-i-originate-click-to-dial.txt"),
        Options::default().held(),
    )
    .await;
    let app = spawn_app_with_config(&[], &link_toml(server.port())).await;
    let listed = server.wait_for_action("CoreShowChannels", WAIT).await;
    listed.expect("callpop logs in and lists the channels");
    server.play();
    let up = eventually(WAIT, async || {
        let links = app.api("/api/v1/links").await;
        (links[0]["state"] == "connected").then_some(())
    })
    .await;
    up.expect("the link connects");

    let (_, mut browser) = rep(&app).await;
    let fields = [("number", "+1 (555) 019-902"), ("back", "/customers/7")];
    let started = browser.submit("/dial", &fields).await;
    assert_eq!(started.status(), 303);
    let status_page = location(&started);
    assert!(status_page.starts_with("/dial/"), "{status_page}");
    assert!(status_page.ends_with("?back=/customers/7"), "{status_page}");
    let first = page(&mut browser, &status_page).await;
    let over = first.contains("id=\"call-record\"");
    assert!(
        over || first.contains("http-equiv=\"refresh\""),
        "follows while not over: {first}"
    );
    assert!(first.contains("href=\"/customers/7\""), "{first}");

    let originate = server.wait_for_action("Originate", WAIT).await;
    let originate = originate.expect("callpop sends an Originate");
    assert_eq!(originate.get("Channel"), Some("SIP/201"), "{originate:?}");
    assert_eq!(originate.get("Exten"), Some("+1555019902"), "{originate:?}");

    let done = eventually(WAIT, async || {
        let html = page(&mut browser, &status_page).await;
        html.contains("id=\"call-record\"").then_some(html)
    })
    .await;
    let done = done.expect("the page links the call record");
    assert!(done.contains(">answered<"), "{done}");
    assert!(
        !done.contains("http-equiv=\"refresh\""),
        "stops once over: {done}"
    );
    let call = app.calls().await[0].clone();
    assert!(
        done.contains(&format!("href=\"/calls/{}\"", call["id"])),
        "{done}"
    );
    // The record is marked as started from callpop once the link says so.
    let path = format!("/api/v1/calls/{}", call["id"]);
    let marked = eventually(WAIT, async || {
        (app.api(&path).await["originated"] == true).then_some(())
    })
    .await;
    assert!(marked.is_some(), "{:#}", app.api(&path).await);

    // Another rep cannot follow Rita's dial.
    let sam = add_user(&app, "sam", "rep", &["202"], "sam-password").await;
    assert_eq!(
        session_for(&app, sam)
            .await
            .get(&status_page)
            .await
            .status(),
        404
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_ami_link_the_call_button_says_why_it_cannot_dial() {
    let app = spawn_app(&[]).await;
    let (_, mut browser) = rep(&app).await;
    let response = browser
        .submit("/dial", &[("number", "212 555 0100"), ("back", "/calls/1")])
        .await;
    assert_eq!(response.status(), 503);
    let html = response.text().await.unwrap();
    assert!(html.contains("Click-to-dial needs an AMI link"), "{html}");
    assert!(html.contains("href=\"/calls/1\""), "{html}");

    let bad = browser
        .submit(
            "/dial",
            &[("number", "555; Action: Logoff"), ("back", "//evil")],
        )
        .await;
    assert_eq!(bad.status(), 400);
    assert!(!bad.text().await.unwrap().contains("//evil"));
    let theirs = browser
        .submit("/dial", &[("number", "2125550100"), ("extension", "202")])
        .await;
    assert_eq!(theirs.status(), 403);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_fifty_customers_a_page() {
    let app = spawn_app(&[]).await;
    let (_, mut browser) = rep(&app).await;
    let many: Vec<_> = (0..51)
        .map(|i| callpop::store::customers::NewCustomer {
            name: format!("Customer {i:02}"),
            ..Default::default()
        })
        .collect();
    app.store.insert_customers(&many).await.unwrap();

    let first = page(&mut browser, "/customers?q=customer").await;
    assert_eq!(listed(&first).len(), 50);
    assert!(
        first.contains("href=\"/customers?q=customer&amp;page=2\""),
        "{first}"
    );
    let second = page(&mut browser, "/customers?q=customer&page=2").await;
    assert_eq!(listed(&second), ["Customer 50"]);
    assert!(!second.contains("rel=\"next\""), "{second}");
    app.stop().await;
}

#[tokio::test]
async fn a_new_customer_form_sent_twice_creates_one_customer() {
    let app = spawn_app(&[]).await;
    let (_, mut browser) = rep(&app).await;
    let form = page(&mut browser, "/customers/new").await;
    let once = crate::workflow::field(&form, "once").expect("the form carries a one-time value");
    assert!(!once.is_empty());

    let fields = [("once", once.as_str()), ("name", "Lakeside Supplies")];
    let first = browser.submit("/customers", &fields).await;
    assert_eq!(first.status(), 303);
    let again = browser.submit("/customers", &fields).await;
    assert_eq!(again.status(), 409);
    assert!(again.text().await.unwrap().contains("sent before"));

    let found = app
        .store
        .search_customers("Lakeside", callpop::store::customers::Page::default())
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");

    // The next form the page gives is a new one.
    let next = page(&mut browser, "/customers/new").await;
    assert_ne!(crate::workflow::field(&next, "once"), Some(once));
}
