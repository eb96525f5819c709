//! The CSV register: import rules, update and delete semantics, export round trips.

use crate::support::{fixture, TestDb};
use anju::register::{export_dir, import_dir, ImportError, ImportSummary};
use entity::{area, area_closure, employment, homestead, household, member, site, site_work};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use std::collections::BTreeSet;
use std::path::Path;

const FILES: [&str; 7] = [
    "areas.csv",
    "sites.csv",
    "site_works.csv",
    "households.csv",
    "members.csv",
    "employments.csv",
    "homesteads.csv",
];

/// The small hand-written data set: 1 province, 1 city, 1 county, 2 townships, 3 villages;
/// 2 sites with 5 works; 3 households with 6 members, 4 employments and 4 homesteads.
const SMALL: &str = "import_small";

fn small_summary() -> ImportSummary {
    ImportSummary {
        areas: 8,
        sites: 2,
        site_works: 5,
        households: 3,
        members: 6,
        employments: 4,
        homesteads: 4,
    }
}

/// A writable copy of a fixture data set.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in FILES {
        std::fs::copy(fixture(name).join(file), dir.path().join(file)).unwrap();
    }
    dir
}

/// Replaces `from` (which must occur) with `to` in one file of a data set.
fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Appends lines to one file of a data set.
fn append(dir: &Path, file: &str, lines: &str) {
    let path = dir.join(file);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(lines);
    std::fs::write(&path, text).unwrap();
}

/// The contract's header of each file.
const HEADERS: [&str; 7] = [
    "code,name,level,parent_code,poverty_village,whole_village_relocation",
    "code,name,township_code,placement,setting,planned_households,planned_persons,latitude,longitude,construction_started_on",
    "site_code,code,category,name,completed_on",
    "code,head_name,head_id_number,phone,origin_village_code,site_code,persons,registered_poor,moved_in_on,poverty_exit_on,relapsed_on",
    "household_code,id_number,name,relation,birth_date,gender,labor_capacity",
    "member_id_number,path,employer,location,started_on,ended_on,monthly_income_yuan",
    "household_code,village_code,area_mu,exempt,demolished_on,reclaimed_on,reclaimed_use",
];

/// A data set holding only the given rows per file, under the contract's headers.
fn data_set(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (file, header) in FILES.iter().zip(HEADERS) {
        let body = files
            .iter()
            .find(|(f, _)| f == file)
            .map_or("", |(_, b)| *b);
        std::fs::write(dir.path().join(file), format!("{header}\n{body}")).unwrap();
    }
    dir
}

async fn counts(db: &DatabaseConnection) -> [u64; 8] {
    [
        area::Entity::find().count(db).await.unwrap(),
        area_closure::Entity::find().count(db).await.unwrap(),
        site::Entity::find().count(db).await.unwrap(),
        site_work::Entity::find().count(db).await.unwrap(),
        household::Entity::find().count(db).await.unwrap(),
        member::Entity::find().count(db).await.unwrap(),
        employment::Entity::find().count(db).await.unwrap(),
        homestead::Entity::find().count(db).await.unwrap(),
    ]
}

fn breaches(result: Result<ImportSummary, ImportError>) -> Vec<String> {
    match result {
        Err(ImportError::Invalid(breaches)) => breaches.iter().map(ToString::to_string).collect(),
        other => panic!("expected breaches, got {other:?}"),
    }
}

/// A file's rows as sets of `column=value` cells, independent of column and row order.
fn rows(path: &Path) -> BTreeSet<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| {
            let mut cells: Vec<String> = header
                .iter()
                .zip(line.split(','))
                .map(|(c, v)| format!("{c}={v}"))
                .collect();
            cells.sort();
            cells
        })
        .collect()
}

async fn household(db: &DatabaseConnection, code: &str) -> household::Model {
    household::Entity::find_by_id(code)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn small_fixture_imports_with_expected_counts() {
    let db = TestDb::new().await;
    let summary = import_dir(&db.db, &fixture(SMALL)).await.unwrap();
    assert_eq!(summary, small_summary());
    // Closure pairs: province 8, city 7, county 6, 箕城镇 2, 河峪乡 3, three villages 1 each.
    assert_eq!(counts(&db.db).await, [8, 29, 2, 5, 3, 6, 4, 4]);

    let h = household(&db.db, "1407212002020001").await;
    assert_eq!(h.head_name, "赵桂兰");
    assert_eq!(h.phone, None);
    assert_eq!(
        h.relapsed_on.map(|d| d.to_string()).as_deref(),
        Some("2020-03-01")
    );
    assert_eq!(h.version, 1);
    let site = site::Entity::find_by_id("140721AZ002")
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((site.latitude, site.construction_started_on), (None, None));
    let seqs: Vec<(String, i32, f64)> = homestead::Entity::find()
        .filter(homestead::Column::HouseholdCode.eq("1407212002010001"))
        .order_by_asc(homestead::Column::Seq)
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.village_code, h.seq, h.area_mu))
        .collect();
    assert_eq!(
        seqs,
        [
            ("140721200201".to_owned(), 1, 0.35),
            ("140721200201".to_owned(), 2, 0.2)
        ]
    );
}

#[tokio::test]
async fn export_reproduces_the_data_set_and_round_trips_byte_for_byte() {
    let first = TestDb::new().await;
    import_dir(&first.db, &fixture(SMALL)).await.unwrap();
    let a = tempfile::tempdir().unwrap();
    let out = a.path().join("nested");
    assert_eq!(export_dir(&first.db, &out).await.unwrap(), small_summary());
    for file in FILES {
        assert_eq!(
            rows(&fixture(SMALL).join(file)),
            rows(&out.join(file)),
            "{file}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(out.join("homesteads.csv")).unwrap(),
        "household_code,village_code,area_mu,exempt,demolished_on,reclaimed_on,reclaimed_use\n\
         1407211002010001,140721100201,0.4,true,,,\n\
         1407212002010001,140721200201,0.35,false,2019-03-10,2019-10-20,cropland\n\
         1407212002010001,140721200201,0.2,false,2019-03-10,,\n\
         1407212002020001,140721200202,0.5,false,2019-04-01,2020-05-15,forest\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("sites.csv")).unwrap(),
        "code,name,township_code,placement,setting,planned_households,planned_persons,latitude,longitude,construction_started_on\n\
         140721AZ001,箕城镇幸福苑,140721100,centralized,county_town,2,4,37.0712,112.9758,2017-03-15\n\
         140721AZ002,河峪乡分散安置点,140721200,dispersed,central_village,1,2,,,\n"
    );

    let second = TestDb::new().await;
    assert_eq!(import_dir(&second.db, &out).await.unwrap(), small_summary());
    let b = tempfile::tempdir().unwrap();
    export_dir(&second.db, b.path()).await.unwrap();
    for file in FILES {
        let (x, y) = (
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(b.path().join(file)).unwrap(),
        );
        assert!(x == y, "{file} differs after export → import → export");
    }
}

#[tokio::test]
async fn export_of_an_empty_register_writes_headers_only() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        export_dir(&db.db, dir.path()).await.unwrap(),
        ImportSummary::default()
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("members.csv")).unwrap(),
        "household_code,id_number,name,relation,birth_date,gender,labor_capacity\n"
    );
}

#[tokio::test]
async fn reimport_updates_changed_rows_and_deletes_what_the_data_set_drops() {
    let db = TestDb::new().await;
    import_dir(&db.db, &fixture(SMALL)).await.unwrap();
    let before = household(&db.db, "1407212002010001").await;
    let job_kept = employment::Entity::find()
        .filter(employment::Column::Employer.eq("北京顺达物流有限公司"))
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    let homestead_kept = homestead::Entity::find()
        .filter(homestead::Column::AreaMu.eq(0.35))
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();

    // 王建国's household: new phone; 王志强 leaves (with his job); the second homestead and the
    // local job are gone from the data set.
    let dir = copy_of(SMALL);
    let p = dir.path();
    edit(
        p,
        "households.csv",
        "1407212002010001,王建国,140721196503120118,13835412345,140721200201,140721AZ001,3,",
        "1407212002010001,王建国,140721196503120118,13900000000,140721200201,140721AZ001,2,",
    );
    edit(
        p,
        "members.csv",
        "140721199011020317,1407212002010001,王志强,child,1990-11-02,male,full\n",
        "",
    );
    edit(
        p,
        "employments.csv",
        "140721199011020317,directed_export,苏州华信电子有限公司,out_of_province,2017-06-01,,\n",
        "",
    );
    edit(
        p,
        "employments.csv",
        "140721196503120118,local,榆社县农业专业合作社,in_county,2020-02-15,,2800\n",
        "",
    );
    edit(
        p,
        "homesteads.csv",
        "1407212002010001,140721200201,0.2,false,2019-03-10,,\n",
        "",
    );
    let summary = import_dir(&db.db, p).await.unwrap();
    assert_eq!(summary.members, 5);
    assert_eq!(counts(&db.db).await, [8, 29, 2, 5, 3, 5, 2, 3]);

    let after = household(&db.db, "1407212002010001").await;
    assert_eq!(after.phone.as_deref(), Some("13900000000"));
    assert_eq!(after.persons, 2);
    assert_eq!(after.version, 2);
    assert_eq!(after.created_at, before.created_at);
    assert!(after.updated_at >= before.updated_at);
    assert!(member::Entity::find_by_id("140721199011020317")
        .one(&db.db)
        .await
        .unwrap()
        .is_none());
    // Records matched by natural key keep their ids.
    let job = employment::Entity::find_by_id(job_kept.id)
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (job.employer.as_str(), job.version),
        ("北京顺达物流有限公司", 2)
    );
    let kept = homestead::Entity::find_by_id(homestead_kept.id)
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((kept.seq, kept.version), (1, 2));
}

#[tokio::test]
async fn a_delta_data_set_upserts_and_keeps_what_it_does_not_name() {
    let db = TestDb::new().await;
    import_dir(&db.db, &fixture(SMALL)).await.unwrap();
    // 李秀英 (her household is not in the data set) loses her labour capacity and gains a job;
    // nothing else is named, so nothing is deleted.
    let delta = data_set(&[
        (
            "members.csv",
            "1407212002010001,140721196708210221,李秀英,spouse,1967-08-21,female,none\n",
        ),
        (
            "employments.csv",
            "140721196708210221,home_flexible,居家手工编织,in_county,2019-01-01,,900\n",
        ),
    ]);
    let summary = import_dir(&db.db, delta.path()).await.unwrap();
    assert_eq!((summary.members, summary.employments), (1, 1));
    assert_eq!(counts(&db.db).await, [8, 29, 2, 5, 3, 6, 5, 4]);
    let m = member::Entity::find_by_id("140721196708210221")
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((m.labor_capacity.code(), m.version), ("none", 2));
    assert_eq!(household(&db.db, "1407212002010001").await.version, 1);
}

#[tokio::test]
async fn area_rules_hold_against_the_register() {
    let db = TestDb::new().await;
    import_dir(&db.db, &fixture(SMALL)).await.unwrap();
    let delta = data_set(&[(
        "areas.csv",
        "110000,北京市,province,,false,false\n\
         140721,榆社县,city,140000,false,false\n\
         140721101,云竹镇,township,140721,false,false\n\
         140721101201,云竹村,village,140721101,true,false\n\
         140721101202,东村,village,140721999,false,false\n\
         140721102,石村,village,140721101,false,false\n",
    )]);
    assert_eq!(
        breaches(import_dir(&db.db, delta.path()).await),
        [
            "areas.csv:2: parent_code: only the root has no parent_code, and the root is \"140000\" in the register",
            "areas.csv:3: level: \"140721\" is a county in the register; an area's level cannot change",
            "areas.csv:6: parent_code: no area \"140721999\" in areas.csv or the register",
            "areas.csv:7: code: \"140721102\" has 9 digits, but a village code has 12",
        ]
    );
}

#[tokio::test]
async fn a_member_may_move_when_both_households_stay_consistent() {
    let db = TestDb::new().await;
    import_dir(&db.db, &fixture(SMALL)).await.unwrap();
    // 王志强 moves from 王建国's household (only in the register) to 郝平's.
    let moved = "1407211002010001,140721199011020317,王志强,other,1990-11-02,male,full\n";
    let household = "1407211002010001,郝平,140721197207190511,15903541234,140721100201,140721AZ002,3,false,2019-07-01,,\n";
    let members = format!(
        "1407211002010001,140721197207190511,郝平,head,1972-07-19,male,full\n\
         1407211002010001,14072120010228062X,郝丽,child,2001-02-28,female,full\n{moved}"
    );
    let delta = data_set(&[("households.csv", household), ("members.csv", &members)]);
    assert_eq!(
        breaches(import_dir(&db.db, delta.path()).await),
        [
            "members.csv:4: household_code: household \"1407212002010001\" (in the register) would have 2 member(s), but its persons is 3"
        ]
    );
    assert_eq!(counts(&db.db).await, [8, 29, 2, 5, 3, 6, 4, 4]);

    // With 王建国's household listed as well (two members now), the move goes through.
    let households = format!(
        "{household}1407212002010001,王建国,140721196503120118,13835412345,140721200201,140721AZ001,2,true,2018-10-20,2019-06-30,\n"
    );
    let members = format!(
        "{members}1407212002010001,140721196503120118,王建国,head,1965-03-12,male,full\n\
         1407212002010001,140721196708210221,李秀英,spouse,1967-08-21,female,partial\n"
    );
    let delta = data_set(&[("households.csv", &households), ("members.csv", &members)]);
    import_dir(&db.db, delta.path()).await.unwrap();
    let m = member::Entity::find_by_id("140721199011020317")
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.household_code.as_str(), m.version),
        ("1407211002010001", 2)
    );
    // The data set names these households and members without homesteads or employments, so
    // theirs are deleted: only 赵桂兰's homestead is left.
    assert_eq!(counts(&db.db).await, [8, 29, 2, 5, 3, 6, 0, 1]);
}

#[tokio::test]
async fn employment_of_a_member_the_data_set_removes_is_reported() {
    let db = TestDb::new().await;
    import_dir(&db.db, &fixture(SMALL)).await.unwrap();
    let dir = copy_of(SMALL);
    edit(
        dir.path(),
        "members.csv",
        "140721199011020317,1407212002010001,王志强,child,1990-11-02,male,full\n",
        "",
    );
    edit(
        dir.path(),
        "households.csv",
        "140721AZ001,3,",
        "140721AZ001,2,",
    );
    assert_eq!(
        breaches(import_dir(&db.db, dir.path()).await),
        [
            "employments.csv:4: member_id_number: member \"140721199011020317\" is removed by this data set: household \"1407212002010001\" is in households.csv without it"
        ]
    );
}

#[tokio::test]
async fn a_bad_data_set_reports_every_breach_and_changes_nothing() {
    let db = TestDb::new().await;
    import_dir(&db.db, &fixture(SMALL)).await.unwrap();
    let before = counts(&db.db).await;

    let dir = copy_of(SMALL);
    let p = dir.path();
    append(
        p,
        "areas.csv",
        "河峪乡,140721200,township,140721,false,false\n\
         新村,14072120020,village,140721200,false,false\n\
         北京市,110000,province,,false,false\n\
         错镇,140721300,township,140721100201,false,false\n",
    );
    edit(p, "sites.csv", ",37.0712,", ",97,");
    edit(
        p,
        "sites.csv",
        "分散安置点,140721200,",
        "分散安置点,140721200201,",
    );
    edit(
        p,
        "site_works.csv",
        ",main,住宅楼主体工程",
        ",mian,住宅楼主体工程",
    );
    edit(p, "households.csv", "2018-10-20", "2018-02-30");
    edit(
        p,
        "households.csv",
        "2019-06-30,2020-03-01",
        "2019-06-30,2019-01-01",
    );
    edit(
        p,
        "households.csv",
        "140721AZ002,2,false,2019-07-01,,",
        "140721AZ002,3,false,2019-07-01,2020-01-01,",
    );
    edit(
        p,
        "members.csv",
        "140721199011020317,",
        "140721199011020318,",
    );
    edit(p, "members.csv", "李秀英,spouse", "李秀英,head");
    edit(
        p,
        "members.csv",
        "郝丽,child,2001-02-28",
        "郝丽,child,2001-03-01",
    );
    append(
        p,
        "members.csv",
        "140721198505050714,1407219999990001,田勇,head,1985-05-05,male,full\n",
    );
    edit(
        p,
        "employments.csv",
        "2019-08-01,,600",
        "2019-08-01,2019-07-01,600",
    );
    append(
        p,
        "employments.csv",
        "140721196503120118,directed_export,北京顺达物流有限公司,out_of_province,2018-03-01,,\n",
    );
    edit(
        p,
        "homesteads.csv",
        "0.2,false,2019-03-10,,",
        "0.2,false,2019-03-10,2019-01-01,grassland",
    );
    edit(p, "homesteads.csv", "0.5,false", "0,false");
    edit(p, "homesteads.csv", "0.4,true,,,", "0.4,true,2019-05-01,,");
    append(
        p,
        "homesteads.csv",
        "1407212002020001,140721200202,0.3,false,,2020-01-01,cropland\n\
         1407211002010001,140721100299,0.3,false,,,forest\n",
    );

    assert_eq!(
        breaches(import_dir(&db.db, p).await),
        [
            "areas.csv:10: code: duplicate code \"140721200\" (first on line 6)",
            "areas.csv:11: code: \"14072120020\" is not an administrative division code (6, 9 or 12 digits)",
            "areas.csv:12: parent_code: only the root has no parent_code, and the root is \"140000\" on line 2",
            "areas.csv:13: parent_code: \"140721100201\" is a village, which cannot contain a township",
            "sites.csv:2: latitude: \"97\" is not a latitude (decimal degrees from -90 to 90)",
            "sites.csv:3: township_code: area \"140721200201\" is a village, not a township",
            "site_works.csv:2: category: \"mian\" is not one of: main, infrastructure, public_facility, ancillary",
            "households.csv:2: moved_in_on: \"2018-02-30\" is not a date (expected YYYY-MM-DD)",
            "households.csv:3: relapsed_on: 2019-01-01 is not after poverty_exit_on 2019-06-30",
            "households.csv:4: persons: persons is 3, but members.csv has 2 row(s) for this household",
            "households.csv:4: poverty_exit_on: must be empty when registered_poor is false",
            "members.csv:3: relation: household \"1407212002010001\" already has a head on line 2",
            "members.csv:4: id_number: \"140721199011020318\" fails the GB 11643 checksum: the last character should be 7",
            "members.csv:7: birth_date: 2001-03-01 differs from the birth date in the ID number (2001-02-28)",
            "members.csv:8: household_code: no household \"1407219999990001\" in households.csv or the register",
            "employments.csv:4: member_id_number: member \"140721199011020317\" is removed by this data set: household \"1407212002010001\" is in households.csv without it",
            "employments.csv:5: ended_on: 2019-07-01 is before started_on 2019-08-01",
            "employments.csv:6: member_id_number: duplicate employment: same member, path, employer and started_on as line 2",
            "homesteads.csv:3: reclaimed_on: 2019-01-01 is before demolished_on 2019-03-10",
            "homesteads.csv:4: area_mu: \"0\" is not a decimal > 0",
            "homesteads.csv:5: demolished_on: an exempt homestead is kept: it has no demolition date",
            "homesteads.csv:6: reclaimed_on: a reclaimed homestead needs a demolished_on",
            "homesteads.csv:7: village_code: no area \"140721100299\" in areas.csv or the register",
            "homesteads.csv:7: reclaimed_use: must be empty unless reclaimed_on is set",
        ]
    );
    assert_eq!(counts(&db.db).await, before);
    assert_eq!(household(&db.db, "1407212002020001").await.version, 1);
}

#[tokio::test]
async fn headers_must_name_exactly_the_contract_columns() {
    let db = TestDb::new().await;
    let dir = copy_of(SMALL);
    let p = dir.path();
    edit(p, "sites.csv", ",latitude,", ",lattitude,");
    edit(p, "households.csv", ",relapsed_on\n", ",relapsed_on,note\n");
    edit(
        p,
        "members.csv",
        "id_number,household_code,name,",
        "id_number,household_code,name,name,",
    );
    edit(p, "employments.csv", ",monthly_income_yuan\n", "\n");
    assert_eq!(
        breaches(import_dir(&db.db, p).await),
        [
            "sites.csv:1: latitude: missing column",
            "sites.csv:1: lattitude: unknown column",
            "households.csv:1: note: unknown column",
            "members.csv:1: name: duplicate column",
            "employments.csv:1: monthly_income_yuan: missing column",
        ]
    );
    assert_eq!(counts(&db.db).await, [0; 8]);

    std::fs::remove_file(p.join("homesteads.csv")).unwrap();
    match import_dir(&db.db, p).await {
        Err(ImportError::Io { path, .. }) => assert!(path.ends_with("homesteads.csv"), "{path}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[tokio::test]
async fn rows_that_do_not_fit_the_header_are_reported() {
    let db = TestDb::new().await;
    let dir = copy_of(SMALL);
    edit(dir.path(), "site_works.csv", "幼儿园,\n", "幼儿园\n");
    assert_eq!(
        breaches(import_dir(&db.db, dir.path()).await),
        ["site_works.csv:4: row: the row has 4 cells but the header has 5"]
    );
}

#[tokio::test]
async fn id_numbers_are_checked_against_gb_11643() {
    let db = TestDb::new().await;
    let dir = copy_of(SMALL);
    edit(
        dir.path(),
        "households.csv",
        "郝平,140721197207190511,",
        "郝平,140721197207190512,",
    );
    assert_eq!(
        breaches(import_dir(&db.db, dir.path()).await),
        [
            "households.csv:4: head_id_number: \"140721197207190512\" fails the GB 11643 checksum: the last character should be 1",
            "households.csv:4: head_id_number: \"140721197207190512\" is not the ID number of the household's head (\"140721197207190511\", members.csv line 6)",
        ]
    );
    let dir = copy_of(SMALL);
    edit(
        dir.path(),
        "members.csv",
        "14072120010228062X,",
        "1407212001022806,",
    );
    edit(
        dir.path(),
        "members.csv",
        "140721196708210221,",
        "140721196702300221,",
    );
    assert_eq!(
        breaches(import_dir(&db.db, dir.path()).await),
        [
            "members.csv:3: id_number: \"140721196702300221\" is not an ID number: its birth date 19670230 is not a date",
            "members.csv:7: id_number: \"1407212001022806\" is not an ID number: it must have 18 characters",
        ]
    );
    assert_eq!(counts(&db.db).await, [0; 8]);
}

#[tokio::test]
async fn quoted_cells_and_crlf_lines_are_read_and_lines_counted_physically() {
    let db = TestDb::new().await;
    let dir = copy_of(SMALL);
    let p = dir.path();
    let members = std::fs::read_to_string(p.join("members.csv")).unwrap();
    std::fs::write(
        p.join("members.csv"),
        members
            .replace('\n', "\r\n")
            .replace(",王建国,", ",\"王建国\","),
    )
    .unwrap();
    // A quoted employer spanning two physical lines moves the rows below it down by one line
    // (and a line break has no place in a name).
    edit(
        p,
        "employments.csv",
        ",北京顺达物流有限公司,",
        ",\"北京顺达物流\n有限公司\",",
    );
    edit(
        p,
        "employments.csv",
        "2019-08-01,,600",
        "2019-08-01,2019-07-01,600",
    );
    assert_eq!(
        breaches(import_dir(&db.db, p).await),
        [
            "employments.csv:2: employer: \"北京顺达物流\\n有限公司\" holds the control character U+000A: a name is plain text",
            "employments.csv:6: ended_on: 2019-07-01 is before started_on 2019-08-01"
        ]
    );
    edit(
        p,
        "employments.csv",
        "2019-08-01,2019-07-01,600",
        "2019-08-01,,600",
    );
    edit(
        p,
        "employments.csv",
        ",\"北京顺达物流\n有限公司\",",
        ",\"北京顺达物流有限公司\",",
    );
    assert_eq!(import_dir(&db.db, p).await.unwrap(), small_summary());
    let head = member::Entity::find_by_id("140721196503120118")
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.name, "王建国");
}

#[tokio::test]
async fn names_birth_dates_and_homestead_areas_must_be_believable() {
    let db = TestDb::new().await;
    let dir = copy_of(SMALL);
    let p = dir.path();
    // Control characters in every kind of name: an ESC sequence that clears a terminal, a tab,
    // DEL, C1 controls (NEL, CSI) and an OSC hyperlink.
    edit(p, "areas.csv", "箕城镇,", "箕城\u{1b}[2J镇,");
    edit(p, "sites.csv", "箕城镇幸福苑", "箕城镇\t幸福苑");
    edit(p, "site_works.csv", "幼儿园", "幼儿\u{7f}园");
    edit(p, "households.csv", "郝平", "郝\u{85}平");
    edit(p, "members.csv", "李秀英", "李秀\u{9b}31m英");
    edit(
        p,
        "employments.csv",
        "石源村保洁员",
        "石源村\u{1b}]8;;http://x\u{7}保洁员",
    );
    // Plain names pass, spaces and middle dots included.
    edit(p, "households.csv", "赵桂兰", "阿依古丽·买买提 赵");
    // A birth date after today (the ID number says 1990).
    edit(p, "members.csv", "1990-11-02", "2099-11-02");
    // Homestead areas no homestead has.
    edit(p, "homesteads.csv", "0.5,false", "1e308,false");
    edit(p, "homesteads.csv", "0.35,false", "1000.5,false");
    let before = counts(&db.db).await;

    let today = anju::domain::rules::today();
    assert_eq!(
        breaches(import_dir(&db.db, p).await),
        [
            "areas.csv:5: name: \"箕城\\u{1b}[2J镇\" holds the control character U+001B: a name is plain text".to_owned(),
            "sites.csv:2: name: \"箕城镇\\t幸福苑\" holds the control character U+0009: a name is plain text".to_owned(),
            "site_works.csv:4: name: \"幼儿\\u{7f}园\" holds the control character U+007F: a name is plain text".to_owned(),
            "households.csv:4: head_name: \"郝\\u{85}平\" holds the control character U+0085: a name is plain text".to_owned(),
            "members.csv:3: name: \"李秀\\u{9b}31m英\" holds the control character U+009B: a name is plain text".to_owned(),
            format!("members.csv:4: birth_date: 2099-11-02 is in the future (today is {today})"),
            "members.csv:4: birth_date: 2099-11-02 differs from the birth date in the ID number (1990-11-02)".to_owned(),
            "employments.csv:5: employer: \"石源村\\u{1b}]8;;http://x\\u{7}保洁员\" holds the control character U+001B: a name is plain text".to_owned(),
            "homesteads.csv:2: area_mu: \"1000.5\" mu is more than any homestead has: at most 1000 mu".to_owned(),
            "homesteads.csv:4: area_mu: \"1e308\" mu is more than any homestead has: at most 1000 mu".to_owned(),
        ]
    );
    assert_eq!(counts(&db.db).await, before);
}

#[tokio::test]
async fn a_nul_character_in_any_cell_is_reported_where_it_is() {
    let db = TestDb::new().await;
    let dir = copy_of(SMALL);
    let p = dir.path();
    edit(p, "households.csv", "13835412345", "1383541\u{0}2345");
    edit(
        p,
        "site_works.csv",
        "140721AZ001-02,",
        "140721AZ001-0\u{0}2,",
    );
    let before = counts(&db.db).await;
    let reason = "holds a NUL character (U+0000), which the register cannot store";
    assert_eq!(
        breaches(import_dir(&db.db, p).await),
        [
            format!("site_works.csv:3: code: {reason}"),
            format!("households.csv:2: phone: {reason}"),
        ]
    );
    assert_eq!(counts(&db.db).await, before);
}

#[tokio::test]
async fn export_keeps_cells_a_spreadsheet_would_evaluate_exactly_as_stored() {
    // Export is interchange for programs, not a file for people: it is lossless, formula-like
    // cells included (files for people go through `register::spreadsheet::defang`).
    let db = TestDb::new().await;
    let dir = copy_of(SMALL);
    let p = dir.path();
    edit(
        p,
        "employments.csv",
        "石源村保洁员",
        "\"=HYPERLINK(\"\"http://x\"\",\"\"点击\"\")\"",
    );
    edit(p, "site_works.csv", "幼儿园", "@SUM(1+1)");
    edit(p, "households.csv", "郝平", "-郝平");
    import_dir(&db.db, p).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    export_dir(&db.db, out.path()).await.unwrap();
    let read = |file: &str| std::fs::read_to_string(out.path().join(file)).unwrap();
    assert!(read("employments.csv").contains(",\"=HYPERLINK(\"\"http://x\"\",\"\"点击\"\")\","));
    assert!(read("site_works.csv").contains(",@SUM(1+1),"));
    assert!(read("households.csv").contains(",-郝平,"));
    let row = anju::register::spreadsheet::defang_row(["-郝平", "@SUM(1+1)", "郝平"]);
    assert_eq!(row, ["'-郝平", "'@SUM(1+1)", "郝平"]);
}
