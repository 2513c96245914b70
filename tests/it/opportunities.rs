//! Opportunities as sales people use them: opened on a topic from a call,
//! valued in the currency's units, moved through the stages on their page,
//! seen by everyone in the sales channel, and refused when the input is
//! wrong or the page is stale.

use serde_json::{json, Value};

use crate::helpers::{add_user, api_token_for, session_for, spawn_app, Browser, TestApp};

/// A customer with one open topic; returns the topic's id.
async fn topic(app: &TestApp, customer: &str, title: &str) -> i64 {
    let new = callpop::store::customers::NewCustomer {
        name: customer.into(),
        ..Default::default()
    };
    let customer = app.store.insert_customer(&new).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO topics (customer_id, title, status, opened_at) \
         VALUES ($1, $2, 'open', 1) RETURNING id",
    )
    .bind(customer)
    .bind(title)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    id
}

fn location(response: &reqwest::Response) -> String {
    let header = response.headers().get("location").expect("a redirect");
    header.to_str().unwrap().to_owned()
}

async fn html(browser: &mut Browser, path: &str) -> String {
    let response = browser.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// A date `days` from today, as the forms write it.
fn in_days(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days)).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opportunity_opened_from_a_call_moves_through_the_stages_in_the_channel() {
    let app = spawn_app(&[("CALLPOP_COMPANY__CURRENCY", "EUR")]).await;
    let rita = add_user(&app, "rita", "rep", &["201"], "rita-password").await;
    let mut rita = session_for(&app, rita).await;
    let topic = topic(&app, "Acme", "Renewal of the service contract").await;

    // The form: title from the topic, the company's currency, Rita owns it.
    let path = format!("/topics/{topic}/opportunities/new?call=42");
    let form = html(&mut rita, &path).await;
    assert!(
        form.contains("value=\"Renewal of the service contract\""),
        "{form}"
    );
    assert!(form.contains("name=\"currency\" value=\"EUR\""), "{form}");
    assert!(form.contains("name=\"call\" value=\"42\""), "{form}");
    assert!(form.contains("selected>rita</option>"), "{form}");

    let close = in_days(30);
    let opened = rita
        .submit(
            &format!("/topics/{topic}/opportunities"),
            &[
                ("title", "Renewal 2027"),
                ("value", "12,500.50"),
                ("currency", "eur"),
                ("stage", "new"),
                ("expected_close", &close),
                ("call", "42"),
            ],
        )
        .await;
    assert_eq!(opened.status(), 303);
    assert_eq!(location(&opened), "/calls/42", "back to the call");

    // Everyone in sales sees it in the channel, with the stage's total.
    let mia = add_user(&app, "mia", "manager", &[], "mia-password").await;
    let mut mia = session_for(&app, mia).await;
    let channel = html(&mut mia, "/opportunities").await;
    assert!(
        channel.contains("Renewal 2027") && channel.contains("12,500.50 EUR"),
        "{channel}"
    );
    let id = app.store.opportunities(true, 10).await.unwrap()[0].id;
    let page = format!("/opportunities/{id}");

    // Winning it is written down with who did it and closes it.
    let won = mia
        .submit(
            &page,
            &[
                ("title", "Renewal 2027"),
                ("value", "12500.50"),
                ("currency", "EUR"),
                ("stage", "won"),
                ("expected_close", &close),
                ("owner", ""),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(won.status(), 303);
    let stored = app.store.opportunity(id).await.unwrap().unwrap();
    assert_eq!(
        (stored.value_minor, stored.stage.as_str()),
        (1_250_050, "won")
    );
    assert!(stored.closed_at.is_some() && stored.owner_id.is_none());
    let channel = html(&mut mia, "/opportunities").await;
    let recent = channel.split("id=\"recent\"").nth(1).unwrap();
    assert!(recent.contains("<td>won</td><td>mia</td>"), "{recent}");
    assert!(recent.contains("<td>new</td><td>rita</td>"), "{recent}");
    let open = channel.split("id=\"recent\"").next().unwrap();
    assert!(!open.contains("Renewal 2027"), "won is not open: {open}");

    // Rita's page was read at version 1: her change is refused, her text kept.
    let stale = rita
        .submit(
            &page,
            &[
                ("title", "Renewal 2027 (bigger)"),
                ("value", "20000"),
                ("currency", "EUR"),
                ("stage", "proposal"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(stale.status(), 409);
    let text = stale.text().await.unwrap();
    assert!(text.contains("Someone changed this") && text.contains("Renewal 2027 (bigger)"));
    assert_eq!(
        app.store
            .opportunity(id)
            .await
            .unwrap()
            .unwrap()
            .stage
            .as_str(),
        "won"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_values_come_back_with_the_form_as_typed_and_write_nothing() {
    let app = spawn_app(&[]).await;
    let rita = add_user(&app, "rita", "rep", &["201"], "rita-password").await;
    let mut rita = session_for(&app, rita).await;
    let topic = topic(&app, "Acme", "Upgrade").await;
    let action = format!("/topics/{topic}/opportunities");

    let yesterday = in_days(-2);
    let cases = [
        ("expected_close", yesterday.as_str(), "in the past"),
        ("value", "12.345", "more decimals"),
        ("value", "lots", "not an amount"),
        ("currency", "dollars", "not a code"),
        ("title", "", "Title is needed"),
        ("owner", "999", "Pick the owner"),
    ];
    for (field, value, message) in cases {
        let mut fields = vec![
            ("title", "Upgrade to gold"),
            ("value", "900"),
            ("currency", "USD"),
            ("stage", "qualified"),
        ];
        fields.retain(|(k, _)| *k != field);
        fields.push((field, value));
        let response = rita.submit(&action, &fields).await;
        assert_eq!(response.status(), 422, "{field}={value}");
        let page = response.text().await.unwrap();
        assert!(page.contains(message), "{field}={value}: {page}");
        if field != "title" {
            assert!(
                page.contains("value=\"Upgrade to gold\""),
                "{field}: the title kept"
            );
        }
        assert!(
            page.contains("<option selected>qualified</option>"),
            "{field}: the stage kept"
        );
    }
    assert!(app.store.opportunities(false, 10).await.unwrap().is_empty());
    let missing = rita
        .submit("/topics/999999/opportunities", &[("title", "x")])
        .await;
    assert_eq!(missing.status(), 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_opens_lists_and_moves_opportunities() {
    let app = spawn_app(&[]).await;
    let rita = add_user(&app, "rita", "rep", &["201"], "rita-password").await;
    let token = api_token_for(&app, rita).await;
    let topic = topic(&app, "Acme", "Upgrade").await;
    let client = &app.client;

    let url = app.url(&format!("/api/v1/topics/{topic}/opportunities"));
    let body = json!({"title": "Gold", "value": "900", "expected_close": in_days(10)});
    let created = client
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let past = json!({"title": "Gold", "expected_close": in_days(-3)});
    let refused = client
        .post(&url)
        .bearer_auth(&token)
        .json(&past)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);

    let one = app.api(&format!("/api/v1/opportunities/{id}")).await;
    assert_eq!(
        one["currency"], "USD",
        "company.currency by default: {one:#}"
    );
    assert_eq!(
        (one["value_minor"].clone(), one["owner_name"].clone()),
        (json!(90000), json!("rita"))
    );
    assert_eq!(one["stages"][0]["stage"], "new");

    let patch = |version: i64, stage: &str| {
        client
            .patch(app.url(&format!("/api/v1/opportunities/{id}")))
            .bearer_auth(&token)
            .json(&json!({"title": "Gold", "value": "900", "stage": stage, "version": version}))
            .send()
    };
    assert_eq!(patch(1, "proposal").await.unwrap().status(), 200);
    assert_eq!(patch(1, "lost").await.unwrap().status(), 409);
    let list = app.api("/api/v1/opportunities").await;
    assert_eq!(list[0]["stage"], "proposal", "{list:#}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_times_in_the_company_time_zone() {
    use chrono::{TimeZone, Timelike, Utc};
    let app = spawn_app(&[("CALLPOP_COMPANY__TIME_ZONE", "Europe/Berlin")]).await;
    let (customer, _) = crate::workflow::acme(&app).await;
    let rita = add_user(&app, "rita", "rep", &["201"], "rita-password").await;
    let mut rita = session_for(&app, rita).await;

    // A call logged by hand at 13:00 Berlin time, 12:00 UTC.
    let made = rita
        .submit(
            "/calls/new",
            &[
                ("direction", "outbound"),
                ("number", "(212) 555-0142"),
                ("when", "2026-01-15 13:00"),
            ],
        )
        .await;
    assert_eq!(made.status(), 303, "{}", made.text().await.unwrap());
    let calls = html(&mut rita, "/calls").await;
    assert!(calls.contains("2026-01-15 13:00"), "{calls}");
    assert!(!calls.contains("2026-01-15 12:00"), "{calls}");
    let page = html(&mut rita, &format!("/customers/{customer}")).await;
    assert!(page.contains("2026-01-15 13:00"), "{page}");

    // A stage change at a known moment: 07:30 UTC is 08:30 or 09:30 in Berlin.
    let topic = topic(&app, "Zone Co", "Renewal").await;
    let opened = rita
        .submit(
            &format!("/topics/{topic}/opportunities"),
            &[
                ("title", "Zoned"),
                ("value", "10"),
                ("currency", "EUR"),
                ("stage", "new"),
            ],
        )
        .await;
    assert_eq!(opened.status(), 303);
    let id = app.store.opportunities(true, 10).await.unwrap()[0].id;
    let day = (Utc::now() - chrono::Duration::days(1)).date_naive();
    let at = Utc.from_utc_datetime(&day.and_hms_opt(7, 30, 0).unwrap());
    let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
    sqlx::query("UPDATE opportunity_stages SET at = $1 WHERE opportunity_id = $2")
        .bind(at.timestamp_millis())
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let berlin = at.with_timezone(&chrono_tz::Europe::Berlin);
    assert_ne!(berlin.hour(), 7);
    let local = berlin.format("%Y-%m-%d %H:%M").to_string();
    let utc = at.format("%Y-%m-%d %H:%M").to_string();
    for path in ["/opportunities".to_owned(), format!("/opportunities/{id}")] {
        let page = html(&mut rita, &path).await;
        assert!(page.contains(&local), "{path}: {local} in {page}");
        assert!(!page.contains(&utc), "{path}: no UTC {utc} in {page}");
    }
    app.stop().await;
}
