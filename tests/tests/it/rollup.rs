//! The rollups against their definition: on a generated register, `compute` (which reads the
//! rollups) equals `compute_direct` (aggregates over the register) for scopes of every kind and
//! on dates chosen around the register's own event days.

use crate::support::TestDb;
use anju::domain::indicators::{compute, compute_direct, IndicatorValues, Target};
use anju_demo::{write_csv, DemoOptions};
use chrono::{Days, NaiveDate};
use sea_orm::{ConnectionTrait, Statement};
use std::collections::BTreeSet;
use std::path::Path;

/// Adds employments that overlap, touch, repeat the start of, or precede another of the same
/// member, so that merging a person's employments into spells is exercised (the generator's
/// employments of one member never overlap).
fn add_overlapping_employments(dir: &Path) {
    let path = dir.join("employments.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let (path_col, employer, started, ended) = (
        col("path"),
        col("employer"),
        col("started_on"),
        col("ended_on"),
    );
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let mut out: Vec<String> = text.lines().map(str::to_owned).collect();
    for (i, line) in lines.enumerate().filter(|(i, _)| i % 3 == 0) {
        let cells: Vec<&str> = line.split(',').collect();
        let start = date(cells[started]);
        let end = (!cells[ended].is_empty()).then(|| date(cells[ended]));
        let (new_start, new_end, new_path) = match (i / 3) % 5 {
            // Starts inside, never ends.
            0 => (start + Days::new(15), None, cells[path_col]),
            // Starts the day after the other's last day.
            1 => match end {
                Some(end) => (
                    end + Days::new(1),
                    Some(end + Days::new(40)),
                    cells[path_col],
                ),
                None => continue,
            },
            // Same first day, ends long before.
            2 => (start, Some(start + Days::new(5)), cells[path_col]),
            // Another path, just before and overlapping the start.
            3 => (
                start - Days::new(20),
                Some(start + Days::new(10)),
                if cells[path_col] == "local" {
                    "home_flexible"
                } else {
                    "local"
                },
            ),
            // A one-day job two days after the other's end.
            _ => match end {
                Some(end) => (
                    end + Days::new(2),
                    Some(end + Days::new(2)),
                    cells[path_col],
                ),
                None => continue,
            },
        };
        let mut cells: Vec<String> = cells.iter().map(|c| (*c).to_owned()).collect();
        cells[employer] = format!("{}分{i}", cells[employer]);
        cells[started] = new_start.to_string();
        cells[ended] = new_end.map(|d| d.to_string()).unwrap_or_default();
        cells[path_col] = new_path.to_owned();
        out.push(cells.join(","));
    }
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
}

async fn strings(db: &TestDb, sql: &str) -> Vec<String> {
    let backend = db.db.get_database_backend();
    db.db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect()
}

async fn dates(db: &TestDb, sql: &str) -> Vec<NaiveDate> {
    let backend = db.db.get_database_backend();
    db.db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<NaiveDate>(0).unwrap())
        .collect()
}

/// Every `step`-th element, and the last.
fn sample<T: Clone>(all: &[T], step: usize) -> Vec<T> {
    let mut picked: Vec<T> = all.iter().step_by(step.max(1)).cloned().collect();
    picked.extend(all.last().cloned());
    picked
}

fn assert_same(rollup: &IndicatorValues, direct: &IndicatorValues, what: &str) {
    let without_area = |v: &IndicatorValues| IndicatorValues {
        reclaimed_area_mu: 0.0,
        ..v.clone()
    };
    assert_eq!(without_area(rollup), without_area(direct), "{what}");
    assert!(
        (rollup.reclaimed_area_mu - direct.reclaimed_area_mu).abs() < 1e-6,
        "{what}: reclaimed area {} mu, directly {}",
        rollup.reclaimed_area_mu,
        direct.reclaimed_area_mu
    );
}

#[tokio::test]
async fn rollups_equal_the_direct_aggregates() {
    let dir = tempfile::tempdir().unwrap();
    write_csv(
        &DemoOptions {
            households: 3000,
            seed: 7,
            ..DemoOptions::default()
        },
        dir.path(),
    )
    .unwrap();
    add_overlapping_employments(dir.path());
    let db = TestDb::new().await;
    anju::register::import_dir(&db.db, dir.path())
        .await
        .unwrap();

    let mut scopes: Vec<Target> = Vec::new();
    let areas =
        |level: &str| format!("SELECT code FROM areas WHERE level = '{level}' ORDER BY code");
    for level in ["province", "city", "county"] {
        scopes.extend(
            strings(&db, &areas(level))
                .await
                .into_iter()
                .map(Target::Area),
        );
    }
    let townships = strings(&db, &areas("township")).await;
    scopes.extend(sample(&townships, 7).into_iter().map(Target::Area));
    // Villages with homesteads, and one without any.
    let villages = strings(
        &db,
        "SELECT DISTINCT village_code FROM homesteads ORDER BY village_code",
    )
    .await;
    scopes.extend(sample(&villages, 40).into_iter().map(Target::Area));
    scopes.extend(
        strings(
            &db,
            "SELECT code FROM areas WHERE level = 'village' AND code NOT IN \
             (SELECT village_code FROM homesteads) ORDER BY code",
        )
        .await
        .into_iter()
        .take(1)
        .map(Target::Area),
    );
    let sites = strings(&db, "SELECT code FROM sites ORDER BY code").await;
    scopes.extend(sample(&sites, 9).into_iter().map(Target::Site));
    assert!(scopes.len() >= 15, "{} scopes", scopes.len());

    // Event days, and the days either side of some of them.
    let mut days: BTreeSet<NaiveDate> = BTreeSet::new();
    for sql in [
        "SELECT DISTINCT ended_on FROM employments WHERE ended_on IS NOT NULL ORDER BY 1",
        "SELECT DISTINCT started_on FROM employments ORDER BY 1",
        "SELECT DISTINCT moved_in_on FROM households WHERE moved_in_on IS NOT NULL ORDER BY 1",
        "SELECT DISTINCT relapsed_on FROM households WHERE relapsed_on IS NOT NULL ORDER BY 1",
        "SELECT DISTINCT poverty_exit_on FROM households WHERE poverty_exit_on IS NOT NULL ORDER BY 1",
        "SELECT DISTINCT completed_on FROM site_works WHERE completed_on IS NOT NULL ORDER BY 1",
        "SELECT DISTINCT reclaimed_on FROM homesteads WHERE reclaimed_on IS NOT NULL ORDER BY 1",
        "SELECT DISTINCT demolished_on FROM homesteads WHERE demolished_on IS NOT NULL ORDER BY 1",
    ] {
        let all = dates(&db, sql).await;
        assert!(!all.is_empty(), "{sql}");
        for (n, day) in sample(&all, all.len() / 4).into_iter().enumerate() {
            days.insert(day);
            if n % 2 == 0 {
                days.insert(day + Days::new(1));
                days.insert(day - Days::new(1));
            }
        }
    }
    days.insert(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap());
    days.insert(NaiveDate::from_ymd_opt(2030, 12, 31).unwrap());

    let mut compared = 0;
    for scope in &scopes {
        for &day in &days {
            let rollup = compute(&db.db, scope, day).await.unwrap();
            let direct = compute_direct(&db.db, scope, day).await.unwrap();
            assert_same(&rollup, &direct, &format!("{scope:?} on {day}"));
            compared += 1;
        }
    }
    // The register is not trivially empty where it is compared.
    let province = Target::Area(strings(&db, &areas("province")).await[0].clone());
    let late = compute(
        &db.db,
        &province,
        NaiveDate::from_ymd_opt(2021, 6, 30).unwrap(),
    )
    .await
    .unwrap();
    assert!(late.employment.numerator > 0 && late.household_employment.numerator > 0);
    assert!(late.stable_poverty_exit.numerator > 0 && late.reclamation.numerator > 0);
    assert!(late.construction_completion.numerator > 0);
    assert!(compared > 200, "{compared} comparisons");
}

/// A register imported before the rollups existed gets them when the migration adds them.
#[tokio::test]
async fn migrating_a_filled_register_computes_its_rollups() {
    use migration::MigratorTrait;
    let db = TestDb::new().await;
    anju::register::import_dir(&db.db, &crate::support::fixture("indicators"))
        .await
        .expect("import fixture");
    let scope = Target::Area("522732".into());
    let on_t = NaiveDate::from_ymd_opt(2020, 6, 30).expect("date");
    let expected = compute_direct(&db.db, &scope, on_t).await.expect("direct");
    // Back to before the rollups, as a register of an older release would be: the rollups'
    // migration and every later one are undone.
    let all = migration::Migrator::migrations();
    let rollups = all
        .iter()
        .position(|m| m.name().contains("indicator_rollups"))
        .expect("the rollups' migration");
    let undo = u32::try_from(all.len() - rollups).expect("a handful of migrations");
    migration::Migrator::down(&db.db, Some(undo))
        .await
        .expect("roll back to before the rollups");
    assert!(
        db.db
            .execute_unprepared("SELECT COUNT(*) FROM indicator_deltas")
            .await
            .is_err(),
        "the rollups are still there"
    );
    anju::startup::migrate(&db.db).await.expect("migrate");
    assert_eq!(
        compute(&db.db, &scope, on_t).await.expect("rollup"),
        expected
    );
    assert_eq!(
        expected.occupancy.numerator, 6,
        "the hand count of EXPECTED.md"
    );
}
