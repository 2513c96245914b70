//! Who is calling: a ringing call matched to the customers its number
//! belongs to, on the pop and on the call record, and `/api/v1/lookup`
//! explaining why.

use std::time::Duration;

use callpop::lookup::Normalizer;
use callpop::store::customers::{NewContact, NewCustomer, NewNumber};
use serde_json::{json, Value};

use crate::helpers::{fixture, peer, ring, spawn_app, SseEvent, TestApp};

const WAIT: Duration = Duration::from_secs(10);

/// Stores a customer with one number, its own (`contact` `None`) or one
/// contact's, read in the record's `region`; returns the customer's id.
async fn seed(
    app: &TestApp,
    customer: &str,
    contact: Option<&str>,
    number: &str,
    region: &str,
) -> i64 {
    // The record's region decides how the number reads, not the home one.
    let normalizer = Normalizer::new("US").unwrap();
    let numbers = vec![NewNumber {
        number: normalizer.check(number, region.parse().unwrap()).unwrap(),
        kind: Default::default(),
    }];
    let mut new = NewCustomer {
        name: customer.into(),
        ..NewCustomer::default()
    };
    match contact {
        Some(name) => new.contacts.push(NewContact {
            name: name.into(),
            numbers,
            ..NewContact::default()
        }),
        None => new.numbers = numbers,
    }
    app.store.insert_customer(&new).await.unwrap()
}

/// Rings 201 from `number` with sipp and returns the pop, after checking
/// that it was withdrawn when the caller gave up.
async fn ring_and_pop(app: &TestApp, number: &str, name: &str) -> SseEvent {
    let mut pops = app.pops("201").await;
    ring(app, "ring-cancel.xml", number, name, &[]).await;
    let events = pops.collect(2, WAIT).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["pop", "withdraw"], "{events:#?}");
    events[0].clone()
}

/// The call a pop is for, as `GET /api/v1/calls/{id}` gives it.
async fn recorded(app: &TestApp, pop: &SseEvent) -> Value {
    let id = pop.data["call_id"].as_i64().unwrap();
    app.api(&format!("/api/v1/calls/{id}")).await
}

/// `(customer, contact, reason)` of each match, as the pop shows them.
fn pop_matches(pop: &SseEvent) -> Vec<(String, Value, String)> {
    let matches = pop.data["pop"]["matches"].as_array().unwrap();
    let mut out: Vec<_> = matches
        .iter()
        .map(|m| {
            let customer = m["customer"].as_str().unwrap().to_owned();
            let reason = m["reason"].as_str().unwrap().to_owned();
            (customer, m["contact"].clone(), reason)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_caller_pops_with_the_customer_and_contact_and_is_recorded_matched() {
    if peer("sipp").is_none() {
        return;
    }
    let app = spawn_app(&[]).await;
    let acme = seed(&app, "Acme Corp", Some("Jane Roe"), "(212) 555-0100", "US").await;

    let pop = ring_and_pop(&app, "+12125550100", "Jane Roe").await;
    let shown = &pop.data["pop"];
    assert_eq!(shown["caller"], "(212) 555-0100", "written for people");
    assert_eq!(shown["number_e164"], "+12125550100");
    let matches = shown["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{matches:#?}");
    assert_eq!(matches[0]["customer_id"], acme);
    assert_eq!(matches[0]["customer"], "Acme Corp");
    assert_eq!(matches[0]["contact"], "Jane Roe");
    assert!(matches[0]["contact_id"].is_i64());
    assert_eq!(matches[0]["reason"], "exact");

    let call = recorded(&app, &pop).await;
    assert_eq!(call["remote_raw"], "+12125550100");
    assert_eq!(call["remote_e164"], "+12125550100");
    let matches = call["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{matches:#?}");
    assert_eq!(matches[0]["customer_id"], acme);
    assert_eq!(matches[0]["customer_name"], "Acme Corp");
    assert_eq!(matches[0]["contact_name"], "Jane Roe");
    assert_eq!(matches[0]["reason"], "exact");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_customers_sharing_a_number_are_both_popped_never_just_the_first() {
    if peer("sipp").is_none() {
        return;
    }
    let app = spawn_app(&[]).await;
    seed(&app, "Acme Corp", Some("Jane Roe"), "(212) 555-0100", "US").await;
    seed(&app, "Acme Holdings", None, "(212) 555-0100", "US").await;

    let pop = ring_and_pop(&app, "+12125550100", "Front Desk").await;
    assert_eq!(
        pop_matches(&pop),
        [
            ("Acme Corp".into(), json!("Jane Roe"), "exact".into()),
            ("Acme Holdings".into(), Value::Null, "exact".into()),
        ]
    );

    let call = recorded(&app, &pop).await;
    let mut names: Vec<&str> = call["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["customer_name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Acme Corp", "Acme Holdings"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_caller_is_popped_and_recorded_without_a_match() {
    if peer("sipp").is_none() {
        return;
    }
    let app = spawn_app(&[]).await;
    seed(&app, "Acme Corp", None, "(212) 555-0100", "US").await;

    let pop = ring_and_pop(&app, "+14155550199", "Stranger").await;
    assert_eq!(pop.data["pop"]["matches"], json!([]));
    assert_eq!(pop.data["pop"]["caller"], "(415) 555-0199");
    assert_eq!(pop.data["pop"]["name"], "Stranger");

    let call = recorded(&app, &pop).await;
    assert_eq!(call["remote_e164"], "+14155550199");
    assert_eq!(call["matches"], json!([]));
    assert_eq!(call["outcome"], "abandoned");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_extension_never_matches_a_customer() {
    if peer("sipp").is_none() {
        return;
    }
    let app = spawn_app(&[]).await;
    // One number ends in the extension's digits, one is those digits alone.
    seed(&app, "Acme Corp", None, "(212) 555-2002", "US").await;
    seed(&app, "Tiny Shop", None, "2002", "US").await;

    let pop = ring_and_pop(&app, "2002", "Reception").await;
    assert_eq!(pop.data["pop"]["matches"], json!([]));
    assert_eq!(pop.data["pop"]["caller"], "2002");
    let call = recorded(&app, &pop).await;
    assert_eq!(call["remote_raw"], "2002");
    assert_eq!(call["matches"], json!([]));

    let explained = app.api("/api/v1/lookup?number=2002").await;
    assert_eq!(explained["internal_extension"], true);
    assert_eq!(explained["matches"], json!([]));
    app.stop().await;
}

/// `(customer, reason)` of each match `GET /api/v1/lookup` lists.
async fn explain(app: &TestApp, number: &str) -> (Value, Vec<(String, String)>) {
    let query = number.replace('+', "%2B").replace(' ', "%20");
    let explained = app.api(&format!("/api/v1/lookup?number={query}")).await;
    let matches = explained["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let customer = m["customer_name"].as_str().unwrap().to_owned();
            (customer, m["reason"].as_str().unwrap().to_owned())
        })
        .collect();
    (explained, matches)
}

/// What each step found, in the order they ran.
fn steps(explained: &Value) -> Vec<(String, u64)> {
    let steps = explained["steps"].as_array().unwrap();
    let step = |s: &Value| {
        let name = s["step"].as_str().unwrap().to_owned();
        (name, s["found"].as_u64().unwrap())
    };
    steps.iter().map(step).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_explains_exact_national_and_suffix_matches_and_a_miss() {
    let app = spawn_app(&[]).await;
    seed(&app, "Midtown Deli", None, "(212) 555-0100", "US").await;
    // Seven digits is a local-only length in the US: stored with no E.164.
    seed(&app, "Corner Shop", None, "555-0123", "US").await;

    let (explained, matches) = explain(&app, "+1 212 555 0100").await;
    assert_eq!(matches, pairs(&[("Midtown Deli", "exact")]));
    assert_eq!(explained["caller"]["e164"], "+12125550100");
    assert_eq!(explained["written"], "(212) 555-0100");
    assert_eq!(explained["internal_extension"], false);
    assert_eq!(steps(&explained), [("exact".to_string(), 1)]);
    assert_eq!(explained["steps"][0]["tried"], json!(["+12125550100"]));
    assert_eq!(explained["matches"][0]["number"], "(212) 555-0100");

    let (explained, matches) = explain(&app, "5550123").await;
    assert_eq!(matches, pairs(&[("Corner Shop", "national")]));
    assert_eq!(
        steps(&explained),
        [("exact".to_string(), 0), ("national".to_string(), 1)]
    );

    // A caller ID that lost its area code on the way.
    let (explained, matches) = explain(&app, "555-0100").await;
    assert_eq!(matches, pairs(&[("Midtown Deli", "suffix:7")]));
    let suffix = &explained["steps"][2];
    assert_eq!(suffix["step"], "suffix");
    assert_eq!(suffix["found"], 1);
    assert_eq!(suffix["tried"], json!(["5550100"]));

    // Six digits in common with Midtown Deli is not enough.
    let (explained, matches) = explain(&app, "+1 213 555 0100").await;
    assert!(matches.is_empty(), "{explained:#}");
    assert_eq!(
        steps(&explained),
        [
            ("exact".to_string(), 0),
            ("national".to_string(), 0),
            ("suffix".to_string(), 0)
        ]
    );
    assert_eq!(explained["written"], "(213) 555-0100");
    app.stop().await;
}

/// `field/13`: with home region DE, dropping "+4" from +49301234567 would
/// give a US number's ten digits; the German customer alone must match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_german_caller_matches_the_german_customer_not_a_us_one() {
    let case = std::fs::read_to_string(fixture(
        "field/13-number-plus-digit-stripping-country-code.txt",
    ))
    .unwrap();
    for line in [
        "\"0049 30 1234567\"    Berlin Customer GmbH   [DE]",
        "\"(930) 123-4567\"     Lakeside Supplies      [US]",
        "\"+44 20 7946 0018\"   London Partner Ltd     [GB]",
        "Incoming caller (SIP From user / AMI CallerIDNum): +49301234567",
    ] {
        assert!(case.contains(line), "the fixture still says {line:?}");
    }

    let app = spawn_app(&[("CALLPOP_PHONE__HOME_REGION", "DE")]).await;
    let berlin = seed(&app, "Berlin Customer GmbH", None, "0049 30 1234567", "DE").await;
    seed(&app, "Lakeside Supplies", None, "(930) 123-4567", "US").await;
    seed(&app, "London Partner Ltd", None, "+44 20 7946 0018", "GB").await;

    let (explained, matches) = explain(&app, "+49301234567").await;
    assert_eq!(matches, pairs(&[("Berlin Customer GmbH", "exact")]));
    assert_eq!(explained["matches"][0]["customer_id"], berlin);
    assert_eq!(explained["caller"]["e164"], "+49301234567");
    assert_eq!(explained["caller"]["country_code"], 49);
    assert_eq!(explained["written"], "030 1234567");

    // A German number ending in the US customer's ten digits matches nobody:
    // the suffix step sees the US number and passes it over.
    let (explained, matches) = explain(&app, "+49 930 1234567").await;
    assert!(matches.is_empty(), "{explained:#}");
    assert_eq!(explained["steps"][2]["step"], "suffix");
    assert_eq!(explained["steps"][2]["other_country"], 1);
    app.stop().await;
}
