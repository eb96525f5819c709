//! The demo generator: Yushe's exact size, determinism, and clean imports at any size.

use crate::support::{TestApp, TestDb};
use anju::config::ServeConfig;
use anju::register::{id_number, import_dir};
use anju_demo::{write_csv, DemoOptions, DemoSummary};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// The data rows of one generated file, split into cells (generated cells hold no commas).
fn rows(dir: &Path, file: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn default_demo_is_yushe_and_imports_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_csv(&DemoOptions::default(), dir.path()).unwrap();
    assert_eq!((summary.households, summary.persons), (4029, 9614));
    assert_eq!(rows(dir.path(), "households.csv").len(), 4029);
    assert_eq!(rows(dir.path(), "members.csv").len(), 9614);

    let areas = rows(dir.path(), "areas.csv");
    assert_eq!(areas.len(), summary.areas);
    let named: HashMap<&str, &str> = areas
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(named["140000"], "山西省");
    assert_eq!(named["140700"], "晋中市");
    assert_eq!(named["140721"], "榆社县");
    let townships: BTreeSet<&str> = areas
        .iter()
        .filter(|r| r[2] == "township")
        .map(|r| r[1].as_str())
        .collect();
    let yushe: BTreeSet<&str> = [
        "箕城镇",
        "云竹镇",
        "郝北镇",
        "社城镇",
        "河峪乡",
        "北寨乡",
        "西马乡",
        "岚峪乡",
        "讲堂乡",
    ]
    .into();
    assert_eq!(townships, yushe);
    assert!(
        areas.iter().any(|r| r[2] == "village" && r[4] == "true"),
        "some poverty villages"
    );
    assert!(
        areas.iter().any(|r| r[2] == "village" && r[5] == "true"),
        "some whole-village relocations"
    );
    assert!(
        (18..=22).contains(&summary.sites),
        "about 20 sites, got {}",
        summary.sites
    );

    // Every site has works of all four categories; a few main works are unfinished.
    let works = rows(dir.path(), "site_works.csv");
    let sites = rows(dir.path(), "sites.csv");
    for site in &sites {
        let categories: BTreeSet<&str> = works
            .iter()
            .filter(|w| w[0] == site[0])
            .map(|w| w[2].as_str())
            .collect();
        assert_eq!(categories.len(), 4, "site {}", site[0]);
    }
    let unfinished: BTreeSet<&str> = works
        .iter()
        .filter(|w| w[2] == "main" && w[4].is_empty())
        .map(|w| w[0].as_str())
        .collect();
    assert!(
        (1..=sites.len() / 4).contains(&unfinished.len()),
        "{} sites still building",
        unfinished.len()
    );
    let placements: BTreeSet<&str> = sites.iter().map(|s| s[3].as_str()).collect();
    assert_eq!(placements.len(), 2);

    // IDs: valid, unique, birth date and sex as recorded.
    let members = rows(dir.path(), "members.csv");
    let mut seen = BTreeSet::new();
    for m in &members {
        let id = id_number::parse(&m[1]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.birth_date.to_string(), m[4]);
        assert_eq!(id.male, m[5] == "male", "{}", m[1]);
        assert!(seen.insert(m[1].clone()), "duplicate {}", m[1]);
    }
    let employments = rows(dir.path(), "employments.csv");
    let paths: BTreeSet<&str> = employments.iter().map(|e| e[1].as_str()).collect();
    assert_eq!(paths.len(), 4);

    let db = TestDb::new().await;
    let imported = import_dir(&db.db, dir.path()).await.unwrap();
    assert_eq!(
        (imported.areas, imported.sites),
        (summary.areas, summary.sites)
    );
    assert_eq!((imported.households, imported.members), (4029, 9614));
}

#[test]
fn demo_is_deterministic() {
    let files = [
        "areas.csv",
        "sites.csv",
        "site_works.csv",
        "households.csv",
        "members.csv",
        "employments.csv",
        "homesteads.csv",
    ];
    let opts = DemoOptions {
        households: 2000,
        seed: 7,
        ..DemoOptions::default()
    };
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    write_csv(&opts, a.path()).unwrap();
    write_csv(&opts, b.path()).unwrap();
    write_csv(&DemoOptions { seed: 8, ..opts }, c.path()).unwrap();
    for file in files {
        let x = std::fs::read(a.path().join(file)).unwrap();
        assert!(
            x == std::fs::read(b.path().join(file)).unwrap(),
            "{file} differs for the same seed"
        );
    }
    assert!(
        std::fs::read(a.path().join("members.csv")).unwrap()
            != std::fs::read(c.path().join("members.csv")).unwrap()
    );
}

#[tokio::test]
async fn larger_demos_add_counties_and_import_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_csv(
        &DemoOptions {
            households: 9000,
            seed: 1,
            ..DemoOptions::default()
        },
        dir.path(),
    )
    .unwrap();
    // 9,000 × 9,614 / 4,029 people, rounded; one county per ~4,000 households; a site per ~200.
    assert_eq!((summary.households, summary.persons), (9000, 21476));
    let counties: Vec<Vec<String>> = rows(dir.path(), "areas.csv")
        .into_iter()
        .filter(|r| r[2] == "county")
        .collect();
    assert_eq!(counties.len(), 2);
    assert_eq!(counties[0][0], "140721");
    assert_eq!(summary.sites, 46);

    let db = TestDb::new().await;
    let imported = import_dir(&db.db, dir.path()).await.unwrap();
    assert_eq!(
        DemoSummary {
            areas: imported.areas,
            sites: imported.sites,
            households: imported.households,
            persons: imported.members
        },
        summary
    );
}

#[tokio::test]
async fn people_and_sites_can_be_asked_for_and_import_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_csv(
        &DemoOptions {
            households: 9000,
            seed: 3,
            persons: Some(29_647),
            sites: Some(101),
        },
        dir.path(),
    )
    .unwrap();
    assert_eq!(
        (summary.households, summary.persons, summary.sites),
        (9000, 29_647, 101)
    );
    assert_eq!(rows(dir.path(), "members.csv").len(), 29_647);
    let sites = rows(dir.path(), "sites.csv");
    assert_eq!(sites.len(), 101);
    // Both counties get their share of the sites, each coded within its county.
    let mut by_county: HashMap<&str, usize> = HashMap::new();
    for site in &sites {
        *by_county.entry(&site[0][..6]).or_default() += 1;
    }
    assert_eq!(by_county.len(), 2, "{by_county:?}");
    assert_eq!(by_county["140721"], 50);

    let db = TestDb::new().await;
    let imported = import_dir(&db.db, dir.path()).await.unwrap();
    assert_eq!(
        (imported.households, imported.members, imported.sites),
        (9000, 29_647, 101)
    );
}

#[test]
fn people_or_sites_that_cannot_fit_are_refused_before_anything_is_written() {
    let refused = |persons: Option<usize>, sites: Option<usize>| {
        let dir = tempfile::tempdir().unwrap();
        let opts = DemoOptions {
            households: 9000,
            persons,
            sites,
            ..DemoOptions::default()
        };
        let err = write_csv(&opts, dir.path()).expect_err("refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "files were written"
        );
        err.to_string()
    };
    let too_many = refused(Some(72_001), None);
    assert!(
        too_many.contains("72001 people cannot live in 9000 households"),
        "{too_many}"
    );
    assert!(refused(Some(8_999), None).contains("one to eight"));
    // Two counties need a site each.
    let too_few = refused(None, Some(1));
    assert!(
        too_few.contains("1 sites cannot be shared among 2 counties"),
        "{too_few}"
    );
    assert!(refused(None, Some(9_001)).contains("at most 999"));
}

/// The households in `db`.
async fn households(db: &TestDb) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::household::Entity::find()
        .count(&db.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_production_server_never_loads_the_demo_into_an_empty_register() {
    let app = TestApp::spawn_with(
        TestDb::new().await,
        ServeConfig {
            production: true,
            demo_if_empty: true,
            ..ServeConfig::ephemeral()
        },
    )
    .await;
    assert_eq!(households(&app.db).await, 0);
}

#[tokio::test]
async fn a_development_server_loads_the_demo_into_an_empty_register() {
    let app = TestApp::spawn_with(
        TestDb::new().await,
        ServeConfig {
            demo_if_empty: true,
            ..ServeConfig::ephemeral()
        },
    )
    .await;
    assert_eq!(households(&app.db).await, 4029);
}
