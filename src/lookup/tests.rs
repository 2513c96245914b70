//! Lookup against an in-memory directory, with the cases phone-system
//! integrations have got wrong in the field.

use super::*;

/// The customers a call from `caller` matches, as `"name reason"`, when
/// `stored` holds `(customer, number, record region)` and the daemon's home
/// region is `home`.
async fn check(home: &str, caller: &str, stored: &[(&str, &str, &str)]) -> Vec<String> {
    let normalizer = Normalizer::new(home).unwrap();
    let mut directory = MemoryDirectory::new();
    for (id, (name, raw, region)) in stored.iter().enumerate() {
        let number = normalizer.normalize_in(raw, region.parse().unwrap());
        directory.add((id as i64 + 1, name), None, number);
    }
    let outcome = Lookup::new(directory, normalizer)
        .find(caller)
        .await
        .unwrap();
    outcome
        .matches
        .iter()
        .map(|m| format!("{} {}", m.customer_name, m.reason))
        .collect()
}

#[tokio::test]
async fn german_caller_is_not_a_us_customer_with_the_same_last_digits() {
    let stored = [
        ("Berlin Customer GmbH", "0049 30 1234567", "DE"),
        ("Lakeside Supplies", "(930) 123-4567", "US"),
        ("London Partner Ltd", "+44 20 7946 0018", "GB"),
    ];
    assert_eq!(
        check("DE", "+49301234567", &stored).await,
        ["Berlin Customer GmbH exact"]
    );

    // Without the Berlin customer, nothing is better than a wrong country.
    assert!(check("DE", "+49301234567", &stored[1..]).await.is_empty());
    // Nor does a German number in national form find the US one.
    assert!(check("DE", "0930 1234567", &stored[1..]).await.is_empty());
}

#[tokio::test]
async fn national_and_international_forms_match_by_country_rules() {
    let c1 = [("C1", "+44 20 7946 0018", "GB")];
    let c2 = [("C2", "+44 (0)20 7946 0018", "GB")];
    let c3 = [("C3", "020 7946 0018", "GB")];
    let c4 = [("C4", "06 1234 5678", "IT")];
    let c5 = [("C5", "+39 06 1234 5678", "IT")];
    assert_eq!(check("GB", "02079460018", &c1).await, ["C1 exact"]);
    assert_eq!(check("GB", "02079460018", &c2).await, ["C2 exact"]);
    assert_eq!(check("GB", "+442079460018", &c3).await, ["C3 exact"]);
    assert_eq!(check("IT", "+390612345678", &c4).await, ["C4 exact"]);
    assert_eq!(check("IT", "0612345678", &c5).await, ["C5 exact"]);
    assert_eq!(check("GB", "0044 20 7946 0018", &c1).await, ["C1 exact"]);

    // Italy keeps its 0: without it, it is another number, even by suffix.
    assert!(check("IT", "+39612345678", &c4).await.is_empty());
    assert!(check("IT", "+39612345678", &c5).await.is_empty());
}

#[tokio::test]
async fn every_nanp_variant_finds_both_contacts_of_an_invalid_number() {
    let stored = [
        ("C1", "(555) 010-1234", "US"),
        ("C2", "+1 555-010-1234 ext. 7", "US"),
    ];
    for caller in [
        "+15550101234",
        "15550101234",
        "5550101234",
        "555.010.1234",
        "tel:+1-555-010-1234",
        "+15550101234;cpc=ordinary",
        "+1 (555) 010-1234",
    ] {
        assert_eq!(
            check("US", caller, &stored).await,
            ["C1 exact", "C2 exact"],
            "{caller:?}"
        );
    }
}

#[tokio::test]
async fn suffix_matches_a_caller_id_that_lost_its_area_code() {
    let stored = [("Midtown Deli", "(212) 555-0100", "US")];
    assert_eq!(
        check("US", "555-0100", &stored).await,
        ["Midtown Deli suffix:7"]
    );

    // An outside-line 9 in front of the caller is also only a prefix.
    assert_eq!(
        check("US", "9 1 212 555 0100", &stored).await,
        ["Midtown Deli suffix:10"]
    );

    // Six digits in common is not enough.
    assert!(check("US", "+1 213 555 0100", &stored).await.is_empty());
}

#[tokio::test]
async fn national_matches_numbers_without_e164() {
    // Seven digits is a local-only length in the US: no E.164 either side.
    let stored = [("Corner Shop", "555-0123", "US")];
    assert_eq!(
        check("US", "5550123", &stored).await,
        ["Corner Shop national"]
    );
    assert!(check("DE", "5550123", &stored).await.is_empty());
}

#[tokio::test]
async fn internal_extensions_never_match() {
    let stored = [("Tiny", "+49 30 201", "DE"), ("Short", "201", "DE")];
    assert!(check("DE", "201", &stored).await.is_empty());
    assert!(check("DE", "anonymous", &stored).await.is_empty());
}

#[tokio::test]
async fn matches_are_one_per_customer_and_contact_with_the_best_reason() {
    let normalizer = Normalizer::new("US").unwrap();
    let mut directory = MemoryDirectory::new();
    let n = |raw| normalizer.normalize(raw);
    directory
        .add((1, "Acme"), Some((10, "Ann")), n("+1 212 555 0100"))
        .add((1, "Acme"), Some((10, "Ann")), n("212-555-0100"))
        .add((1, "Acme"), Some((11, "Bob")), n("(212) 555-0100"))
        .add((2, "Other"), None, n("555-0100"));

    let outcome = Lookup::new(directory, normalizer.clone())
        .find("2125550100")
        .await
        .unwrap();
    let got: Vec<_> = outcome
        .matches
        .iter()
        .map(|m| {
            (
                m.customer_id,
                m.contact_name.clone().unwrap_or_default(),
                m.reason,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "Ann".into(), Reason::Exact),
            (1, "Bob".into(), Reason::Exact)
        ]
    );
}

#[tokio::test]
async fn explanation_lists_each_step_tried() {
    let normalizer = Normalizer::new("US").unwrap();
    let mut directory = MemoryDirectory::new();
    directory.add(
        (1, "Midtown Deli"),
        None,
        normalizer.normalize("(212) 555-0100"),
    );
    directory.add((2, "Munich"), None, normalizer.normalize("+49 89 555 0100"));
    let lookup = Lookup::new(directory, normalizer);

    let explanation = lookup.explain("+1 312 555 0100").await.unwrap();
    let json = serde_json::to_value(&explanation).unwrap();
    assert_eq!(json["caller"]["e164"], "+13125550100");
    assert_eq!(json["written"], "(312) 555-0100");
    let steps: Vec<_> = explanation
        .steps
        .iter()
        .map(|s| (s.step, s.found))
        .collect();
    assert_eq!(steps, [("exact", 0), ("national", 0), ("suffix", 0)]);
    assert_eq!(
        explanation.steps[2].tried.first().map(String::as_str),
        Some("13125550100")
    );
    assert_eq!(
        explanation.steps[2].tried.last().map(String::as_str),
        Some("5550100")
    );

    let explanation = lookup.explain("+49 212 555 0100").await.unwrap();
    assert_eq!(explanation.steps[2].other_country, 1, "{explanation:#?}");
    assert!(explanation.matches.is_empty());

    let explanation = lookup.explain("201").await.unwrap();
    assert!(explanation.internal_extension && explanation.steps.is_empty());
    let json = serde_json::to_value(lookup.explain("212 555 0100").await.unwrap()).unwrap();
    assert_eq!(json["matches"][0]["reason"], "exact");
}
