//! Records read by the position of their columns are the records their columns hold.

use crate::support::TestDb;
use entity::positional::{self, ByPosition};
use entity::{area, audit_log, employment, homestead, household, member, site, site_work};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use std::fmt::Debug;

/// Every row of `E`, read once by column name (the model's own decoder) and once by position.
async fn both_ways<E>(db: &DatabaseConnection, order: E::Column) -> (Vec<E::Model>, Vec<E::Model>)
where
    E: EntityTrait<Model: ByPosition>,
{
    let by_name = E::find()
        .order_by_asc(order)
        .all(db)
        .await
        .expect("by name");
    let by_position = positional::all(E::find().order_by_asc(order), db)
        .await
        .expect("by position");
    (by_name, by_position)
}

fn same<M: PartialEq + Debug>(what: &str, (by_name, by_position): (Vec<M>, Vec<M>)) {
    assert!(!by_name.is_empty(), "no {what} to compare");
    assert_eq!(by_position, by_name, "{what}");
}

#[tokio::test]
async fn every_kind_of_record_reads_the_same_by_position_as_by_name() {
    let db = TestDb::with_demo(anju_demo::DemoOptions {
        households: 120,
        seed: 11,
        ..anju_demo::DemoOptions::default()
    })
    .await;
    // Audit rows with every optional column both empty and filled: a write (before and after,
    // no keys, no purpose) and a read (keys and purpose, no before or after).
    let who = anju::domain::audit::Actor {
        actor: "user:rows",
        role: "admin",
        area_code: "140000",
    };
    let change = anju::domain::audit::Change {
        action: "updateSite",
        entity: "site",
        key: "S1",
        before: Some(serde_json::json!({ "name": "旧" })),
        after: Some(serde_json::json!({ "name": "新" })),
    };
    anju::domain::audit::record_write(&db.db, &who, "req-1", change)
        .await
        .expect("audit a write");
    let reads = [("member", "1".to_owned()), ("member", "2".to_owned())];
    anju::domain::audit::record_reads(&db.db, &who, "req-2", Some("核查"), &reads)
        .await
        .expect("audit a read");

    let db = &db.db;
    same(
        "areas",
        both_ways::<area::Entity>(db, area::Column::Code).await,
    );
    same(
        "sites",
        both_ways::<site::Entity>(db, site::Column::Code).await,
    );
    same(
        "works",
        both_ways::<site_work::Entity>(db, site_work::Column::Code).await,
    );
    same(
        "households",
        both_ways::<household::Entity>(db, household::Column::Code).await,
    );
    same(
        "members",
        both_ways::<member::Entity>(db, member::Column::IdNumber).await,
    );
    same(
        "employments",
        both_ways::<employment::Entity>(db, employment::Column::Id).await,
    );
    same(
        "homesteads",
        both_ways::<homestead::Entity>(db, homestead::Column::Id).await,
    );
    let audit = both_ways::<audit_log::Entity>(db, audit_log::Column::Id).await;
    // Both audit rows, with what their optional columns hold.
    let filled: Vec<(bool, bool, bool)> = audit
        .1
        .iter()
        .map(|r| {
            (
                r.before.is_some(),
                r.entity_keys.is_some(),
                r.purpose.is_some(),
            )
        })
        .collect();
    assert!(filled.contains(&(true, false, false)), "{filled:?}");
    assert!(filled.contains(&(false, true, true)), "{filled:?}");
    same("audit entries", audit);
}

/// What a page of households shows of each household's members and their employments:
/// household code → member ID numbers in the order shown → each member's employment IDs.
type Shown = Vec<(String, Vec<(String, Vec<i64>)>)>;

fn shown(data: &serde_json::Value) -> Shown {
    let list = |v: &serde_json::Value| v["nodes"].as_array().cloned().unwrap_or_default();
    list(&data["households"])
        .iter()
        .map(|h| {
            let members = list(&h["members"])
                .iter()
                .map(|m| {
                    let mut jobs: Vec<i64> = list(&m["employments"])
                        .iter()
                        .map(|e| e["recordId"].as_str().unwrap().parse().unwrap())
                        .collect();
                    jobs.sort_unstable();
                    (m["idNumber"].as_str().unwrap().to_owned(), jobs)
                })
                .collect();
            (h["code"].as_str().unwrap().to_owned(), members)
        })
        .collect()
}

#[tokio::test]
async fn a_page_reads_its_members_with_their_employments_as_the_register_holds_them() {
    use anju::auth::Role;
    use sea_orm::QueryFilter;
    let db = TestDb::with_demo(anju_demo::DemoOptions {
        households: 150,
        seed: 5,
        ..anju_demo::DemoOptions::default()
    })
    .await;
    // What the register holds, read table by table.
    let members = member::Entity::find().all(&db.db).await.unwrap();
    let jobs = employment::Entity::find().all(&db.db).await.unwrap();
    let held = |household: &str| -> Vec<(String, Vec<i64>)> {
        let mut ms: Vec<(String, Vec<i64>)> = members
            .iter()
            .filter(|m| m.household_code == household)
            .map(|m| {
                let mut ids: Vec<i64> = jobs
                    .iter()
                    .filter(|e| e.member_id_number == m.id_number)
                    .map(|e| e.id)
                    .collect();
                ids.sort_unstable();
                (m.id_number.clone(), ids)
            })
            .collect();
        ms.sort();
        ms
    };
    let first = household::Entity::find()
        .order_by_asc(household::Column::Code)
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    let township = site::Entity::find()
        .filter(sea_orm::ColumnTrait::eq(
            &site::Column::Code,
            &first.site_code,
        ))
        .one(&db.db)
        .await
        .unwrap()
        .unwrap()
        .township_code;
    let app = crate::support::TestApp::spawn_on(db).await;
    let q = r#"{ households(first: 100) { nodes { code
        members(first: 100) { nodes { idNumber employments(first: 100) { nodes { recordId } } } } } } }"#;
    let admin = app.admin_token().await;
    let officer = app.token(Role::Officer, &township, None).await;
    // The officer sees ID numbers masked: their households are compared by how many members
    // each has and which employments.
    let jobs_of = |members: &[(String, Vec<i64>)]| {
        let mut all: Vec<i64> = members.iter().flat_map(|(_, j)| j.clone()).collect();
        all.sort_unstable();
        (members.len(), all)
    };
    for (token, unmasked) in [(&admin, true), (&officer, false)] {
        let body = app.query_as(Some(token), q, serde_json::json!({})).await;
        assert!(body["errors"].is_null(), "{body}");
        let page = shown(&body["data"]);
        assert!(!page.is_empty());
        for (code, members) in &page {
            let expected = held(code);
            if unmasked {
                assert_eq!(members, &expected, "household {code}");
            } else {
                assert_eq!(jobs_of(members), jobs_of(&expected), "household {code}");
            }
        }
        // The page holds members without employments, with one, and with several.
        let counts: Vec<usize> = page
            .iter()
            .flat_map(|(_, ms)| ms.iter().map(|(_, jobs)| jobs.len()))
            .collect();
        for n in [0, 1] {
            assert!(counts.contains(&n), "no member with {n} employments");
        }
        assert!(counts.iter().any(|&n| n > 1), "no member with several");
    }
}
