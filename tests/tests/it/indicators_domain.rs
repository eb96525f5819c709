//! The indicators of CONTRACT §2 over the `indicators` fixture, against numbers counted by hand
//! (tests/fixtures/indicators/EXPECTED.md explains every one).

use crate::support::{fixture, TestDb};
use anju::domain::indicators::{compute, scope_exists, IndicatorValues, Ratio, Target};
use chrono::NaiveDate;
use entity::enums::{EmploymentPath, WorkCategory};

/// Before anything happened.
const D0: &str = "2018-12-31";
const Y: &str = "2019-12-31";
/// The day before T.
const P: &str = "2020-06-29";
/// The date most events of the fixture fall on.
const T: &str = "2020-06-30";
/// The day after T.
const N: &str = "2020-07-01";
const E: &str = "2020-12-31";

const PROVINCE: &str = "520000";
const CITY: &str = "522700";
const COUNTY: &str = "522732";
const TOWNSHIP_A: &str = "522732100";
const TOWNSHIP_B: &str = "522732101";
/// The township without sites.
const TOWNSHIP_C: &str = "522732102";
const VILLAGE_VA1: &str = "522732100201";
const VILLAGE_VC1: &str = "522732102201";

/// `(numerator, denominator)`.
type R = (i64, i64);

/// Hand-counted values; lists in contract order (works: main, infrastructure, public_facility,
/// ancillary; paths: directed_export, local, home_flexible, public_welfare_post).
#[derive(Debug, Clone, Copy)]
struct Expected {
    construction: R,
    works: R,
    by_category: [R; 4],
    occupancy: R,
    persons: R,
    stable_exit: R,
    employment: R,
    household_employment: R,
    by_path: [i64; 4],
    demolition: R,
    reclamation: R,
    reclaimed_mu: f64,
}

/// Site-side values of a scope without sites (township C, villages).
const NO_SITES: Expected = Expected {
    construction: (0, 0),
    works: (0, 0),
    by_category: [(0, 0); 4],
    occupancy: (0, 0),
    persons: (0, 0),
    stable_exit: (0, 0),
    employment: (0, 0),
    household_employment: (0, 0),
    by_path: [0; 4],
    demolition: (0, 0),
    reclamation: (0, 0),
    reclaimed_mu: 0.0,
};

const PROVINCE_AT_T: Expected = Expected {
    construction: (1, 2),
    works: (7, 10),
    by_category: [(3, 4), (2, 2), (1, 2), (1, 2)],
    occupancy: (6, 8),
    persons: (14, 18),
    stable_exit: (3, 7),
    employment: (4, 11),
    household_employment: (4, 7),
    by_path: [1, 2, 1, 1],
    demolition: (5, 7),
    reclamation: (3, 7),
    reclaimed_mu: 1.2,
};

fn date(iso: &str) -> NaiveDate {
    NaiveDate::parse_from_str(iso, "%Y-%m-%d").expect("valid test date")
}

fn ratio((numerator, denominator): R) -> Ratio {
    Ratio {
        numerator,
        denominator,
    }
}

/// The fixture, imported into a fresh database.
async fn register() -> TestDb {
    let db = TestDb::new().await;
    anju::register::import_dir(&db.db, &fixture("indicators"))
        .await
        .expect("import the indicators fixture");
    db
}

async fn check(db: &TestDb, scope: Target, as_of: &str, e: Expected) {
    let what = format!("{scope:?} on {as_of}");
    let actual = compute(&db.db, &scope, date(as_of))
        .await
        .expect("compute indicators");
    let expected = IndicatorValues {
        as_of: date(as_of),
        construction_completion: ratio(e.construction),
        works_completion: ratio(e.works),
        works_by_category: WorkCategory::ALL
            .iter()
            .copied()
            .zip(e.by_category.map(ratio))
            .collect(),
        occupancy: ratio(e.occupancy),
        occupancy_persons: ratio(e.persons),
        stable_poverty_exit: ratio(e.stable_exit),
        employment: ratio(e.employment),
        household_employment: ratio(e.household_employment),
        employment_by_path: EmploymentPath::ALL.iter().copied().zip(e.by_path).collect(),
        demolition: ratio(e.demolition),
        reclamation: ratio(e.reclamation),
        // Compared below, with a tolerance for floating-point summation.
        reclaimed_area_mu: actual.reclaimed_area_mu,
    };
    assert_eq!(actual, expected, "{what}");
    assert!(
        (actual.reclaimed_area_mu - e.reclaimed_mu).abs() < 1e-9,
        "{what}: reclaimed area {} mu, expected {}",
        actual.reclaimed_area_mu,
        e.reclaimed_mu
    );
}

fn area(code: &str) -> Target {
    Target::Area(code.to_owned())
}

fn site(code: &str) -> Target {
    Target::Site(code.to_owned())
}

#[tokio::test]
async fn province_over_time() {
    let db = register().await;
    check(
        &db,
        area(PROVINCE),
        D0,
        Expected {
            construction: (0, 2),
            works: (0, 10),
            by_category: [(0, 4), (0, 2), (0, 2), (0, 2)],
            occupancy: (0, 8),
            persons: (0, 18),
            stable_exit: (0, 7),
            employment: (0, 11),
            household_employment: (0, 7),
            by_path: [0, 0, 0, 0],
            demolition: (0, 7),
            reclamation: (0, 7),
            reclaimed_mu: 0.0,
        },
    )
    .await;
    check(
        &db,
        area(PROVINCE),
        Y,
        Expected {
            construction: (0, 2),
            works: (4, 10),
            by_category: [(2, 4), (1, 2), (0, 2), (1, 2)],
            occupancy: (4, 8),
            persons: (9, 18),
            stable_exit: (2, 7),
            employment: (4, 11),
            household_employment: (3, 7),
            by_path: [1, 2, 1, 0],
            demolition: (2, 7),
            reclamation: (0, 7),
            reclaimed_mu: 0.0,
        },
    )
    .await;
    check(
        &db,
        area(PROVINCE),
        P,
        Expected {
            construction: (0, 2),
            works: (5, 10),
            by_category: [(2, 4), (1, 2), (1, 2), (1, 2)],
            occupancy: (5, 8),
            persons: (12, 18),
            stable_exit: (2, 7),
            employment: (4, 11),
            household_employment: (4, 7),
            by_path: [1, 2, 1, 0],
            demolition: (4, 7),
            reclamation: (2, 7),
            reclaimed_mu: 0.85,
        },
    )
    .await;
    check(&db, area(PROVINCE), T, PROVINCE_AT_T).await;
    check(
        &db,
        area(PROVINCE),
        N,
        Expected {
            construction: (1, 2),
            works: (7, 10),
            by_category: [(3, 4), (2, 2), (1, 2), (1, 2)],
            occupancy: (7, 8),
            persons: (16, 18),
            stable_exit: (4, 7),
            employment: (4, 11),
            household_employment: (4, 7),
            by_path: [2, 1, 1, 1],
            demolition: (5, 7),
            reclamation: (3, 7),
            reclaimed_mu: 1.2,
        },
    )
    .await;
    check(
        &db,
        area(PROVINCE),
        E,
        Expected {
            construction: (1, 2),
            works: (8, 10),
            by_category: [(3, 4), (2, 2), (2, 2), (1, 2)],
            occupancy: (7, 8),
            persons: (16, 18),
            stable_exit: (3, 7),
            employment: (5, 11),
            household_employment: (4, 7),
            by_path: [2, 2, 1, 1],
            demolition: (6, 7),
            reclamation: (4, 7),
            reclaimed_mu: 1.65,
        },
    )
    .await;
}

#[tokio::test]
async fn city_and_county_cover_the_whole_fixture() {
    let db = register().await;
    check(&db, area(CITY), T, PROVINCE_AT_T).await;
    check(&db, area(COUNTY), T, PROVINCE_AT_T).await;
}

#[tokio::test]
async fn townships() {
    let db = register().await;
    check(
        &db,
        area(TOWNSHIP_A),
        T,
        Expected {
            construction: (1, 1),
            works: (5, 7),
            by_category: [(2, 2), (2, 2), (0, 1), (1, 2)],
            occupancy: (4, 5),
            persons: (10, 12),
            stable_exit: (2, 4),
            employment: (3, 8),
            household_employment: (3, 5),
            by_path: [1, 2, 0, 1],
            demolition: (1, 1),
            reclamation: (1, 1),
            reclaimed_mu: 0.25,
        },
    )
    .await;
    check(
        &db,
        area(TOWNSHIP_A),
        E,
        Expected {
            construction: (1, 1),
            works: (6, 7),
            by_category: [(2, 2), (2, 2), (1, 1), (1, 2)],
            occupancy: (4, 5),
            persons: (10, 12),
            stable_exit: (1, 4),
            employment: (4, 8),
            household_employment: (3, 5),
            by_path: [2, 2, 0, 1],
            demolition: (1, 1),
            reclamation: (1, 1),
            reclaimed_mu: 0.25,
        },
    )
    .await;
    let township_b_at_t = Expected {
        construction: (0, 1),
        works: (2, 3),
        by_category: [(1, 2), (0, 0), (1, 1), (0, 0)],
        occupancy: (2, 3),
        persons: (4, 6),
        stable_exit: (1, 3),
        employment: (1, 3),
        household_employment: (1, 2),
        by_path: [0, 0, 1, 0],
        demolition: (2, 2),
        reclamation: (0, 2),
        reclaimed_mu: 0.0,
    };
    check(&db, area(TOWNSHIP_B), T, township_b_at_t).await;
    check(
        &db,
        area(TOWNSHIP_B),
        P,
        Expected {
            demolition: (1, 2),
            ..township_b_at_t
        },
    )
    .await;
    check(
        &db,
        area(TOWNSHIP_C),
        T,
        Expected {
            demolition: (2, 4),
            reclamation: (2, 4),
            reclaimed_mu: 0.95,
            ..NO_SITES
        },
    )
    .await;
    check(
        &db,
        area(TOWNSHIP_C),
        E,
        Expected {
            demolition: (3, 4),
            reclamation: (2, 4),
            reclaimed_mu: 0.95,
            ..NO_SITES
        },
    )
    .await;
}

#[tokio::test]
async fn villages_have_homesteads_but_no_sites() {
    let db = register().await;
    check(
        &db,
        area(VILLAGE_VC1),
        T,
        Expected {
            demolition: (2, 3),
            reclamation: (2, 3),
            reclaimed_mu: 0.95,
            ..NO_SITES
        },
    )
    .await;
    // VA1's only homestead is exempt.
    check(&db, area(VILLAGE_VA1), T, NO_SITES).await;
}

#[tokio::test]
async fn sites() {
    let db = register().await;
    check(
        &db,
        site("AZD001"),
        P,
        Expected {
            construction: (0, 1),
            works: (2, 5),
            by_category: [(1, 2), (1, 1), (0, 1), (0, 1)],
            occupancy: (2, 3),
            persons: (7, 9),
            stable_exit: (1, 3),
            employment: (3, 6),
            household_employment: (3, 3),
            by_path: [1, 2, 0, 0],
            demolition: (1, 3),
            reclamation: (0, 3),
            reclaimed_mu: 0.0,
        },
    )
    .await;
    let azd001_at_t = Expected {
        construction: (1, 1),
        works: (3, 5),
        by_category: [(2, 2), (1, 1), (0, 1), (0, 1)],
        occupancy: (3, 3),
        persons: (9, 9),
        stable_exit: (2, 3),
        employment: (3, 6),
        household_employment: (3, 3),
        by_path: [1, 2, 0, 1],
        demolition: (2, 3),
        reclamation: (1, 3),
        reclaimed_mu: 0.35,
    };
    check(&db, site("AZD001"), T, azd001_at_t).await;
    // M6's job ended on T: counted on T, not the day after.
    check(
        &db,
        site("AZD001"),
        N,
        Expected {
            employment: (2, 6),
            household_employment: (2, 3),
            by_path: [1, 1, 0, 1],
            ..azd001_at_t
        },
    )
    .await;
    check(
        &db,
        site("AZD002"),
        D0,
        Expected {
            construction: (0, 0),
            works: (0, 2),
            by_category: [(0, 0), (0, 1), (0, 0), (0, 1)],
            occupancy: (0, 2),
            persons: (0, 3),
            stable_exit: (0, 1),
            employment: (0, 2),
            household_employment: (0, 2),
            by_path: [0, 0, 0, 0],
            demolition: (0, 2),
            reclamation: (0, 2),
            reclaimed_mu: 0.0,
        },
    )
    .await;
    check(
        &db,
        site("AZD002"),
        T,
        Expected {
            construction: (0, 0),
            works: (2, 2),
            by_category: [(0, 0), (1, 1), (0, 0), (1, 1)],
            occupancy: (1, 2),
            persons: (1, 3),
            stable_exit: (0, 1),
            employment: (0, 2),
            household_employment: (0, 2),
            by_path: [0, 0, 0, 0],
            demolition: (1, 2),
            reclamation: (1, 2),
            reclaimed_mu: 0.25,
        },
    )
    .await;
    check(
        &db,
        site("AZD003"),
        T,
        Expected {
            construction: (0, 1),
            works: (2, 3),
            by_category: [(1, 2), (0, 0), (1, 1), (0, 0)],
            occupancy: (2, 3),
            persons: (4, 6),
            stable_exit: (1, 3),
            employment: (1, 3),
            household_employment: (1, 2),
            by_path: [0, 0, 1, 0],
            demolition: (2, 2),
            reclamation: (1, 2),
            reclaimed_mu: 0.6,
        },
    )
    .await;
}

#[tokio::test]
async fn zero_denominators_have_no_rate() {
    let db = register().await;
    let c = compute(&db.db, &area(TOWNSHIP_C), date(T))
        .await
        .expect("compute indicators");
    for r in [
        c.construction_completion,
        c.works_completion,
        c.occupancy,
        c.occupancy_persons,
        c.stable_poverty_exit,
        c.employment,
        c.household_employment,
    ] {
        assert_eq!(r.rate(), None);
    }
    assert!(c.works_by_category.iter().all(|(_, r)| r.rate().is_none()));
    assert_eq!(c.demolition.rate(), Some(0.5));

    let va1 = compute(&db.db, &area(VILLAGE_VA1), date(T))
        .await
        .expect("compute indicators");
    assert_eq!(va1.demolition.rate(), None);
    assert_eq!(va1.reclamation.rate(), None);

    let azd002 = compute(&db.db, &site("AZD002"), date(T))
        .await
        .expect("compute indicators");
    assert_eq!(azd002.construction_completion.rate(), None);
    assert_eq!(azd002.occupancy.rate(), Some(0.5));
    assert_eq!(azd002.employment.rate(), Some(0.0));

    assert_eq!(
        Ratio {
            numerator: 3,
            denominator: 4
        }
        .rate(),
        Some(0.75)
    );
}

#[tokio::test]
async fn scopes_exist_only_with_their_own_kind_of_code() {
    let db = register().await;
    for code in [PROVINCE, COUNTY, TOWNSHIP_C, VILLAGE_VA1] {
        assert!(
            scope_exists(&db.db, &area(code))
                .await
                .expect("look up scope"),
            "area {code}"
        );
    }
    for code in ["AZD001", "AZD002", "AZD003"] {
        assert!(
            scope_exists(&db.db, &site(code))
                .await
                .expect("look up scope"),
            "site {code}"
        );
    }
    for scope in [
        area("999999"),
        area("AZD001"),
        area(""),
        site("AZD999"),
        site(TOWNSHIP_A),
        site(""),
    ] {
        assert!(
            !scope_exists(&db.db, &scope).await.expect("look up scope"),
            "{scope:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_scope_counts_nothing() {
    let db = register().await;
    check(&db, area("999999"), T, NO_SITES).await;
    check(&db, site("AZD999"), T, NO_SITES).await;
}

#[tokio::test]
async fn one_statement_per_indicator_set() {
    let db = register().await;
    for scope in [area(PROVINCE), site("AZD001")] {
        let before = db.statements.get();
        compute(&db.db, &scope, date(T))
            .await
            .expect("compute indicators");
        assert_eq!(db.statements.get() - before, 1, "{scope:?}");
    }
}
