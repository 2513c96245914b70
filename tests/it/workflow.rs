//! The workflow callpop is built around, end to end through the pages: a
//! customer calls rep A over SIP, A logs the call under a topic, schedules
//! a callback and settles a second topic in the same call; the customer
//! calls again, rep B adds to the topic and resolves it, and A's callback
//! leaves A's calendar and feed.

use std::time::Duration;

use callpop::store::customers::{NewContact, NewCustomer, NewNumber};
use chrono::{Duration as Days, Utc};

use crate::helpers::{
    add_user, api_token_for, pops_with, session_for, spawn_app, status, Browser, Request, SipUdp,
    TestApp,
};

const WAIT: Duration = Duration::from_secs(10);
const CALLER: &str = "+12125550142";

/// The value of the form field `name` on a page.
pub fn field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let rest = &html[html.find(&marker)? + marker.len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Acme with its contact Carla, whose number calls; ids of both.
pub async fn acme(app: &TestApp) -> (i64, i64) {
    let normalizer = callpop::lookup::Normalizer::new("US").unwrap();
    let number = normalizer.check(CALLER, normalizer.home()).unwrap();
    let new = NewCustomer {
        name: "Acme & Sons".into(),
        contacts: vec![NewContact {
            name: "Carla Diaz".into(),
            numbers: vec![NewNumber {
                number,
                kind: Default::default(),
            }],
            ..NewContact::default()
        }],
        ..NewCustomer::default()
    };
    let id = app.store.insert_customer(&new).await.unwrap();
    let contact = app.store.customer(id).await.unwrap().unwrap().contacts[0].id;
    (id, contact)
}

/// Rings `extension` from the customer's number with a raw SIP INVITE, as
/// a PBX does, and returns the call id from the pop the rep receives; the
/// caller then hangs up.
pub async fn call_in(app: &TestApp, token: &str, extension: &str) -> i64 {
    let mut pops = pops_with(app, token, &format!("?extension={extension}")).await;
    let udp = SipUdp::new(app.sip).await;
    let invite = Request::new("INVITE", extension, CALLER);
    let answers = udp.exchange(&invite, 180).await;
    assert_eq!(status(answers.last().unwrap()), 180, "{answers:?}");
    let pop = pops.next(WAIT).await.expect("a pop for the call");
    assert_eq!(pop.event, "pop", "{pop:?}");
    let call_id = pop.data["call_id"]
        .as_i64()
        .expect("the pop names its call");

    udp.send(&invite.cancel().bytes()).await;
    let mut terminated = None;
    while terminated.is_none() {
        let answer = udp.answer().await;
        if status(&answer) == 487 {
            terminated = Some(answer);
        }
    }
    udp.send(&invite.ack(&terminated.unwrap()).bytes()).await;
    call_id
}

/// Logs one conversation from the call page as a rep does: reads the page
/// for its hidden fields, then sends the form.
async fn log(browser: &mut Browser, call: i64, fields: &[(&str, &str)]) -> String {
    let page = browser
        .get(&format!("/calls/{call}"))
        .await
        .text()
        .await
        .unwrap();
    let customer = field(&page, "customer").expect("the log form names the customer");
    let seen = field(&page, "seen").expect("the log form counts what it saw");
    let mut all = vec![("customer", customer.as_str()), ("seen", seen.as_str())];
    all.extend_from_slice(fields);
    let response = browser
        .submit(&format!("/calls/{call}/conversations"), &all)
        .await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn topic_id(app: &TestApp, customer: i64, title: &str) -> (i64, i64) {
    let topics = app.store.topics_of_customer(customer, false).await.unwrap();
    let topic = topics
        .iter()
        .find(|t| t.title == title)
        .expect("the topic exists");
    (topic.id, topic.version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_is_logged_called_back_and_resolved_by_another_rep() {
    let app = spawn_app(&[]).await;
    let (customer, carla) = acme(&app).await;
    let anna = add_user(&app, "anna", "rep", &["201"], "anna-password").await;
    let ben = add_user(&app, "ben", "rep", &["202"], "ben-password").await;
    let mut a = session_for(&app, anna).await;
    let mut b = session_for(&app, ben).await;

    // 1. The customer calls 201; Anna's pop leads to the call page, which
    // knows the customer and the contact.
    let first = call_in(&app, &api_token_for(&app, anna).await, "201").await;
    let page = a
        .get(&format!("/calls/{first}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Acme &#38; Sons") && page.contains("Carla Diaz"),
        "{page}"
    );
    assert!(
        page.contains("action=\"/dial\""),
        "click-to-dial is offered"
    );

    // 2. Anna logs it under a new topic T and asks for another topic.
    let carla = carla.to_string();
    let to = log(
        &mut a,
        first,
        &[
            ("topic", "new"),
            ("title", "Invoice 1042 paid twice"),
            ("contact", &carla),
            ("notes", "Carla says the March invoice was charged twice."),
            ("then", "another"),
        ],
    )
    .await;
    assert!(to.starts_with(&format!("/calls/{first}?")), "{to}");
    let (t, _) = topic_id(&app, customer, "Invoice 1042 paid twice").await;

    // 3. A callback tomorrow at 13:00 on T, picked beside Anna's day.
    let tomorrow = (Utc::now() + Days::days(1)).date_naive().to_string();
    let form = a
        .get(&format!("/topics/{t}/callbacks/new?call={first}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(form.contains("every slot is free"), "{form}");
    let anna_id = anna.to_string();
    let first_id = first.to_string();
    let made = a
        .submit(
            &format!("/topics/{t}/callbacks"),
            &[
                ("user", &anna_id),
                ("date", &tomorrow),
                ("time", "13:00"),
                ("minutes", "15"),
                ("note", "confirm the refund"),
                ("call", &first_id),
            ],
        )
        .await;
    assert_eq!(made.status(), 303, "{}", made.text().await.unwrap());
    assert!(made.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(&format!("/calls/{first}")));

    // 4. A second topic in the same call, resolved before hanging up.
    log(
        &mut a,
        first,
        &[
            ("topic", "new"),
            ("title", "New delivery address"),
            ("notes", "Moved to 5 Elm Street."),
        ],
    )
    .await;
    let (t2, v2) = topic_id(&app, customer, "New delivery address").await;
    let back = format!("/calls/{first}?customer={customer}");
    let resolved = a
        .submit(
            &format!("/topics/{t2}/resolve"),
            &[
                ("version", &v2.to_string()),
                ("note", "address updated"),
                ("back", &back),
            ],
        )
        .await;
    assert_eq!(resolved.status(), 303);
    assert_eq!(resolved.headers()["location"], back.as_str());

    // The callback is on Anna's calendar and in her feed.
    let feed_page = a.submit("/calendar/feed", &[]).await.text().await.unwrap();
    let feed = feed_url(&feed_page);
    let ics = reqwest::get(&feed).await.unwrap().text().await.unwrap();
    let compact = tomorrow.replace('-', "");
    assert!(ics.contains("Invoice 1042 paid twice"), "{ics}");
    assert!(ics.contains(&format!("DTSTART:{compact}T130000Z")), "{ics}");
    let calendar = a.get("/calendar").await.text().await.unwrap();
    assert!(
        calendar.contains("no feed") || calendar.contains("feed link made"),
        "{calendar}"
    );
    let day = a
        .get(&format!("/topics/{t}/callbacks/new?date={tomorrow}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(day.contains("<td>scheduled</td>"), "{day}");
    assert!(day.contains("title=\"taken\">13:00<") && !day.contains("value=\"13:00\""));

    // 5. The customer calls again; Ben sees T open (and only T), adds to it
    // and resolves it from the call page.
    let second = call_in(&app, &api_token_for(&app, ben).await, "202").await;
    assert_ne!(first, second);
    let page = b
        .get(&format!("/calls/{second}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Invoice 1042 paid twice"), "{page}");
    assert!(
        !page.contains("New delivery address"),
        "resolved topics are not offered"
    );
    let t_id = t.to_string();
    log(
        &mut b,
        second,
        &[
            ("topic", &t_id),
            ("notes", "Refund issued, Carla confirmed receipt."),
        ],
    )
    .await;
    let (_, version) = topic_id(&app, customer, "Invoice 1042 paid twice").await;
    let resolved = b
        .submit(
            &format!("/topics/{t}/resolve"),
            &[
                ("version", &version.to_string()),
                ("note", "refunded"),
                ("back", &format!("/calls/{second}")),
            ],
        )
        .await;
    assert_eq!(resolved.status(), 303);

    // Anna's callback is gone from her feed and her calendar, with why,
    // and 13:00 tomorrow is free again.
    let ics = reqwest::get(&feed).await.unwrap().text().await.unwrap();
    assert!(
        !ics.contains("Invoice 1042") && ics.contains("BEGIN:VCALENDAR"),
        "{ics}"
    );
    let day = a
        .get(&format!("/topics/{t}/callbacks/new?date={tomorrow}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !day.contains("<td>scheduled</td>") && day.contains("<td>cancelled</td>"),
        "{day}"
    );
    assert!(
        day.contains("name=\"slot\" value=\"13:00\""),
        "13:00 is offered again: {day}"
    );
    let callbacks = app.store.topic_callbacks(t).await.unwrap();
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0].status, "cancelled");
    assert_eq!(callbacks[0].close_reason, "topic resolved by ben");
    let thirteen = callbacks[0].due_at;
    assert!(app
        .store
        .clashing_callbacks(anna, thirteen, 15)
        .await
        .unwrap()
        .is_empty());

    // T shows two calls by two reps, every conversation, and who resolved it.
    let topic = a.get(&format!("/topics/{t}")).await.text().await.unwrap();
    assert!(
        topic.contains("2 calls</strong> by <span id=\"reps\">2 reps"),
        "{topic}"
    );
    assert!(
        topic.contains("charged twice") && topic.contains("Refund issued"),
        "{topic}"
    );
    assert!(topic.contains("resolved by ben: refunded"), "{topic}");
    assert!(
        topic.contains("<span class=\"tag\" id=\"status\">resolved</span>"),
        "{topic}"
    );
    app.stop().await;
}

/// The feed link a freshly made one shows.
pub fn feed_url(page: &str) -> String {
    let marker = "<code class=\"secret\" id=\"feed-url\">";
    let rest = &page[page.find(marker).expect("a feed link") + marker.len()..];
    rest[..rest.find('<').unwrap()].to_owned()
}
