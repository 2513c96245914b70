//! `callpop import customers FILE.csv` as an admin runs it: counts on
//! success, every bad line named and nothing written on failure, and the
//! imported customers matched when they call.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use callpop::store::customers::{CustomerSummary, Page};
use callpop::store::Store;

use crate::helpers::{peer, ring, spawn_app};

const BIN: &str = env!("CARGO_BIN_EXE_callpop");

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/customers.csv")
}

/// Runs `callpop import customers FILE` on the database at `url`, in a
/// directory of its own and with no other `CALLPOP_` settings.
fn import(url: &str, file: &Path) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(BIN)
        .args(["import", "customers"])
        .arg(file)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CALLPOP_DATABASE__URL", url)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every stored customer with how many contacts and numbers it has.
async fn customers(url: &str) -> Vec<CustomerSummary> {
    let store = Store::connect(url).await.unwrap();
    let page = Page {
        limit: 1000,
        offset: 0,
    };
    let all = store.search_customers("", page).await.unwrap();
    store.close().await;
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_reports_counts_and_a_broken_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());

    let out = import(&url, &example());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "imported 8 customers, 9 contacts, 15 numbers"
    );
    let before = customers(&url).await;
    let names: Vec<&str> = before.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(names.contains(&"Harbour & Sons, Pty Ltd"), "{names:?}");
    let lakeside = before.iter().find(|c| c.name == "Lakeside Supplies");
    assert_eq!(lakeside.map(|c| (c.contacts, c.numbers)), Some((2, 4)));

    // Good rows on lines 2 and 6; a ragged row, a number with no digits,
    // an empty customer name and a quote never closed on 3, 4, 5 and 7.
    let broken = dir.path().join("broken.csv");
    let rows = [
        "customer,contact,email,phone,kind,region,notes",
        "Brand New Ltd,,,+1 212 555 0111,work,US,",
        "Ragged Ltd,Somebody",
        "No Digits Inc,,,n/a,work,US,",
        ",Nobody,,+1 212 555 0112,work,US,",
        "Brand New Ltd,Ann Lee,,+1 212 555 0113,mobile,US,",
        "\"Open Quote Ltd,,,+1 212 555 0114,work,US,",
    ];
    std::fs::write(&broken, rows.join("\n") + "\n").unwrap();
    let out = import(&url, &broken);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "a broken file fails: {stderr}");
    for line in [3, 4, 5, 7] {
        assert!(
            stderr.contains(&format!("line {line}:")),
            "line {line}: {stderr}"
        );
    }
    for line in [1, 2, 6] {
        assert!(
            !stderr.contains(&format!("line {line}:")),
            "line {line}: {stderr}"
        );
    }
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
    assert_eq!(customers(&url).await, before, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_customer_is_matched_when_they_call() {
    if peer("sipp").is_none() {
        return;
    }
    let app = spawn_app(&[]).await;
    let out = import(&app.database_url, &example());
    assert!(out.status.success(), "{}", text(&out.stderr));

    // "+44 (0)20 7946 0018" in the file, from Priya Shah at London Partner.
    let mut pops = app.pops("201").await;
    ring(&app, "ring-cancel.xml", "+442079460018", "Priya Shah", &[]).await;
    let pop = pops.next(Duration::from_secs(10)).await.expect("a pop");
    let shown = &pop.data["pop"];
    assert_eq!(shown["caller"], "+44 20 7946 0018");
    let matches = shown["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{matches:#?}");
    assert_eq!(matches[0]["customer"], "London Partner Ltd");
    assert_eq!(matches[0]["contact"], "Priya Shah");
    assert_eq!(matches[0]["reason"], "exact");

    let id = pop.data["call_id"].as_i64().unwrap();
    let call = app.api(&format!("/api/v1/calls/{id}")).await;
    assert_eq!(call["remote_e164"], "+442079460018");
    assert_eq!(call["matches"][0]["customer_name"], "London Partner Ltd");
    assert_eq!(call["matches"][0]["contact_name"], "Priya Shah");
    app.stop().await;
}
