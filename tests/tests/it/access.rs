//! Who sees what (CONTRACT §4): every role on every read path, in scope and out of scope, over
//! the hand-counted `indicators` fixture.
//!
//! The fixture's tree: county 522732 with townships 100 (sites AZD001, AZD002; villages 100201,
//! 100202), 101 (site AZD003; village 101201) and 102 (no site; villages 102201, 102202).
//! Households H01–H08 live at those sites and came from those villages (see the CSV files).

use crate::support::{error_code, TestApp};
use anju::auth::Role;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const ALL_HOUSEHOLDS: [&str; 8] = ["H01", "H02", "H03", "H04", "H05", "H06", "H07", "H08"];

/// Every read path that can reach a household, in one document.
const EVERY_PATH: &str = r#"{
  households(first: 100) { totalCount nodes { code site { code } originVillage { code } } }
  members(first: 100) { totalCount nodes { household { code } } }
  homesteads(first: 100) { totalCount nodes { household { code } village { code } } }
  sites(first: 10) { nodes { code households(first: 50) { nodes { code } } } }
  areas(first: 50) { nodes { code
    households(first: 30) { nodes { code } }
    originHouseholds(first: 30) { nodes { code } }
    homesteads(first: 30) { nodes { household { code } } } } }
}"#;

fn codes(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|n| n["code"].as_str().unwrap().to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Household codes that appear anywhere in a response.
fn households_in(body: &Value) -> BTreeSet<String> {
    let text = body.to_string();
    ALL_HOUSEHOLDS
        .iter()
        .filter(|h| text.contains(&format!("\"{h}\"")))
        .map(|h| (*h).to_owned())
        .collect()
}

struct Case {
    role: Role,
    area: &'static str,
    site: Option<&'static str>,
    households: &'static [&'static str],
    sites: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        role: Role::Admin,
        area: "520000",
        site: None,
        households: &ALL_HOUSEHOLDS,
        sites: &["AZD001", "AZD002", "AZD003"],
    },
    // Township 100: its two sites' households, and H03/H04 also came from its villages.
    Case {
        role: Role::Officer,
        area: "522732100",
        site: None,
        households: &["H01", "H02", "H03", "H04", "H05"],
        sites: &["AZD001", "AZD002"],
    },
    // Township 102 has no site: it sees the households that came from its villages only.
    Case {
        role: Role::Viewer,
        area: "522732102",
        site: None,
        households: &["H01", "H02", "H05", "H07"],
        sites: &[],
    },
    Case {
        role: Role::SiteManager,
        area: "522732101",
        site: Some("AZD003"),
        households: &["H06", "H07", "H08"],
        sites: &["AZD003"],
    },
    Case {
        role: Role::Integration,
        area: "522732101",
        site: None,
        households: &["H06", "H07", "H08"],
        sites: &["AZD003"],
    },
];

#[tokio::test]
async fn every_role_sees_its_subtree_on_every_path_and_nothing_else() {
    let app = TestApp::with_fixture("indicators").await;
    for case in CASES {
        let token = app.token(case.role, case.area, case.site).await;
        let who = format!("{} of {}", case.role, case.area);
        let body = app.query_as(Some(&token), EVERY_PATH, json!({})).await;
        assert!(body.get("errors").is_none(), "{who}: {body:#}");
        let data = &body["data"];
        let expected = set(case.households);

        assert_eq!(codes(&data["households"]["nodes"]), expected, "{who}");
        assert_eq!(
            data["households"]["totalCount"].as_i64().unwrap() as usize,
            expected.len(),
            "{who}: totalCount"
        );
        // No household outside the scope appears on any path, nested or not.
        assert_eq!(households_in(&body), expected, "{who}: every path");
        assert_eq!(codes(&data["sites"]["nodes"]), set(case.sites), "{who}");

        // A site outside the scope is null on the household, exactly as a missing one would be.
        for h in data["households"]["nodes"].as_array().unwrap() {
            let site = &h["site"];
            if !site.is_null() {
                assert!(
                    case.sites.contains(&site["code"].as_str().unwrap()),
                    "{who}: household {h} shows a site outside its scope"
                );
            }
        }

        // Single lookups answer null outside the scope, and the record inside it.
        for code in ALL_HOUSEHOLDS {
            let one = app
                .query_as(
                    Some(&token),
                    "query($c: String!) { household(code: $c) { code } }",
                    json!({ "c": code }),
                )
                .await;
            let seen = !one["data"]["household"].is_null();
            assert_eq!(
                seen,
                case.households.contains(&code),
                "{who}: household {code}"
            );
        }
        for code in ["AZD001", "AZD002", "AZD003"] {
            let one = app
                .query_as(
                    Some(&token),
                    "query($c: String!) { site(code: $c) { code } }",
                    json!({ "c": code }),
                )
                .await;
            let seen = !one["data"]["site"].is_null();
            assert_eq!(seen, case.sites.contains(&code), "{who}: site {code}");
        }
    }
}

#[tokio::test]
async fn members_and_homesteads_follow_their_households() {
    let app = TestApp::with_fixture("indicators").await;
    // Township 102's officer sees H01, H02, H05 and H07 (they came from its villages).
    let token = app.token(Role::Officer, "522732102", None).await;
    let member = |id: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.query_as(
                Some(&token),
                "query($id: String!) { member(idNumber: $id) { name } }",
                json!({ "id": id }),
            )
            .await["data"]["member"]
                .clone()
        }
    };
    // H01's head is visible; H06's head (AZD003, from village 101201) is not.
    assert_eq!(member("522732197503120114").await["name"], "王建国");
    assert!(member("522732198006150616").await.is_null());

    let data = app
        .query_as(
            Some(&token),
            "{ homesteads(first: 100) { nodes { householdCode villageCode village { code } } } }",
            json!({}),
        )
        .await["data"]
        .clone();
    let homesteads = data["homesteads"]["nodes"].as_array().unwrap();
    let owners: BTreeSet<&str> = homesteads
        .iter()
        .map(|h| h["householdCode"].as_str().unwrap())
        .collect();
    assert_eq!(owners, ["H01", "H02", "H05", "H07"].into_iter().collect());
    // H01's second homestead lies in village 101201, outside township 102: it is listed (its
    // household is visible) but its village is not shown.
    let outside = homesteads
        .iter()
        .find(|h| h["villageCode"] == "522732101201")
        .expect("H01's homestead in 101201");
    assert!(outside["village"].is_null());
}

#[tokio::test]
async fn ancestors_show_names_but_not_what_lies_beside_the_subtree() {
    let app = TestApp::with_fixture("indicators").await;
    let token = app.token(Role::Officer, "522732100", None).await;
    let q = r#"query($c: String!) { area(code: $c) { name
        households(first: 100) { nodes { code } }
        originHouseholds(first: 100) { nodes { code } }
        children(first: 100) { nodes { code } } } }"#;
    // The county is an ancestor: its name is shown, its lists hold only township 100's part.
    let county = app
        .query_as(Some(&token), q, json!({ "c": "522732" }))
        .await;
    assert!(county.get("errors").is_none(), "{county:#}");
    let area = &county["data"]["area"];
    assert_eq!(area["name"], "三都水族自治县");
    assert_eq!(
        codes(&area["households"]["nodes"]),
        set(&["H01", "H02", "H03", "H04", "H05"])
    );
    // Every one of them also came from a village of the county.
    assert_eq!(
        codes(&area["originHouseholds"]["nodes"]),
        set(&["H01", "H02", "H03", "H04", "H05"])
    );
    assert_eq!(codes(&area["children"]["nodes"]), set(&["522732100"]));
    // A sibling township and its villages do not exist for this officer.
    for outside in ["522732101", "522732102201"] {
        let body = app.query_as(Some(&token), q, json!({ "c": outside })).await;
        assert!(body["data"]["area"].is_null(), "{outside}: {body:#}");
    }
}

#[tokio::test]
async fn indicators_outside_the_subtree_are_not_found() {
    let app = TestApp::with_fixture("indicators").await;
    let officer = app.token(Role::Officer, "522732100", None).await;
    let manager = app
        .token(Role::SiteManager, "522732101", Some("AZD003"))
        .await;
    let q = r#"query($s: ScopeInput!) { indicators(scope: $s, asOf: "2020-12-31") { occupancy { numerator denominator } } }"#;
    let series = r#"query($s: ScopeInput!) { indicatorSeries(scope: $s, from: "2020-01-01", to: "2020-03-31") { asOf } }"#;
    let cases: &[(&str, Value, bool)] = &[
        (&officer, json!({ "areaCode": "522732100" }), true),
        (&officer, json!({ "areaCode": "522732100201" }), true),
        (&officer, json!({ "siteCode": "AZD001" }), true),
        // Ancestors and siblings are outside the subtree.
        (&officer, json!({ "areaCode": "522732" }), false),
        (&officer, json!({ "areaCode": "522732101" }), false),
        (&officer, json!({ "siteCode": "AZD003" }), false),
        // A site manager sees its own site's indicators only.
        (&manager, json!({ "siteCode": "AZD003" }), true),
        (&manager, json!({ "siteCode": "AZD001" }), false),
        (&manager, json!({ "areaCode": "522732101" }), false),
    ];
    let unknown = app
        .query_as(Some(&officer), q, json!({ "s": { "areaCode": "999999" } }))
        .await;
    for (token, scope, allowed) in cases {
        for doc in [q, series] {
            let body = app.query_as(Some(token), doc, json!({ "s": scope })).await;
            if *allowed {
                assert!(body.get("errors").is_none(), "{scope}: {body:#}");
            } else {
                assert_eq!(error_code(&body), "NOT_FOUND", "{scope}: {body:#}");
                // Outside is answered exactly as unknown: same code, same shape, no data.
                assert_eq!(body["data"], unknown["data"], "{scope}");
            }
        }
    }
    // The officer's own township counts only its own sites' households.
    let own = app
        .query_as(
            Some(&officer),
            q,
            json!({ "s": { "areaCode": "522732100" } }),
        )
        .await;
    assert_eq!(own["data"]["indicators"]["occupancy"]["denominator"], 5);
}

#[tokio::test]
async fn personal_data_is_masked_without_the_pii_grant_and_whole_with_it() {
    let app = TestApp::with_fixture("indicators").await;
    let q = r#"{ household(code: "H01") { headName headIdNumber phone
        members(first: 10) { nodes { idNumber name employments { nodes { monthlyIncomeYuan memberIdNumber } } } } } }"#;
    let viewer = app.token(Role::Viewer, "522732", None).await;
    let masked = app.query_as(Some(&viewer), q, json!({})).await;
    assert!(masked.get("errors").is_none(), "{masked:#}");
    let h = &masked["data"]["household"];
    assert_eq!(h["headName"], "王**");
    assert_eq!(h["headIdNumber"], "5227**********0114");
    assert_eq!(h["phone"], "138****0001");
    let head = &h["members"]["nodes"][0];
    assert_eq!(head["idNumber"], "5227**********0114");
    assert_eq!(head["name"], "王**");
    assert!(head["employments"]["nodes"][0]["monthlyIncomeYuan"].is_null());
    // No raw ID number, phone number or full name anywhere in the response, cursors included.
    let with_cursors = app
        .query_as(
            Some(&viewer),
            r#"{ members(first: 100) { edges { cursor node { idNumber } } }
                 households(first: 100) { edges { cursor node { headIdNumber phone } } } }"#,
            json!({}),
        )
        .await;
    for body in [&masked, &with_cursors] {
        let text = body.to_string();
        for raw in ["522732197503120114", "13885400001", "王建国", "3200"] {
            assert!(!text.contains(raw), "`{raw}` leaked: {text}");
        }
        assert!(!text.contains("5227321"), "an ID number leaked: {text}");
    }
    // Cursors are opaque to the eye, and must be to a decoder too.
    for list in ["members", "households"] {
        for edge in with_cursors["data"][list]["edges"].as_array().unwrap() {
            use base64::Engine;
            let cursor = edge["cursor"].as_str().unwrap();
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(cursor)
                .unwrap_or_default();
            let decoded = String::from_utf8_lossy(&decoded);
            assert!(
                !decoded.contains("5227321"),
                "cursor {cursor} holds an ID number"
            );
        }
    }

    let officer = app.token(Role::Officer, "522732", None).await;
    let whole = app.query_as(Some(&officer), q, json!({})).await;
    let h = &whole["data"]["household"];
    assert_eq!(h["headName"], "王建国");
    assert_eq!(h["headIdNumber"], "522732197503120114");
    assert_eq!(h["phone"], "13885400001");
    assert_eq!(
        h["members"]["nodes"][0]["employments"]["nodes"][0]["monthlyIncomeYuan"],
        3200
    );
}

#[tokio::test]
async fn each_kind_of_record_read_unmasked_writes_one_audit_row_listing_them_with_its_purpose() {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
    let app = TestApp::with_fixture("indicators").await;
    let officer = app.token(Role::Officer, "522732", None).await;
    let viewer = app.token(Role::Viewer, "522732", None).await;
    let count = || async {
        entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::Action.eq("read_unmasked"))
            .count(&app.db.db)
            .await
            .unwrap()
    };
    // Masked reads leave no trace; an unmasked one leaves one row per kind of record, listing
    // every record of that kind it showed, however many of their fields were read.
    let q = r#"{ household(code: "H02") { headName headIdNumber phone members(first: 10) { nodes { name idNumber } } } }"#;
    app.query_as(Some(&viewer), q, json!({})).await;
    assert_eq!(count().await, 0);
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&officer)
        .header("Anju-Purpose", "relocation follow-up visit")
        .json(&json!({ "query": q }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // H02, and its two members in one row.
    assert_eq!(count().await, 2);
    let rows = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq("read_unmasked"))
        .order_by_asc(entity::audit_log::Column::Entity)
        .all(&app.db.db)
        .await
        .unwrap();
    let listed: Vec<(String, String, Vec<String>)> = rows
        .iter()
        .map(|r| {
            let keys =
                serde_json::from_str(r.entity_keys.as_deref().expect("a read lists its keys"))
                    .expect("keys are a JSON list");
            (r.entity.clone(), r.entity_key.clone(), keys)
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("household", "H02", vec!["H02"]),
            (
                "member",
                "522732198201050215",
                vec!["522732198201050215", "522732198511110228"]
            ),
        ]
        .into_iter()
        .map(|(e, k, keys)| {
            (
                e.to_owned(),
                k.to_owned(),
                keys.into_iter().map(str::to_owned).collect(),
            )
        })
        .collect::<Vec<_>>()
    );
    for r in &rows {
        assert_eq!(r.actor, "user:test-officer");
        assert_eq!(r.role, "officer");
        assert_eq!(r.purpose.as_deref(), Some("relocation follow-up visit"));
        assert_eq!(r.request_id.len(), 32);
        assert_eq!(r.request_id, rows[0].request_id);
    }

    // An admin finds the read by any record it showed, through the API too.
    let admin = app.admin_token().await;
    let log = "query($key: String!) { auditLog(filter: { action: \"read_unmasked\", entityKey: $key }, first: 10) { \
               totalCount nodes { entity entityKey entityKeys purpose } } }";
    for (key, entity) in [
        ("522732198511110228", "member"),
        ("522732198201050215", "member"),
        ("H02", "household"),
    ] {
        let found = app.query_as(Some(&admin), log, json!({ "key": key })).await;
        let conn = &found["data"]["auditLog"];
        assert_eq!(conn["totalCount"], 1, "{key}: {found:#}");
        assert_eq!(conn["nodes"][0]["entity"], entity);
        assert!(conn["nodes"][0]["entityKeys"]
            .as_array()
            .unwrap()
            .contains(&json!(key)));
    }
    let none = app
        .query_as(Some(&admin), log, json!({ "key": "52273219820105021" }))
        .await;
    assert_eq!(none["data"]["auditLog"]["totalCount"], 0, "{none:#}");
}

#[tokio::test]
async fn without_credentials_only_indicators_and_names_are_served() {
    let app = TestApp::with_fixture("indicators").await;
    let public = app
        .query_as(
            None,
            r#"{ indicators(scope: { areaCode: "522732" }, asOf: "2020-12-31") { occupancy { rate } }
                 area(code: "522732") { name children(first: 5) { nodes { name code } } }
                 sites(first: 5) { nodes { code name } } }"#,
            json!({}),
        )
        .await;
    assert!(public.get("errors").is_none(), "{public:#}");
    assert_eq!(
        public["data"]["sites"]["nodes"][0]["name"],
        "安居镇幸福社区"
    );
    for (q, field) in [
        ("{ households(first: 1) { nodes { code } } }", "households"),
        (r#"{ household(code: "H01") { code } }"#, "household"),
        (
            r#"{ site(code: "AZD001") { name plannedPersons } }"#,
            "plannedPersons",
        ),
        (
            r#"{ area(code: "522732") { households { totalCount } } }"#,
            "households",
        ),
    ] {
        let body = app.query_as(None, q, json!({})).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{q}: {body:#}");
        assert_eq!(
            body["errors"][0]["path"]
                .as_array()
                .unwrap()
                .last()
                .unwrap(),
            field,
            "{q}"
        );
        assert!(!body.to_string().contains("H01\""), "{q}: {body:#}");
    }
}

#[tokio::test]
async fn public_reads_can_be_turned_off() {
    let db = crate::support::TestDb::new().await;
    let mut config = anju::config::ServeConfig::ephemeral();
    config.auth.public_reads = false;
    let app = TestApp::spawn_with(db, config).await;
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("www-authenticate").is_some());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let token = app.admin_token().await;
    let ok = app
        .query_as(Some(&token), "{ __typename }", json!({}))
        .await;
    assert_eq!(ok["data"]["__typename"], "Query");
}

/// What one write answered: `OK`, the code of its first user error, or the code of the error
/// that refused it.
async fn write_as(app: &TestApp, token: &str, field: &str, input: Value) -> (String, String) {
    let ty = format!("{}{}Input", field[..1].to_uppercase(), &field[1..]);
    let mut input = input;
    input["idempotencyKey"] = json!(uuid::Uuid::new_v4().simple().to_string());
    let query = format!(
        "mutation($input: {ty}!) {{ {field}(input: $input) {{ userErrors {{ field message code }} }} }}"
    );
    let body = app
        .query_as(Some(token), &query, json!({ "input": input }))
        .await;
    if body.get("errors").is_some() {
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        return (error_code(&body).to_owned(), message.to_owned());
    }
    match body["data"][field]["userErrors"]
        .as_array()
        .map(Vec::as_slice)
    {
        Some([]) => ("OK".to_owned(), String::new()),
        Some([first, ..]) => (
            first["code"].as_str().unwrap_or_default().to_owned(),
            first["message"].as_str().unwrap_or_default().to_owned(),
        ),
        None => panic!("{field}: {body:#}"),
    }
}

/// The current `version` and global id of H01's records, read by the root admin.
async fn h01(app: &TestApp) -> Value {
    app.data(
        r#"{ household(code: "H01") { version
             members { nodes { idNumber version employments { nodes { id version } } } }
             homesteads { nodes { id version villageCode } } } }"#,
        json!({}),
    )
    .await["household"]
        .clone()
}

fn homestead_in<'a>(h: &'a Value, village: &str) -> &'a Value {
    h["homesteads"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["villageCode"] == village)
        .unwrap()
}

/// A write of each kind of field of H01, by whoever; `n` makes each write change its field.
async fn write_h01(app: &TestApp, token: &str, what: &str, n: u32) -> (String, String) {
    let h = h01(app).await;
    let head = &h["members"]["nodes"][0];
    let job = &head["employments"]["nodes"][0];
    let old_home = homestead_in(&h, "522732102201");
    let day = format!("2019-0{}-1{}", 1 + n % 9, n % 10);
    let (field, input) = match what {
        "moveIn" => (
            "recordMoveIn",
            json!({ "code": "H01", "version": h["version"], "movedInOn": day }),
        ),
        "povertyExit" => (
            "recordPovertyExit",
            json!({ "code": "H01", "version": h["version"], "povertyExitOn": day }),
        ),
        "phone" => (
            "updateHousehold",
            json!({ "code": "H01", "version": h["version"], "phone": format!("1388540000{}", n % 10) }),
        ),
        "addEmployment" => (
            "addEmployment",
            json!({ "memberIdNumber": head["idNumber"], "path": "LOCAL", "employer": format!("雇主{n}"),
                    "location": "IN_COUNTY", "startedOn": day }),
        ),
        "endEmployment" => (
            "endEmployment",
            json!({ "id": job["id"], "version": job["version"], "endedOn": format!("2021-0{}-01", 1 + n % 9) }),
        ),
        "demolition" => (
            "recordDemolition",
            json!({ "id": old_home["id"], "version": old_home["version"], "demolishedOn": day }),
        ),
        "exemption" => (
            "recordHomesteadExemption",
            json!({ "id": old_home["id"], "version": old_home["version"], "exempt": true }),
        ),
        "reclamation" => (
            "recordReclamation",
            json!({ "id": old_home["id"], "version": old_home["version"], "reclaimedOn": "2021-01-01", "reclaimedUse": "FOREST" }),
        ),
        other => panic!("no write {other}"),
    };
    write_as(app, token, field, input).await
}

#[tokio::test]
async fn each_township_writes_the_fields_it_owns_and_no_other() {
    let app = TestApp::with_fixture("indicators").await;
    // H01 lives at AZD001 in township 100 (its destination) and came from village 102201 in
    // township 102 (its origin), where its first homestead lies; both see it.
    let origin = app.token(Role::Officer, "522732102", None).await;
    let destination = app.token(Role::Officer, "522732100", None).await;
    let manager = app
        .token(Role::SiteManager, "522732100", Some("AZD001"))
        .await;
    let county = app.token(Role::Officer, "522732", None).await;
    let admin = app.token(Role::Admin, "520000", None).await;
    let cases: &[(&str, &str, &str, &str)] = &[
        // The origin may not record what the destination's indicators count …
        ("origin", "moveIn", "FORBIDDEN", "movedInOn"),
        ("origin", "povertyExit", "FORBIDDEN", "povertyExitOn"),
        ("origin", "addEmployment", "FORBIDDEN", "employment"),
        ("origin", "endEmployment", "FORBIDDEN", "employment"),
        // … but records its own homestead, and shared fields.
        ("origin", "demolition", "OK", ""),
        ("origin", "phone", "OK", ""),
        // The destination may not touch a homestead in another township's village …
        ("destination", "demolition", "FORBIDDEN", "demolishedOn"),
        ("destination", "reclamation", "FORBIDDEN", "reclaimedOn"),
        ("destination", "exemption", "FORBIDDEN", "exempt"),
        ("manager", "demolition", "FORBIDDEN", "demolishedOn"),
        // … and records its own fields.
        ("destination", "moveIn", "OK", ""),
        ("destination", "povertyExit", "OK", ""),
        ("destination", "addEmployment", "OK", ""),
        ("destination", "endEmployment", "OK", ""),
        ("destination", "phone", "OK", ""),
        ("manager", "moveIn", "OK", ""),
        ("manager", "addEmployment", "OK", ""),
        // An area above both owns everything.
        ("county", "moveIn", "OK", ""),
        ("county", "addEmployment", "OK", ""),
        ("county", "demolition", "OK", ""),
        ("county", "reclamation", "OK", ""),
        ("admin", "moveIn", "OK", ""),
        ("admin", "endEmployment", "OK", ""),
        ("admin", "demolition", "OK", ""),
    ];
    for (n, (who, what, expected, field)) in cases.iter().enumerate() {
        let token = match *who {
            "origin" => &origin,
            "destination" => &destination,
            "manager" => &manager,
            "county" => &county,
            _ => &admin,
        };
        let before = h01(&app).await;
        let (code, message) = write_h01(&app, token, what, n as u32).await;
        assert_eq!(code, *expected, "{who} {what}: {message}");
        if code == "FORBIDDEN" {
            // The message names the field and the township that owns it; nothing changed.
            assert!(message.contains(&format!("`{field}`")), "{message}");
            let side = if what.contains("mployment") || *what == "moveIn" || *what == "povertyExit"
            {
                "destination township"
            } else {
                "origin township"
            };
            assert!(message.contains(side), "{message}");
            assert_eq!(h01(&app).await, before, "{who} {what} changed H01");
        }
    }

    // H01's second homestead lies in village 101201: township 101 records it, though it does
    // not see H01 itself.
    let other = app.token(Role::Officer, "522732101", None).await;
    let h = h01(&app).await;
    let home = homestead_in(&h, "522732101201");
    let (code, message) = write_as(
        &app,
        &other,
        "recordReclamation",
        json!({ "id": home["id"], "version": home["version"], "reclaimedOn": "2020-07-01", "reclaimedUse": "CROPLAND" }),
    )
    .await;
    assert_eq!(code, "OK", "{message}");
}

#[tokio::test]
async fn read_entries_compress_their_key_lists_with_lz4_where_the_server_can() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::with_fixture("indicators").await;
    let page = "{ households(first: 10) { nodes { code headName } } }";
    let data = app.data(page, json!({})).await;
    let shown: Vec<String> = data["households"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|h| h["code"].as_str().expect("code").to_owned())
        .collect();
    assert!(!shown.is_empty());
    let db = &app.db.db;
    let backend = db.get_database_backend();
    let one = |sql: &str| {
        let sql = sql.to_owned();
        async move {
            db.query_one_raw(Statement::from_string(backend, sql.clone()))
                .await
                .expect(&sql)
                .expect("a row")
        }
    };
    // The entry the page was audited with lists its keys, on every database.
    let listed = one(
        "SELECT entity_keys FROM audit_log WHERE entity = 'household' \
         AND entity_keys IS NOT NULL ORDER BY id DESC LIMIT 1",
    )
    .await
    .try_get::<String>("", "entity_keys")
    .expect("keys");
    let keys: Vec<String> = serde_json::from_str(&listed).expect("a JSON list");
    assert_eq!(keys, shown);
    if !app.db.is_postgres() {
        return;
    }
    // What the server offers decides what the column uses: LZ4 where the server was built with
    // it, else the server's default.
    let offers_lz4 = db
        .execute_unprepared("SET default_toast_compression = lz4")
        .await
        .is_ok();
    let method = one(
        "SELECT CAST(attcompression AS TEXT) AS m FROM pg_attribute \
         WHERE attrelid = CAST('audit_log' AS regclass) AND attname = 'entity_keys'",
    )
    .await
    .try_get::<String>("", "m")
    .expect("compression");
    assert_eq!(
        method,
        if offers_lz4 { "l" } else { "" },
        "offers lz4: {offers_lz4}"
    );
}
