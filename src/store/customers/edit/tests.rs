//! Edits, merges and attached calls on each backend.

use chrono::Utc;

use super::*;
use crate::calls::NewCall;
use crate::lookup::Normalizer;
use crate::store::customers::testing::{postgres, sqlite};
use crate::store::customers::{NumberKind, Page};
use crate::telephony::Direction;

fn number(raw: &str) -> NewNumber {
    NewNumber {
        number: Normalizer::new("US").unwrap().normalize(raw),
        kind: NumberKind::Work,
    }
}

fn customer(name: &str, contact: &str, raw: &str) -> NewCustomer {
    NewCustomer {
        name: name.into(),
        contacts: vec![NewContact {
            name: contact.into(),
            email: String::new(),
            numbers: vec![number(raw)],
        }],
        ..NewCustomer::default()
    }
}

async fn call_from(store: &Store, raw: &str) -> i64 {
    let call = NewCall {
        link: "sip".into(),
        pbx_call_id: format!("call-{raw}"),
        direction: Direction::Inbound,
        remote_raw: Some(raw.into()),
        remote_e164: None,
        remote_name: Some("Caller".into()),
        withheld: false,
        extension: "201".into(),
        customer_id: None,
        contact_id: None,
        matches: Vec::new(),
        started_at: Utc::now(),
    };
    store.insert_call(&call).await.unwrap()
}

async fn exec(store: &Store, sql: &str) {
    on_pool!(store, pool => sqlx::query(sql).execute(pool).await.map(|_| ())).unwrap();
}

async fn check_edits(store: &Store) {
    let acme = store
        .insert_customer(&customer("Acme", "Ann", "212 555 0142"))
        .await
        .unwrap();
    let dupe = store
        .insert_customer(&customer("ACME Inc", "Bob", "212 555 0199"))
        .await
        .unwrap();

    // A stale edit is refused and changes nothing.
    let version = store
        .update_customer(acme, 1, "Acme Corp", "pays late")
        .await
        .unwrap();
    assert_eq!(version, 2);
    let stale = store
        .update_customer(acme, 1, "Acme Ltd", "")
        .await
        .unwrap_err();
    assert!(matches!(stale, EditError::Stale(2)), "{stale:?}");
    let read = store.customer(acme).await.unwrap().unwrap();
    assert_eq!((read.name.as_str(), read.version), ("Acme Corp", 2));

    // Contacts edit with their own versions; another customer's is refused.
    let ann = read.contacts[0].id;
    assert_eq!(
        store
            .update_contact(acme, ann, 1, "Ann Lee", "ann@acme.example")
            .await
            .unwrap(),
        2
    );
    let stale = store
        .update_contact(acme, ann, 1, "Ann", "")
        .await
        .unwrap_err();
    assert!(matches!(stale, EditError::Stale(2)), "{stale:?}");
    let bob = store.customer(dupe).await.unwrap().unwrap().contacts[0].id;
    let foreign = store
        .add_number(acme, Some(bob), &number("212 555 0100"))
        .await;
    assert!(matches!(foreign, Err(EditError::Refused(_))), "{foreign:?}");
    assert!(matches!(
        store.update_contact(acme, bob, 1, "Bob", "").await,
        Err(EditError::NotFound)
    ));
    let switchboard = store
        .add_number(acme, None, &number("212 555 0100"))
        .await
        .unwrap();
    assert_eq!(
        store.customer(acme).await.unwrap().unwrap().numbers.len(),
        2
    );
    store.remove_number(acme, switchboard).await.unwrap();
    assert!(matches!(
        store.remove_number(dupe, switchboard).await,
        Err(EditError::NotFound)
    ));

    // A call goes to one customer; moving it elsewhere must be asked for.
    let call = call_from(store, "2125550199").await;
    store
        .attach_call(call, dupe, Some(bob), Some(&number("2125550199")), false)
        .await
        .unwrap();
    let moved = store
        .attach_call(call, acme, None, None, false)
        .await
        .unwrap_err();
    assert!(matches!(moved, EditError::Refused(_)), "{moved:?}");
    assert_eq!(
        store.customer(dupe).await.unwrap().unwrap().numbers.len(),
        1,
        "known number"
    );
    let topic = format!(
        "INSERT INTO topics (customer_id, title, status, opened_at) \
         VALUES ({dupe}, 'Broken widget', 'open', 1)"
    );
    exec(store, &topic).await;
    exec(
        store,
        "INSERT INTO conversations (topic_id, call_id, notes, at) \
                 SELECT id, NULL, 'by hand', 2 FROM topics",
    )
    .await;
    exec(
        store,
        &format!(
            "INSERT INTO conversations (topic_id, call_id, notes, at) \
                          SELECT id, {call}, 'on the phone', 3 FROM topics"
        ),
    )
    .await;

    // Merging moves everything and hides the duplicate; no merge twice.
    assert!(matches!(
        store.merge_customers(acme, acme).await,
        Err(EditError::Refused(_))
    ));
    let counts = store.merge_customers(acme, dupe).await.unwrap();
    assert_eq!(
        (counts.contacts, counts.numbers, counts.topics, counts.calls),
        (1, 1, 1, 1)
    );
    let kept = store.customer(acme).await.unwrap().unwrap();
    assert_eq!(kept.contacts.len(), 2);
    assert_eq!(
        store.customer(dupe).await.unwrap().unwrap().merged_into,
        Some(acme)
    );
    let found = store
        .search_customers("acme", Page::default())
        .await
        .unwrap();
    assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), [acme]);
    assert!(matches!(
        store.merge_customers(dupe, acme).await,
        Err(EditError::Refused(_))
    ));
    assert!(matches!(
        store.merge_customers(acme, dupe).await,
        Err(EditError::Refused(_))
    ));
    assert!(matches!(
        store.update_customer(dupe, 2, "again", "").await,
        Err(EditError::Refused(_))
    ));

    // The kept customer's page: the topic with its one call, the call.
    let topics = store.customer_topics(acme).await.unwrap();
    assert_eq!((topics.len(), topics[0].calls), (1, 1));
    let calls = store.customer_calls(acme, 10).await.unwrap();
    assert_eq!(calls.iter().map(|c| c.id).collect::<Vec<_>>(), [call]);

    // Searching finds contacts by name and email.
    let by_email = store
        .search_customers("ANN@ACME", Page::default())
        .await
        .unwrap();
    assert_eq!(by_email.len(), 1);
    let by_contact = store
        .search_customers("bob", Page::default())
        .await
        .unwrap();
    assert_eq!(by_contact.iter().map(|c| c.id).collect::<Vec<_>>(), [acme]);
}

async fn check_new_customer_for_call(store: &Store) {
    let call = call_from(store, "2125550177").await;
    let new = customer("Newco", "Caller", "2125550177");
    let id = store
        .insert_customer_for_call(call, &new, false)
        .await
        .unwrap();
    let record = store.call(call).await.unwrap().unwrap();
    let assigned: Vec<_> = record
        .matches
        .iter()
        .map(|m| (m.customer_id, m.reason.as_str()))
        .collect();
    assert_eq!(assigned, [(id, "assigned")]);
    assert_eq!(record.matches[0].contact_name.as_deref(), Some("Caller"));

    // A call that is not there writes no customer either.
    let before = store
        .search_customers("", Page::default())
        .await
        .unwrap()
        .len();
    let other = customer("Other", "O", "2125550166");
    let again = store.insert_customer_for_call(call, &other, false).await;
    assert!(matches!(again, Err(EditError::Refused(_))), "{again:?}");
    let ghost = customer("Ghost", "G", "2125550155");
    let missing = store
        .insert_customer_for_call(call + 100, &ghost, true)
        .await;
    assert!(matches!(missing, Err(EditError::NotFound)), "{missing:?}");
    assert_eq!(
        store
            .search_customers("", Page::default())
            .await
            .unwrap()
            .len(),
        before
    );
}

#[tokio::test]
async fn sqlite_edits_refuse_stale_versions_and_merges_move_everything() {
    let db = sqlite().await;
    check_edits(&db.store).await;
    check_new_customer_for_call(&db.store).await;
}

#[tokio::test]
async fn postgres_edits_refuse_stale_versions_and_merges_move_everything() {
    let Some(db) = postgres().await else { return };
    check_edits(&db.store).await;
    check_new_customer_for_call(&db.store).await;
}
