//! Records read by the position of their columns are the records their columns hold.

use crate::support::TestDb;
use entity::positional::{ByPosition, Positional};
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
    let by_position = E::find()
        .order_by_asc(order)
        .into_model::<Positional<E::Model>>()
        .all(db)
        .await
        .expect("by position")
        .into_iter()
        .map(|Positional(m)| m)
        .collect();
    (by_name, by_position)
}

fn same<M: PartialEq + Debug>(what: &str, (by_name, by_position): (Vec<M>, Vec<M>)) {
    assert!(!by_name.is_empty(), "no {what} to compare");
    assert_eq!(by_position, by_name, "{what}");
}

#[tokio::test]
async fn every_kind_of_record_reads_the_same_by_position_as_by_name() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    anju_demo::write_csv(
        &anju_demo::DemoOptions {
            households: 120,
            seed: 11,
            ..anju_demo::DemoOptions::default()
        },
        dir.path(),
    )
    .expect("demo");
    anju::register::import_dir(&db.db, dir.path())
        .await
        .expect("import demo");
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
