//! Drill-down (CONTRACT §7): for every indicator and part, on every kind of scope and on dates
//! around the register's events, `totalCount` equals the figure and the listed records equal an
//! independent computation: plain Rust over the register's rows read back, written from the
//! contract's wording (not from the code under test). On the hand-counted `indicators` fixture
//! (tests/fixtures/indicators/EXPECTED.md) and on a generated county. Then scope and masking.

use crate::support::{error_code, TestApp, TestDb};
use anju::auth::Role;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDate;
use entity::enums::{LaborCapacity, WorkCategory};
use entity::{area, employment, homestead, household, member, site, site_work};
use sea_orm::EntityTrait;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

pub(crate) const INDICATORS: [&str; 9] = [
    "CONSTRUCTION_COMPLETION",
    "WORKS_COMPLETION",
    "OCCUPANCY",
    "OCCUPANCY_PERSONS",
    "STABLE_POVERTY_EXIT",
    "EMPLOYMENT",
    "HOUSEHOLD_EMPLOYMENT",
    "DEMOLITION",
    "RECLAMATION",
];
const PARTS: [&str; 3] = ["NUMERATOR", "DENOMINATOR", "GAP"];

/// The register's rows, read back.
pub(crate) struct Register {
    parents: HashMap<String, Option<String>>,
    sites: Vec<site::Model>,
    works: Vec<site_work::Model>,
    pub(crate) households: Vec<household::Model>,
    pub(crate) members: Vec<member::Model>,
    pub(crate) employments: Vec<employment::Model>,
    homesteads: Vec<homestead::Model>,
}

/// A scope as the API takes it.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    Area(String),
    Site(String),
}

impl Scope {
    pub(crate) fn json(&self) -> Value {
        match self {
            Scope::Area(c) => json!({ "areaCode": c }),
            Scope::Site(c) => json!({ "siteCode": c }),
        }
    }
}

impl Register {
    pub(crate) async fn read(db: &TestDb) -> Register {
        let db = &db.db;
        Register {
            parents: area::Entity::find()
                .all(db)
                .await
                .unwrap()
                .into_iter()
                .map(|a| (a.code, a.parent_code))
                .collect(),
            sites: site::Entity::find().all(db).await.unwrap(),
            works: site_work::Entity::find().all(db).await.unwrap(),
            households: household::Entity::find().all(db).await.unwrap(),
            members: member::Entity::find().all(db).await.unwrap(),
            employments: employment::Entity::find().all(db).await.unwrap(),
            homesteads: homestead::Entity::find().all(db).await.unwrap(),
        }
    }

    /// Whether `area` is `ancestor` or lies below it.
    fn below(&self, area: &str, ancestor: &str) -> bool {
        let mut at = Some(area.to_owned());
        while let Some(code) = at {
            if code == ancestor {
                return true;
            }
            at = self.parents.get(&code).cloned().flatten();
        }
        false
    }

    fn site_in(&self, site_code: &str, scope: &Scope) -> bool {
        match scope {
            Scope::Site(s) => s == site_code,
            Scope::Area(a) => self
                .sites
                .iter()
                .any(|s| s.code == site_code && self.below(&s.township_code, a)),
        }
    }

    pub(crate) fn households_in(&self, scope: &Scope) -> Vec<&household::Model> {
        self.households
            .iter()
            .filter(|h| self.site_in(&h.site_code, scope))
            .collect()
    }

    pub(crate) fn laborers_of(&self, household: &str) -> Vec<&member::Model> {
        self.members
            .iter()
            .filter(|m| {
                m.household_code == household
                    && matches!(
                        m.labor_capacity,
                        LaborCapacity::Full | LaborCapacity::Partial
                    )
            })
            .collect()
    }

    pub(crate) fn jobs_of(&self, member: &str) -> Vec<&employment::Model> {
        self.employments
            .iter()
            .filter(|e| e.member_id_number == member)
            .collect()
    }

    pub(crate) fn employed(&self, member: &str, on: NaiveDate) -> bool {
        self.jobs_of(member)
            .iter()
            .any(|e| e.started_on <= on && e.ended_on.is_none_or(|end| end >= on))
    }

    /// The keys (and, for OCCUPANCY_PERSONS, the persons) of the records `indicator` counts in
    /// its denominator, each with whether it is in the numerator.
    fn counted(&self, indicator: &str, scope: &Scope, on: NaiveDate) -> Vec<(String, i64, bool)> {
        let done = |d: Option<NaiveDate>| d.is_some_and(|d| d <= on);
        match indicator {
            "CONSTRUCTION_COMPLETION" => self
                .sites
                .iter()
                .filter(|s| self.site_in(&s.code, scope))
                .filter_map(|s| {
                    let main: Vec<_> = self
                        .works
                        .iter()
                        .filter(|w| w.site_code == s.code && w.category == WorkCategory::Main)
                        .collect();
                    (!main.is_empty())
                        .then(|| (s.code.clone(), 1, main.iter().all(|w| done(w.completed_on))))
                })
                .collect(),
            "WORKS_COMPLETION" => self
                .works
                .iter()
                .filter(|w| self.site_in(&w.site_code, scope))
                .map(|w| (w.code.clone(), 1, done(w.completed_on)))
                .collect(),
            "OCCUPANCY" | "OCCUPANCY_PERSONS" => self
                .households_in(scope)
                .into_iter()
                .map(|h| (h.code.clone(), i64::from(h.persons), done(h.moved_in_on)))
                .collect(),
            "STABLE_POVERTY_EXIT" => self
                .households_in(scope)
                .into_iter()
                .filter(|h| h.registered_poor)
                .map(|h| {
                    let stable = done(h.poverty_exit_on) && !done(h.relapsed_on);
                    (h.code.clone(), 1, stable)
                })
                .collect(),
            "EMPLOYMENT" => self
                .households_in(scope)
                .into_iter()
                .flat_map(|h| self.laborers_of(&h.code))
                .map(|m| (m.id_number.clone(), 1, self.employed(&m.id_number, on)))
                .collect(),
            "HOUSEHOLD_EMPLOYMENT" => self
                .households_in(scope)
                .into_iter()
                .filter_map(|h| {
                    let laborers = self.laborers_of(&h.code);
                    (!laborers.is_empty()).then(|| {
                        let any = laborers.iter().any(|m| self.employed(&m.id_number, on));
                        (h.code.clone(), 1, any)
                    })
                })
                .collect(),
            "DEMOLITION" | "RECLAMATION" => self
                .homesteads
                .iter()
                .filter(|hs| !hs.exempt)
                .filter(|hs| match scope {
                    Scope::Area(a) => self.below(&hs.village_code, a),
                    Scope::Site(s) => self
                        .households
                        .iter()
                        .any(|h| h.code == hs.household_code && &h.site_code == s),
                })
                .map(|hs| {
                    let counted = if indicator == "DEMOLITION" {
                        done(hs.demolished_on)
                    } else {
                        done(hs.reclaimed_on)
                    };
                    (hs.id.to_string(), 1, counted)
                })
                .collect(),
            other => panic!("no such indicator {other}"),
        }
    }

    /// The keys `part` of `indicator` lists, and what they add up to.
    fn expected(
        &self,
        indicator: &str,
        part: &str,
        scope: &Scope,
        on: NaiveDate,
    ) -> (BTreeSet<String>, i64) {
        let rows: Vec<(String, i64, bool)> = self
            .counted(indicator, scope, on)
            .into_iter()
            .filter(|(_, _, counted)| match part {
                "NUMERATOR" => *counted,
                "DENOMINATOR" => true,
                _ => !*counted,
            })
            .collect();
        let sum = rows.iter().map(|(_, n, _)| n).sum();
        (rows.into_iter().map(|(k, _, _)| k).collect(), sum)
    }
}

const DRILL: &str =
    "query($s: ScopeInput!, $d: Date, $i: Indicator!, $p: RatioPart!, $a: String) { \
  drillDown(scope: $s, asOf: $d, indicator: $i, part: $p, first: 100, after: $a) { \
    totalCount pageInfo { hasNextPage endCursor } \
    nodes { __typename id ... on ResettlementSite { code } ... on SiteWork { code } \
      ... on Household { code persons headName } ... on Member { idNumber householdCode } \
      ... on Homestead { householdCode } } } }";

/// The key a drill-down node is compared by (a homestead's number is inside its global id).
fn key(node: &Value) -> String {
    match node["__typename"].as_str().unwrap() {
        "ResettlementSite" | "SiteWork" | "Household" => node["code"].as_str().unwrap().into(),
        "Member" => node["idNumber"].as_str().unwrap().into(),
        "Homestead" => {
            let id = node["id"].as_str().unwrap();
            let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id).unwrap()).unwrap();
            text.strip_prefix("Homestead:").unwrap().into()
        }
        other => panic!("unexpected node {other}"),
    }
}

/// Every page of a drill-down with `token`: `totalCount`, and the nodes.
pub(crate) async fn drill_all(
    app: &TestApp,
    token: &str,
    scope: &Scope,
    on: &str,
    indicator: &str,
    part: &str,
) -> (i64, Vec<Value>) {
    let mut nodes = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = app
            .query_as(
                Some(token),
                DRILL,
                json!({ "s": scope.json(), "d": on, "i": indicator, "p": part, "a": after }),
            )
            .await;
        assert!(
            body.get("errors").is_none(),
            "{indicator} {part} {scope:?} {on}: {body:#}"
        );
        let conn = &body["data"]["drillDown"];
        nodes.extend(conn["nodes"].as_array().unwrap().iter().cloned());
        if conn["pageInfo"]["hasNextPage"] != true {
            return (conn["totalCount"].as_i64().unwrap(), nodes);
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
}

const FIGURES: &str = "query($s: ScopeInput!, $d: Date) { indicators(scope: $s, asOf: $d) { \
  constructionCompletion { numerator denominator } worksCompletion { numerator denominator } \
  occupancy { numerator denominator } occupancyPersons { numerator denominator } \
  stablePovertyExit { numerator denominator } employment { numerator denominator } \
  householdEmployment { numerator denominator } demolition { numerator denominator } \
  reclamation { numerator denominator } zeroEmploymentHouseholds } }";

fn field(indicator: &str) -> String {
    let lower = indicator.to_lowercase();
    let mut out = String::new();
    let mut up = false;
    for c in lower.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks every indicator and part of `scope` on `on` against the figures and against
/// `register`.
async fn check_scope(app: &TestApp, token: &str, register: &Register, scope: &Scope, on: &str) {
    let date = NaiveDate::parse_from_str(on, "%Y-%m-%d").unwrap();
    let figures = app
        .data(FIGURES, json!({ "s": scope.json(), "d": on }))
        .await["indicators"]
        .clone();
    let hh = &figures["householdEmployment"];
    assert_eq!(
        figures["zeroEmploymentHouseholds"].as_i64().unwrap(),
        hh["denominator"].as_i64().unwrap() - hh["numerator"].as_i64().unwrap()
    );
    for indicator in INDICATORS {
        let ratio = &figures[field(indicator)];
        let (n, d) = (
            ratio["numerator"].as_i64().unwrap(),
            ratio["denominator"].as_i64().unwrap(),
        );
        for part in PARTS {
            let figure = match part {
                "NUMERATOR" => n,
                "DENOMINATOR" => d,
                _ => d - n,
            };
            let (total, nodes) = drill_all(app, token, scope, on, indicator, part).await;
            let keys: Vec<String> = nodes.iter().map(key).collect();
            let listed: BTreeSet<String> = keys.iter().cloned().collect();
            assert_eq!(listed.len(), keys.len(), "a record listed twice");
            assert_eq!(
                total,
                nodes.len() as i64,
                "{indicator} {part} {scope:?} {on}"
            );
            let (expected, sum) = register.expected(indicator, part, scope, date);
            assert_eq!(listed, expected, "{indicator} {part} {scope:?} {on}");
            if indicator == "OCCUPANCY_PERSONS" {
                let persons: i64 = nodes.iter().map(|n| n["persons"].as_i64().unwrap()).sum();
                assert_eq!(persons, figure, "{indicator} {part} {scope:?} {on}");
                assert_eq!(persons, sum);
            } else {
                assert_eq!(total, figure, "{indicator} {part} {scope:?} {on}");
            }
        }
    }
}

pub(crate) const COUNTY: &str = "522732";
pub(crate) const A: &str = "522732100";
pub(crate) const B: &str = "522732101";
pub(crate) const C: &str = "522732102";

#[tokio::test]
async fn every_part_of_every_figure_lists_what_it_counts_on_the_fixture() {
    let app = TestApp::with_fixture("indicators").await;
    let token = app.admin_token().await;
    let register = Register::read(&app.db).await;
    let scopes = [
        Scope::Area("520000".into()),
        Scope::Area(COUNTY.into()),
        Scope::Area(A.into()),
        Scope::Area(B.into()),
        Scope::Area(C.into()),
        Scope::Area("522732101201".into()),
        Scope::Site("AZD001".into()),
        Scope::Site("AZD002".into()),
        Scope::Site("AZD003".into()),
    ];
    for on in [
        "2018-12-31",
        "2019-12-31",
        "2020-06-30",
        "2020-07-01",
        "2020-12-31",
    ] {
        for scope in &scopes {
            check_scope(&app, &token, &register, scope, on).await;
        }
    }
}

/// The hand counts of EXPECTED.md, by household.
#[tokio::test]
async fn hand_counted_gaps_name_the_households_behind_them() {
    let app = TestApp::with_fixture("indicators").await;
    let token = app.admin_token().await;
    let county = Scope::Area(COUNTY.into());
    let households = |nodes: Vec<Value>, field: &str| -> Vec<String> {
        let mut v: Vec<String> = nodes
            .iter()
            .map(|n| n[field].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    // Occupancy on T: H05 never moved in, H07 moves in on N.
    let (n, nodes) = drill_all(&app, &token, &county, "2020-06-30", "OCCUPANCY", "GAP").await;
    assert_eq!(
        (n, households(nodes, "code")),
        (2, vec!["H05".into(), "H07".into()])
    );
    // Employment on T: M1 (H01), M4 (H02), M6 (H03, last day T), M13 (H06).
    let (n, nodes) = drill_all(
        &app,
        &token,
        &county,
        "2020-06-30",
        "EMPLOYMENT",
        "NUMERATOR",
    )
    .await;
    assert_eq!(n, 4);
    assert_eq!(
        households(nodes, "householdCode"),
        ["H01", "H02", "H03", "H06"]
    );
    // Construction on T: AZD003's W9 never completes.
    let (n, nodes) = drill_all(
        &app,
        &token,
        &county,
        "2020-06-30",
        "CONSTRUCTION_COMPLETION",
        "GAP",
    )
    .await;
    assert_eq!((n, households(nodes, "code")), (1, vec!["AZD003".into()]));
    // Demolition in the county on T: HS3 (H02, 20 July) and HS6 (H05) still stand.
    let (n, nodes) = drill_all(&app, &token, &county, "2020-06-30", "DEMOLITION", "GAP").await;
    assert_eq!(
        (n, households(nodes, "householdCode")),
        (2, vec!["H02".into(), "H05".into()])
    );
    // Persons on T: 14 of 18 moved in; H05 (2) and H07 (2) make the gap of 4.
    let (n, nodes) = drill_all(
        &app,
        &token,
        &county,
        "2020-06-30",
        "OCCUPANCY_PERSONS",
        "GAP",
    )
    .await;
    let persons: i64 = nodes.iter().map(|n| n["persons"].as_i64().unwrap()).sum();
    assert_eq!((n, persons), (2, 4));
}

#[tokio::test]
async fn every_part_of_every_figure_lists_what_it_counts_on_a_generated_county() {
    let db = TestDb::with_demo(anju_demo::DemoOptions {
        households: 300,
        seed: 19,
        ..anju_demo::DemoOptions::default()
    })
    .await;
    let app = TestApp::spawn_on(db).await;
    let token = app.admin_token().await;
    let register = Register::read(&app.db).await;
    // The root, a county, a township with sites, and a site; dates around the events.
    let root = register
        .parents
        .iter()
        .find(|(_, p)| p.is_none())
        .map(|(c, _)| c.clone())
        .unwrap();
    let site = register.sites[register.sites.len() / 2].clone();
    let township = site.township_code.clone();
    let county = register.parents[&township].clone().unwrap();
    let scopes = [
        Scope::Area(root),
        Scope::Area(county),
        Scope::Area(township),
        Scope::Site(site.code),
    ];
    let mut days: Vec<NaiveDate> = register
        .households
        .iter()
        .filter_map(|h| h.moved_in_on)
        .collect();
    days.sort();
    let middle = days[days.len() / 2].to_string();
    for on in [middle.as_str(), "2021-06-30"] {
        for scope in &scopes {
            check_scope(&app, &token, &register, scope, on).await;
        }
    }
}

#[tokio::test]
async fn an_officer_drills_down_only_inside_its_township_and_a_viewer_sees_masked_records() {
    let app = TestApp::with_fixture("indicators").await;
    let officer = app.token(Role::Officer, A, None).await;
    // Outside the officer's township, as for an unknown code.
    for scope in [
        Scope::Area(COUNTY.into()),
        Scope::Area(B.into()),
        Scope::Site("AZD003".into()),
        Scope::Area("999999".into()),
    ] {
        let body = app
            .query_as(
                Some(&officer),
                DRILL,
                json!({ "s": scope.json(), "d": "2020-06-30", "i": "OCCUPANCY", "p": "DENOMINATOR" }),
            )
            .await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{scope:?}: {body}");
    }
    // Inside it: township A's sites' households only, whatever the indicator.
    let (_, nodes) = drill_all(
        &app,
        &officer,
        &Scope::Area(A.into()),
        "2020-06-30",
        "HOUSEHOLD_EMPLOYMENT",
        "DENOMINATOR",
    )
    .await;
    let codes: Vec<&str> = nodes.iter().map(|n| n["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["H01", "H02", "H03", "H04", "H05"]);
    // A site manager: its site, not the other site of the same township.
    let manager = app.token(Role::SiteManager, A, Some("AZD002")).await;
    let body = app
        .query_as(
            Some(&manager),
            DRILL,
            json!({ "s": { "siteCode": "AZD001" }, "d": "2020-06-30", "i": "OCCUPANCY", "p": "GAP" }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let (n, nodes) = drill_all(
        &app,
        &manager,
        &Scope::Site("AZD002".into()),
        "2020-06-30",
        "OCCUPANCY",
        "GAP",
    )
    .await;
    assert_eq!((n, nodes[0]["code"].as_str()), (1, Some("H05")));
    // A viewer reads masked names and ID numbers.
    let viewer = app.token(Role::Viewer, COUNTY, None).await;
    let (_, nodes) = drill_all(
        &app,
        &viewer,
        &Scope::Area(COUNTY.into()),
        "2020-06-30",
        "EMPLOYMENT",
        "DENOMINATOR",
    )
    .await;
    assert_eq!(nodes.len(), 11);
    for n in &nodes {
        let id = n["idNumber"].as_str().unwrap();
        assert!(id.contains("**********") && id.len() == 18, "{id}");
    }
    let (_, nodes) = drill_all(
        &app,
        &viewer,
        &Scope::Area(COUNTY.into()),
        "2020-06-30",
        "OCCUPANCY",
        "GAP",
    )
    .await;
    assert!(nodes
        .iter()
        .all(|n| n["headName"].as_str().unwrap().contains('*')));
    // Without credentials: refused.
    let body = app
        .query_as(
            None,
            DRILL,
            json!({ "s": { "areaCode": COUNTY }, "i": "OCCUPANCY", "p": "GAP" }),
        )
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}
