//! Relay object identification (`node`, `nodes`, global ids) and backward pagination, over the
//! `indicators` fixture (see `access.rs` for its tree).

use crate::support::{error_code, TestApp};
use anju::auth::Role;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// One record of every kind that has a global id, read as the root admin.
const ONE_OF_EACH: &str = r#"{
  area(code: "522732100") { id }
  site(code: "AZD001") { id works(first: 1) { nodes { id } } }
  household(code: "H01") { id
    members(first: 1) { nodes { id idNumber employments(first: 1) { nodes { id recordId } } } }
    homesteads(first: 1) { nodes { id recordId } } }
  auditLog(first: 1) { nodes { id recordId } }
}"#;

/// `(type name, global id)` of one record of every kind.
async fn ids_of_each(app: &TestApp) -> Vec<(&'static str, String)> {
    // Reading an ID number unmasked writes an audit entry, so the log is not empty.
    app.data(
        r#"{ member(idNumber: "522732197503120114") { idNumber } }"#,
        json!({}),
    )
    .await;
    let d = app.data(ONE_OF_EACH, json!({})).await;
    let member = &d["household"]["members"]["nodes"][0];
    let id = |v: &Value| v["id"].as_str().expect("an id").to_owned();
    vec![
        ("Area", id(&d["area"])),
        ("ResettlementSite", id(&d["site"])),
        ("SiteWork", id(&d["site"]["works"]["nodes"][0])),
        ("Household", id(&d["household"])),
        ("Member", id(member)),
        ("Employment", id(&member["employments"]["nodes"][0])),
        ("Homestead", id(&d["household"]["homesteads"]["nodes"][0])),
        ("AuditEntry", id(&d["auditLog"]["nodes"][0])),
    ]
}

const NODE: &str = "query($id: ID!) { node(id: $id) { __typename id } }";

#[tokio::test]
async fn every_kind_round_trips_through_node_and_nodes() {
    let app = TestApp::with_fixture("indicators").await;
    let ids = ids_of_each(&app).await;
    for (ty, id) in &ids {
        let d = app.data(NODE, json!({ "id": id })).await;
        assert_eq!(d["node"]["__typename"], *ty, "{ty}");
        assert_eq!(d["node"]["id"], *id, "{ty}");
    }
    let all: Vec<&String> = ids.iter().map(|(_, id)| id).collect();
    let d = app
        .data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({ "ids": all }),
        )
        .await;
    let got: Vec<(String, String)> = d["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["__typename"].as_str().unwrap().to_owned(),
                n["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = ids.iter().map(|(t, i)| ((*t).into(), i.clone())).collect();
    assert_eq!(got, want);

    // A node's fields are the type's own.
    let d = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Household { code site { code } } } }",
            json!({ "id": ids[3].1 }),
        )
        .await;
    assert_eq!(
        d["node"],
        json!({ "code": "H01", "site": { "code": "AZD001" } })
    );
}

#[tokio::test]
async fn out_of_scope_malformed_and_unknown_ids_are_all_null() {
    let app = TestApp::with_fixture("indicators").await;
    let ids = ids_of_each(&app).await;
    // A site manager of AZD003 (township 101) sees none of township 100's records; an admin of
    // township 101 does not see the root admin's audit entry.
    let manager = app
        .token(Role::SiteManager, "522732101", Some("AZD003"))
        .await;
    let admin_101 = app.token(Role::Admin, "522732101", None).await;
    for (ty, id) in &ids {
        for token in [&manager, &admin_101] {
            let body = app.query_as(Some(token), NODE, json!({ "id": id })).await;
            assert!(body.get("errors").is_none(), "{ty}: {body:#}");
            assert!(body["data"]["node"].is_null(), "{ty} leaked: {body:#}");
        }
    }
    // The same principal does see what is in its scope.
    let h06 = app
        .data(r#"{ household(code: "H06") { id } }"#, json!({}))
        .await["household"]["id"]
        .clone();
    let body = app
        .query_as(Some(&manager), NODE, json!({ "id": h06 }))
        .await;
    assert_eq!(body["data"]["node"]["__typename"], "Household", "{body:#}");

    let forged = URL_SAFE_NO_PAD.encode("Member:522732197503120114");
    let unknown = URL_SAFE_NO_PAD.encode("Household:H99");
    for id in ["", "not base64!", "Zm9v", forged.as_str(), unknown.as_str()] {
        let d = app.data(NODE, json!({ "id": id })).await;
        assert!(d["node"].is_null(), "`{id}` gave {d:#}");
    }

    let many: Vec<String> = (0..101).map(|_| ids[0].1.clone()).collect();
    let body = app
        .query(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": many }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body:#}");
}

#[tokio::test]
async fn anonymous_callers_get_areas_and_sites_only() {
    let app = TestApp::with_fixture("indicators").await;
    let ids = ids_of_each(&app).await;
    let q = "query($id: ID!) { node(id: $id) { __typename id \
             ... on Area { name } ... on ResettlementSite { name } } }";
    for (ty, id) in &ids {
        let body = app.query_as(None, q, json!({ "id": id })).await;
        assert!(body.get("errors").is_none(), "{ty}: {body:#}");
        let public = matches!(*ty, "Area" | "ResettlementSite");
        assert_eq!(!body["data"]["node"].is_null(), public, "{ty}: {body:#}");
        if public {
            assert!(body["data"]["node"]["name"].is_string(), "{body:#}");
        }
    }
}

#[tokio::test]
async fn member_ids_hide_the_id_number_and_ids_are_stable_across_servers() {
    let app = TestApp::with_fixture("indicators").await;
    let q = r#"{ household(code: "H01") { id members { nodes { id idNumber } } } }"#;
    let first = app.data(q, json!({})).await;
    for m in first["household"]["members"]["nodes"].as_array().unwrap() {
        let id = m["id"].as_str().unwrap();
        let number = m["idNumber"].as_str().unwrap();
        assert_eq!(number.len(), 18, "an admin reads the number unmasked");
        assert!(!id.contains(number) && !id.contains(&number[..10]), "{id}");
        let decoded = URL_SAFE_NO_PAD.decode(id).expect("base64url");
        let text = String::from_utf8_lossy(&decoded);
        assert!(text.starts_with("Member:"), "{text}");
        assert!(
            !text.contains(number) && !text.contains(&number[..10]),
            "{text}"
        );
    }
    assert_eq!(
        app.data(q, json!({})).await,
        first,
        "stable across requests"
    );

    let other = TestApp::spawn_on(app.db.share().await).await;
    let token = app.admin_token().await;
    let body = other.query_as(Some(&token), q, json!({})).await;
    assert_eq!(
        body["data"], first,
        "stable across server processes: {body:#}"
    );
}

#[tokio::test]
async fn mutations_take_global_ids_and_record_numbers() {
    let app = TestApp::with_fixture("indicators").await;
    let d = app
        .data(
            r#"{ household(code: "H02") { homesteads { nodes { id recordId version } } } }"#,
            json!({}),
        )
        .await;
    let h = &d["household"]["homesteads"]["nodes"][0];
    let m = "mutation($i: RecordHomesteadExemptionInput!) { recordHomesteadExemption(input: $i) \
             { homestead { id exempt version } userErrors { message } } }";
    let input = |id: &Value, version: &Value, exempt: bool| {
        json!({ "i": { "idempotencyKey": uuid::Uuid::new_v4().to_string(), "id": id,
                       "version": version, "exempt": exempt } })
    };
    let d = app.data(m, input(&h["id"], &h["version"], false)).await;
    let written = &d["recordHomesteadExemption"]["homestead"];
    assert_eq!(written["id"], h["id"], "{d:#}");
    let d = app
        .data(m, input(&h["recordId"], &written["version"], false))
        .await;
    assert!(
        !d["recordHomesteadExemption"]["homestead"].is_null(),
        "{d:#}"
    );
}

/// A list to read both ways: the field, the fields around it, and where its connection is in
/// the response.
struct List {
    open: &'static str,
    field: &'static str,
    close: &'static str,
    path: &'static [&'static str],
    key: &'static str,
    len: usize,
}

/// Reads a whole list forward with `first: 3` and backward with `last: 3`, checking `pageInfo`
/// and the order within each page on the way, and returns the keys in list order both ways.
async fn both_ways(app: &TestApp, list: &List) -> (Vec<String>, Vec<String>) {
    let q = format!(
        "query($first: Int, $after: String, $last: Int, $before: String) {{ {} {}(first: $first, \
         after: $after, last: $last, before: $before) {{ edges {{ cursor node {{ {} }} }} \
         pageInfo {{ hasPreviousPage hasNextPage startCursor endCursor }} }} {} }}",
        list.open, list.field, list.key, list.close
    );
    let read = |d: Value| -> (Vec<String>, Value) {
        let conn = list.path.iter().fold(d, |v, p| v[*p].clone());
        let keys: Vec<String> = conn["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"][list.key].as_str().unwrap().to_owned())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "{}: in order within a page", list.field);
        (keys, conn["pageInfo"].clone())
    };
    let mut forward = Vec::new();
    let mut after = Value::Null;
    for n in 0.. {
        let (keys, info) = read(app.data(&q, json!({ "first": 3, "after": after })).await);
        assert_eq!(info["hasPreviousPage"], n > 0, "forward page {n}: {info}");
        forward.extend(keys);
        if info["hasNextPage"] == false {
            break;
        }
        after = info["endCursor"].clone();
        assert!(n < 50, "pagination does not end");
    }
    let mut backward: Vec<String> = Vec::new();
    let mut before = Value::Null;
    for n in 0.. {
        let (mut keys, info) = read(app.data(&q, json!({ "last": 3, "before": before })).await);
        assert_eq!(info["hasNextPage"], n > 0, "backward page {n}: {info}");
        keys.extend(backward);
        backward = keys;
        if info["hasPreviousPage"] == false {
            break;
        }
        before = info["startCursor"].clone();
        assert!(n < 50, "pagination does not end");
    }
    (forward, backward)
}

#[tokio::test]
async fn backward_pages_hold_the_records_of_forward_pages() {
    let app = TestApp::with_fixture("indicators").await;
    let lists = [
        List {
            open: "",
            field: "households",
            close: "",
            path: &["households"],
            key: "code",
            len: 8,
        },
        List {
            open: "",
            field: "areas",
            close: "",
            path: &["areas"],
            key: "code",
            len: 11,
        },
        // Sealed member cursors, paged in the database and in memory.
        List {
            open: "",
            field: "members",
            close: "",
            path: &["members"],
            key: "idNumber",
            len: 18,
        },
        List {
            open: r#"household(code: "H01") {"#,
            field: "members",
            close: "}",
            path: &["household", "members"],
            key: "idNumber",
            len: 3,
        },
        List {
            open: r#"site(code: "AZD001") {"#,
            field: "works",
            close: "}",
            path: &["site", "works"],
            key: "code",
            len: 0,
        },
    ];
    for list in &lists {
        let (forward, backward) = both_ways(&app, list).await;
        assert_eq!(forward, backward, "{}", list.field);
        if list.len > 0 {
            assert_eq!(forward.len(), list.len, "{}", list.field);
        } else {
            assert!(forward.len() > 3, "{}: more than one page", list.field);
        }
    }
}

#[tokio::test]
async fn after_and_before_bound_a_page_and_bad_arguments_are_refused() {
    let app = TestApp::with_fixture("indicators").await;
    let all = app
        .data(
            "{ households(first: 8) { edges { cursor node { code } } } }",
            json!({}),
        )
        .await;
    let edges = all["households"]["edges"].as_array().unwrap().clone();
    let cursor = |i: usize| edges[i]["cursor"].clone();
    let q = "query($f: Int, $l: Int, $a: String, $b: String) { households(first: $f, last: $l, \
             after: $a, before: $b) { nodes { code } pageInfo { hasPreviousPage hasNextPage } } }";
    let codes = |d: &Value| -> Vec<String> {
        d["households"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["code"].as_str().unwrap().to_owned())
            .collect()
    };
    let d = app
        .data(q, json!({ "f": 10, "a": cursor(1), "b": cursor(5) }))
        .await;
    assert_eq!(codes(&d), ["H03", "H04", "H05"]);
    let d = app
        .data(q, json!({ "l": 2, "a": cursor(1), "b": cursor(5) }))
        .await;
    assert_eq!(codes(&d), ["H04", "H05"]);
    assert_eq!(d["households"]["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(d["households"]["pageInfo"]["hasNextPage"], true);
    let d = app.data(q, json!({ "l": 2 })).await;
    assert_eq!(codes(&d), ["H07", "H08"]);
    assert_eq!(d["households"]["pageInfo"]["hasNextPage"], false);
    let d = app.data(q, json!({})).await;
    assert_eq!(codes(&d).len(), 8, "first defaults to 20");

    for vars in [
        json!({ "f": 2, "l": 2 }),
        json!({ "l": 0 }),
        json!({ "l": 101 }),
        json!({ "l": 2, "b": "not-a-cursor" }),
    ] {
        let body = app.query(q, vars.clone()).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{vars}: {body:#}");
    }
    // A member cursor that was not sealed by this deployment is refused as `before` too.
    let plain = URL_SAFE_NO_PAD.encode("k1:522732197503120114");
    let body = app
        .query(
            "query($b: String) { members(last: 2, before: $b) { totalCount } }",
            json!({ "b": plain }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body:#}");
}

#[tokio::test]
async fn last_costs_like_first() {
    let app = TestApp::with_fixture("indicators").await;
    // 100 × 100 × (1 + 2 + 1) fields is far beyond the default 20 000 budget either way.
    for arg in ["first", "last"] {
        let q = format!(
            "{{ areas({arg}: 100) {{ nodes {{ households({arg}: 100) {{ nodes {{ code persons }} }} }} }} }}"
        );
        let body = app.query(&q, json!({})).await;
        assert_eq!(error_code(&body), "QUERY_TOO_COSTLY", "{arg}: {body:#}");
    }
}
