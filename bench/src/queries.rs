//! The query mix: every GraphQL text the benchmark sends, in one place.
//!
//! Texts are constants and take the area they scope to as the variable `$area`, so the bytes on
//! the wire are the same from run to run; dates are pinned so that the answers do not drift with
//! the calendar.

use crate::peer::Shape;
use anyhow::bail;

/// The area a query is scoped to, found in the data set once the server is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No variables.
    None,
    /// The first county of the data set, by code.
    County,
    /// The root of the area tree (the province).
    Province,
    /// The change feed from the oldest change the log keeps (the variable `$after`).
    Feed,
    /// The same feed, read by an officer of the first county: the log is scanned for the few
    /// changes that county sees, each placed where its record lies.
    CountyFeed,
}

/// Who sends a query's requests (each with a token the benchmark signs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// An admin of the root area: sees everything unmasked, and every read of personal data is
    /// audited.
    Admin,
    /// An officer of the root area without the personal-data grant: sees everything, with
    /// names and ID numbers masked.
    Officer,
    /// An officer of the first county.
    CountyOfficer,
}

/// The same request for the peer (PostGraphile over the same database), with what both answers
/// must agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerText {
    pub text: &'static str,
    pub shape: Shape,
}

/// One row of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchQuery {
    /// Short name: `Q0`, `Q1a`, …
    pub id: &'static str,
    /// What it stands for.
    pub about: &'static str,
    pub text: &'static str,
    pub scope: Scope,
    /// Most concurrent connections it is driven with (the `--connections` value when lower).
    pub max_connections: Option<usize>,
    pub caller: Caller,
    /// Measured against the peer too, with `--peer`.
    pub peer: Option<PeerText>,
    /// Measured once, alone, on the fresh server before any load.
    pub cold: bool,
    pub drive: Drive,
}

/// How a query's requests are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drive {
    /// Sent to the server as they are: a repeated read may be answered from the response cache.
    Served,
    /// Every request asks for an executed answer (`Cache-Control: no-cache`), so the row shows
    /// what running the query costs, not what serving it from the response cache does.
    Fresh,
    /// Writes mixed into the reads (see [`WRITE_EVERY`]).
    WithWrites,
    /// A thousand WebSocket subscribers of the text, and a write each round (see
    /// `bench::subscribe`).
    Subscribe,
    /// Not sent to the server: the load generator runs the statements an executed answer costs
    /// straight against the database (Q3's page only; see `bench::sql`).
    Sql,
}

impl BenchQuery {
    /// How many connections it is driven with when `wanted` are asked for.
    pub fn connections(&self, wanted: usize) -> usize {
        self.max_connections.map_or(wanted, |max| max.min(wanted))
    }
}

/// The smallest request: what the HTTP and GraphQL layers cost without the database.
pub const TYPENAME: &str = "{ __typename }";

/// Every indicator of one area on a fixed date.
pub const INDICATORS: &str = "query Indicators($area: String!) { \
indicators(scope: { areaCode: $area }, asOf: \"2020-06-30\") { asOf \
constructionCompletion { numerator denominator rate } worksCompletion { numerator denominator rate } \
worksByCategory { category ratio { rate } } occupancy { numerator denominator rate } \
occupancyPersons { numerator denominator rate } stablePovertyExit { numerator denominator rate } \
employment { numerator denominator rate } householdEmployment { numerator denominator rate } \
employmentByPath { path persons } demolition { numerator denominator rate } \
reclamation { numerator denominator rate } reclaimedAreaMu } }";

/// A page of sites, each with its own indicators and household count.
pub const SITES: &str = "{ sites(first: 50) { nodes { code indicators { occupancy { rate } } \
households { totalCount } } } }";

/// A page of 50 sites, each with its household count.
pub const SITE_COUNTS: &str = "{ sites(first: 50) { nodes { code households { totalCount } } } }";

/// [`SITE_COUNTS`] in PostGraphile's names.
pub const PEER_SITE_COUNTS: &str =
    "{ allSites(first: 50) { nodes { code householdsBySiteCode { totalCount } } } }";

/// A page of 100 households with everything a register screen shows about them.
pub const HOUSEHOLDS: &str = "{ households(first: 100) { nodes { code site { name } \
originVillage { name } members { nodes { name employments { nodes { path } } } } } } }";

/// [`HOUSEHOLDS`] in PostGraphile's names.
pub const PEER_HOUSEHOLDS: &str = "{ allHouseholds(first: 100) { nodes { code \
siteBySiteCode { name } areaByOriginVillageCode { name } membersByHouseholdCode { nodes { name \
employmentsByMemberIdNumber { nodes { path } } } } } } }";

/// The month ends of three years (36 points) for one area.
pub const SERIES: &str = "query Series($area: String!) { \
indicatorSeries(scope: { areaCode: $area }, from: \"2018-01-01\", to: \"2020-12-31\") { asOf \
constructionCompletion { rate } occupancy { rate } stablePovertyExit { rate } employment { rate } \
reclamation { rate } } }";

/// Q5's write: toggles a work's completion date (1 request in [`WRITE_EVERY`]).
pub const WORK_COMPLETION: &str = "mutation Toggle($input: RecordWorkCompletionInput!) { \
recordWorkCompletion(input: $input) { work { version } userErrors { code message } } }";

/// Q5 mixes one write into every this many requests of a connection; the other 99 read the
/// county's indicators (Q1a's text), whose cache entries each write retires.
pub const WRITE_EVERY: u64 = 100;

/// The works Q5's writers toggle, with their versions.
pub const WORKS: &str =
    "{ sites(first: 100) { nodes { works(first: 100) { nodes { code version } } } } }";

/// A thousand changes of the feed, from the oldest the log keeps, each with its record's id.
pub const FEED: &str = "query Feed($after: String!) { changes(after: $after, first: 1000) { \
changes { cursor type id op version committedAt record { id } } endCursor hasMore } }";

/// A drill-down page of 100 households: the province's occupancy gap (households not yet moved
/// in), each with its code and persons.
pub const DRILL_DOWN: &str = "query Drill($area: String!) { \
drillDown(scope: { areaCode: $area }, asOf: \"2020-06-30\", indicator: OCCUPANCY, part: GAP, first: 100) { \
totalCount nodes { ... on Household { code persons movedInOn } } pageInfo { hasNextPage endCursor } } }";

/// The laborers without work on 2020-06-30 at the province: the employment rate's gap, a
/// drill-down through members and their employments.
pub const DRILL_DOWN_EMPLOYMENT: &str = "query Drill($area: String!) { \
drillDown(scope: { areaCode: $area }, asOf: \"2020-06-30\", indicator: EMPLOYMENT, part: GAP, first: 100) { \
totalCount nodes { ... on Member { name laborCapacity } } pageInfo { hasNextPage endCursor } } }";

/// The households with laborers none of whom works on 2020-06-30 at the province.
pub const DRILL_DOWN_HOUSEHOLD_EMPLOYMENT: &str = "query Drill($area: String!) { \
drillDown(scope: { areaCode: $area }, asOf: \"2020-06-30\", indicator: HOUSEHOLD_EMPLOYMENT, part: GAP, first: 100) { \
totalCount nodes { ... on Household { code persons } } pageInfo { hasNextPage endCursor } } }";

/// The old houses not yet demolished on 2020-06-30 at the province (the origin side).
pub const DRILL_DOWN_DEMOLITION: &str = "query Drill($area: String!) { \
drillDown(scope: { areaCode: $area }, asOf: \"2020-06-30\", indicator: DEMOLITION, part: GAP, first: 100) { \
totalCount nodes { ... on Homestead { areaMu demolishedOn } } pageInfo { hasNextPage endCursor } } }";

/// Q8's subscription: a few of the province's indicators, live.
pub const SUBSCRIPTION: &str = "subscription Live($area: String!) { \
indicatorsChanged(scope: { areaCode: $area }, asOf: \"2020-06-30\") { asOf \
worksCompletion { numerator denominator rate } occupancy { numerator denominator rate } } }";

/// Finds the areas the scoped queries need: the first county and the root.
pub const DISCOVER: &str =
    "{ county: areas(filter: { level: COUNTY }, first: 1) { nodes { code name } } \
province: areas(filter: { level: PROVINCE }, first: 1) { nodes { code name } } }";

/// Every query, in the order they run.
pub const QUERIES: [BenchQuery; 18] = [
    BenchQuery {
        id: "Q0",
        about: "__typename: the HTTP and GraphQL floor",
        text: TYPENAME,
        scope: Scope::None,
        max_connections: None,
        caller: Caller::Admin,
        peer: Some(PeerText {
            text: TYPENAME,
            shape: Shape::Nothing,
        }),
        cold: false,
        drive: Drive::Served,
    },
    BenchQuery {
        id: "Q1a",
        about: "indicators of a county",
        text: INDICATORS,
        scope: Scope::County,
        max_connections: None,
        caller: Caller::Admin,
        peer: None,
        cold: true,
        drive: Drive::Served,
    },
    BenchQuery {
        id: "Q1b",
        about: "indicators of the province",
        text: INDICATORS,
        scope: Scope::Province,
        max_connections: None,
        caller: Caller::Admin,
        peer: None,
        cold: true,
        drive: Drive::Served,
    },
    BenchQuery {
        id: "Q2",
        about: "50 sites with their occupancy and household count",
        text: SITES,
        scope: Scope::None,
        max_connections: None,
        caller: Caller::Admin,
        peer: None,
        cold: false,
        drive: Drive::Served,
    },
    BenchQuery {
        id: "Q2x",
        about: "50 sites with their household count, executed every time (Cache-Control: \
                no-cache)",
        text: SITE_COUNTS,
        scope: Scope::None,
        max_connections: Some(16),
        caller: Caller::Admin,
        peer: Some(PeerText {
            text: PEER_SITE_COUNTS,
            shape: Shape::SiteCounts,
        }),
        cold: false,
        drive: Drive::Fresh,
    },
    BenchQuery {
        id: "Q3",
        about: "100 households with site, origin village, members and employments (the \
                caller's own repeated read, from its response cache)",
        text: HOUSEHOLDS,
        scope: Scope::None,
        max_connections: Some(16),
        caller: Caller::Admin,
        peer: None,
        cold: false,
        drive: Drive::Served,
    },
    BenchQuery {
        id: "Q3x",
        about: "Q3 executed every time (Cache-Control: no-cache), by an admin: unmasked, and \
                the read of personal data audited",
        text: HOUSEHOLDS,
        scope: Scope::None,
        max_connections: Some(16),
        caller: Caller::Admin,
        peer: Some(PeerText {
            text: PEER_HOUSEHOLDS,
            shape: Shape::HouseholdPage,
        }),
        cold: false,
        drive: Drive::Fresh,
    },
    BenchQuery {
        id: "Q3m",
        about: "Q3 executed every time, by an officer of the root area without the \
                personal-data grant: names and ID numbers masked, nothing audited",
        text: HOUSEHOLDS,
        scope: Scope::None,
        max_connections: Some(16),
        caller: Caller::Officer,
        peer: Some(PeerText {
            text: PEER_HOUSEHOLDS,
            shape: Shape::HouseholdPage,
        }),
        cold: false,
        drive: Drive::Fresh,
    },
    BenchQuery {
        id: "Q3sql",
        about: "Q3x's statements alone, sent by the load generator straight to the database: \
                the most Q3x could reach here if the server cost nothing but its SQL",
        text: HOUSEHOLDS,
        scope: Scope::None,
        max_connections: Some(16),
        caller: Caller::Admin,
        peer: None,
        cold: false,
        drive: Drive::Sql,
    },
    BenchQuery {
        id: "Q4",
        about: "36 month ends of a county's indicators",
        text: SERIES,
        scope: Scope::County,
        max_connections: None,
        caller: Caller::Admin,
        peer: None,
        cold: false,
        drive: Drive::Served,
    },
    BenchQuery {
        id: "Q5",
        about: "mixed: 99 reads of a county's indicators, 1 recordWorkCompletion toggle in 100",
        text: INDICATORS,
        scope: Scope::County,
        max_connections: None,
        caller: Caller::Admin,
        peer: None,
        cold: false,
        drive: Drive::WithWrites,
    },
    BenchQuery {
        id: "Q6",
        about: "1,000 changes of the feed with their records' ids, one reader (its p50 is the \
                time to read a page)",
        text: FEED,
        scope: Scope::Feed,
        max_connections: Some(1),
        caller: Caller::Admin,
        peer: None,
        cold: false,
        drive: Drive::Served,
    },
    BenchQuery {
        id: "Q6c",
        about: "a page of the feed (up to 1,000 changes) read by a county's officer, one reader",
        text: FEED,
        scope: Scope::CountyFeed,
        max_connections: Some(1),
        caller: Caller::CountyOfficer,
        peer: None,
        cold: false,
        drive: Drive::Served,
    },
    BenchQuery {
        id: "Q7",
        about: "a drill-down page of 100 at province scale: households behind the occupancy gap \
                (executed every time)",
        text: DRILL_DOWN,
        scope: Scope::Province,
        max_connections: None,
        caller: Caller::Admin,
        peer: None,
        cold: false,
        drive: Drive::Fresh,
    },
    BenchQuery {
        id: "Q7e",
        about: "a drill-down page of 100 at province scale: laborers behind the employment gap \
                (executed every time)",
        text: DRILL_DOWN_EMPLOYMENT,
        scope: Scope::Province,
        max_connections: None,
        caller: Caller::Admin,
        peer: None,
        cold: false,
        drive: Drive::Fresh,
    },
    BenchQuery {
        id: "Q7h",
        about: "a drill-down page of 100 at province scale: households behind the household \
                employment gap (executed every time)",
        text: DRILL_DOWN_HOUSEHOLD_EMPLOYMENT,
        scope: Scope::Province,
        max_connections: None,
        caller: Caller::Admin,
        peer: None,
        cold: false,
        drive: Drive::Fresh,
    },
    BenchQuery {
        id: "Q7d",
        about: "a drill-down page of 100 at province scale: homesteads behind the demolition \
                gap (executed every time)",
        text: DRILL_DOWN_DEMOLITION,
        scope: Scope::Province,
        max_connections: None,
        caller: Caller::Admin,
        peer: None,
        cold: false,
        drive: Drive::Fresh,
    },
    BenchQuery {
        id: "Q8",
        about: "1,000 WebSocket subscribers of the province's indicators: each one's next value \
                after a recordWorkCompletion, timed from the write's response",
        text: SUBSCRIPTION,
        scope: Scope::Province,
        max_connections: None,
        caller: Caller::Admin,
        peer: None,
        cold: false,
        drive: Drive::Subscribe,
    },
];

/// The queries `--only` names (all of them when it names none). `Q1` stands for `Q1a` and `Q1b`;
/// case does not matter.
pub fn select(only: &[String]) -> anyhow::Result<Vec<BenchQuery>> {
    if only.is_empty() {
        return Ok(QUERIES.to_vec());
    }
    let mut wanted = Vec::new();
    for name in only.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let matching: Vec<&BenchQuery> = QUERIES
            .iter()
            .filter(|q| {
                q.id.eq_ignore_ascii_case(name)
                    || (q.id.len() > name.len()
                        && q.id[..name.len()].eq_ignore_ascii_case(name)
                        && q.id[name.len()..].chars().all(|c| c.is_ascii_lowercase()))
            })
            .collect();
        if matching.is_empty() {
            let ids: Vec<&str> = QUERIES.iter().map(|q| q.id).collect();
            bail!("unknown query `{name}`: the queries are {}", ids.join(", "));
        }
        wanted.extend(matching.into_iter().map(|q| q.id));
    }
    Ok(QUERIES
        .iter()
        .filter(|q| wanted.contains(&q.id))
        .copied()
        .collect())
}

/// The texts, for `--list`.
pub fn listing() -> String {
    let mut out = String::new();
    for q in &QUERIES {
        let scope = match q.scope {
            Scope::None => "",
            Scope::County => " ($area = the first county)",
            Scope::Province => " ($area = the province)",
            Scope::Feed => " ($after = the oldest change the log keeps)",
            Scope::CountyFeed => {
                " ($after = the oldest change the log keeps; an officer of the first county reads)"
            }
        };
        let conns = match q.max_connections {
            Some(n) => format!(" [at most {n} connections]"),
            None => String::new(),
        };
        out.push_str(&format!(
            "{}: {}{scope}{conns}\n  {}\n\n",
            q.id, q.about, q.text
        ));
        match q.caller {
            Caller::Admin => {}
            Caller::Officer => out.push_str(
                "  sent by an officer of the root area without the personal-data grant\n\n",
            ),
            Caller::CountyOfficer => {}
        }
        if let Some(peer) = q.peer {
            out.push_str(&format!(
                "  with --peer, PostGraphile is sent:\n  {}\n\n",
                peer.text
            ));
        }
        match q.drive {
            Drive::Served => {}
            Drive::Fresh => out.push_str("  sent with `Cache-Control: no-cache`\n\n"),
            Drive::Sql => out.push_str(
                "  not sent to the server: each request is the page's statements, run against the \
                 database by the load generator (the households, then their sites, origin \
                 villages and members with the members' employments, then the audit entry)\n\n",
            ),
            Drive::WithWrites => out.push_str(&format!(
                "  and every {WRITE_EVERY}th request of a connection:\n  {WORK_COMPLETION}\n\n"
            )),
            Drive::Subscribe => out.push_str(&format!(
                "  over WebSocket (graphql-transport-ws), then one write a round:\n  {WORK_COMPLETION}\n\n"
            )),
        }
    }
    out.push_str(&format!("Areas are found with:\n  {DISCOVER}\n"));
    out.push_str(&format!("Q5's works are found with:\n  {WORKS}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(only: &[&str]) -> Vec<&'static str> {
        let only: Vec<String> = only.iter().map(|s| s.to_string()).collect();
        select(&only)
            .map(|qs| qs.iter().map(|q| q.id).collect())
            .unwrap_or_default()
    }

    #[test]
    fn only_selects_in_run_order_and_expands_q1() {
        assert_eq!(
            ids(&[]),
            [
                "Q0", "Q1a", "Q1b", "Q2", "Q2x", "Q3", "Q3x", "Q3m", "Q3sql", "Q4", "Q5", "Q6",
                "Q6c", "Q7", "Q7e", "Q7h", "Q7d", "Q8"
            ]
        );
        assert_eq!(
            ids(&["Q3", "q1"]),
            ["Q1a", "Q1b", "Q3", "Q3x", "Q3m", "Q3sql"]
        );
        assert_eq!(ids(&["q3SQL"]), ["Q3sql"]);
        assert_eq!(ids(&["Q1B", " Q0 "]), ["Q0", "Q1b"]);
    }

    #[test]
    fn only_rejects_unknown_names() {
        let err = select(&["Q9".to_string()]).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("unknown query `Q9`"), "{err}");
        // A prefix of a number is not a name: `Q` alone must not pick every query.
        assert!(select(&["Q".to_string()]).is_err());
    }

    #[test]
    fn scoped_texts_declare_the_area_variable() {
        for q in QUERIES {
            assert_eq!(
                q.text.contains("$area: String!"),
                matches!(q.scope, Scope::County | Scope::Province),
                "{}",
                q.id
            );
            assert_eq!(
                q.text.contains("$after: String!"),
                matches!(q.scope, Scope::Feed | Scope::CountyFeed),
                "{}",
                q.id
            );
        }
    }
}
