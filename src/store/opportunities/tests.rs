//! Opportunities and their stages on each backend.

use chrono::{Duration, NaiveDate, Utc};

use super::*;
use crate::store::customers::testing::{postgres, sqlite};
use crate::store::customers::NewCustomer;

async fn topic(store: &Store) -> i64 {
    let customer = NewCustomer {
        name: "Acme".into(),
        ..NewCustomer::default()
    };
    let customer = store.insert_customer(&customer).await.unwrap();
    let sql = format!(
        "INSERT INTO topics (customer_id, title, status, opened_at) \
         VALUES ({customer}, 'Renewal', 'open', 1)"
    );
    on_pool!(store, pool => sqlx::query(&sql).execute(pool).await.map(|_| ())).unwrap();
    let head = on_pool!(store, pool => {
        sqlx::query_scalar::<_, i64>("SELECT MAX(id) FROM topics").fetch_one(pool).await
    });
    head.unwrap()
}

fn fields(stage: Stage) -> OpportunityFields {
    OpportunityFields {
        title: "Renewal 2027".into(),
        value_minor: 1_250_000,
        currency: "EUR".into(),
        stage,
        expected_close: NaiveDate::from_ymd_opt(2027, 3, 31),
        owner_id: None,
    }
}

async fn check_opportunities(store: &Store) {
    let topic = topic(store).await;
    let id = store
        .insert_opportunity(topic, &fields(Stage::New), None)
        .await
        .unwrap();
    let missing = store
        .insert_opportunity(topic + 1, &fields(Stage::New), None)
        .await;
    assert!(matches!(missing, Err(EditError::NotFound)), "{missing:?}");

    let read = store.opportunity(id).await.unwrap().unwrap();
    assert_eq!(
        (read.topic_title.as_str(), read.customer_name.as_str()),
        ("Renewal", "Acme")
    );
    assert_eq!(
        (read.stage, read.version, read.closed_at),
        (Stage::New, 1, None)
    );
    assert_eq!(read.expected_close, NaiveDate::from_ymd_opt(2027, 3, 31));

    // Each stage entered is kept; winning closes, reopening clears it.
    assert_eq!(
        store
            .update_opportunity(id, 1, &fields(Stage::Proposal), None)
            .await
            .unwrap(),
        2
    );
    let stale = store
        .update_opportunity(id, 1, &fields(Stage::Lost), None)
        .await
        .unwrap_err();
    assert!(matches!(stale, EditError::Stale(2)), "{stale:?}");
    store
        .update_opportunity(id, 2, &fields(Stage::Won), None)
        .await
        .unwrap();
    let won = store.opportunity(id).await.unwrap().unwrap();
    assert!(won.closed_at.is_some());
    assert!(
        store.opportunities(true, 10).await.unwrap().is_empty(),
        "won is not open"
    );
    store
        .update_opportunity(id, 3, &fields(Stage::Won), None)
        .await
        .unwrap();
    assert_eq!(
        store.opportunity(id).await.unwrap().unwrap().closed_at,
        won.closed_at
    );
    store
        .update_opportunity(id, 4, &fields(Stage::Qualified), None)
        .await
        .unwrap();
    assert_eq!(
        store.opportunity(id).await.unwrap().unwrap().closed_at,
        None
    );

    let since = Utc::now() - Duration::days(14);
    let stages: Vec<Stage> = store
        .stage_changes(since, Some(id), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.stage)
        .collect();
    assert_eq!(
        stages,
        [Stage::Qualified, Stage::Won, Stage::Proposal, Stage::New]
    );
    let open = store.opportunities(true, 10).await.unwrap();
    assert_eq!(open.iter().map(|o| o.id).collect::<Vec<_>>(), [id]);
    assert_eq!(
        store
            .customer_opportunities(won.customer_id)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn sqlite_opportunities_keep_every_stage() {
    let db = sqlite().await;
    check_opportunities(&db.store).await;
}

#[tokio::test]
async fn postgres_opportunities_keep_every_stage() {
    let Some(db) = postgres().await else { return };
    check_opportunities(&db.store).await;
}
