//! The change feed (CONTRACT §5): the rows the change log's triggers write, read in commit
//! order as far as the caller's [`Scope`] lets them through.
//!
//! A position is `(epoch, tx, id)`. On PostgreSQL `tx` is the writing transaction's id, and a
//! read covers only transactions older than every one still open (the snapshot's `xmin`, read
//! first): each of those has committed or rolled back, so no later commit can land behind a
//! cursor. SQLite has one writer at a time: `id` alone is commit order, and a read covers ids up
//! to the last one committed. A cursor also carries the register's identity and the log's
//! high-water mark when it was issued: a cursor of another register, of an earlier epoch (the
//! database was restored into a new cluster), from beyond the log's end (the database was
//! restored from an older copy), or from before what was pruned is refused as
//! `RESYNC_REQUIRED`.

use super::scope::Scope;
use crate::db::stmt;
use crate::error::{Error, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, TransactionTrait, Value};

/// Most changes one page may hold.
pub const MAX_PAGE: u32 = 1000;

/// The kinds of record the feed carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    Area,
    Site,
    SiteWork,
    Household,
    Member,
    Employment,
    Homestead,
}

impl RecordType {
    pub const ALL: [RecordType; 7] = [
        RecordType::Area,
        RecordType::Site,
        RecordType::SiteWork,
        RecordType::Household,
        RecordType::Member,
        RecordType::Employment,
        RecordType::Homestead,
    ];

    /// The name the log and the contract use.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Area => "AREA",
            RecordType::Site => "SITE",
            RecordType::SiteWork => "SITE_WORK",
            RecordType::Household => "HOUSEHOLD",
            RecordType::Member => "MEMBER",
            RecordType::Employment => "EMPLOYMENT",
            RecordType::Homestead => "HOMESTEAD",
        }
    }

    fn parse(s: &str) -> Option<RecordType> {
        RecordType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What happened to a record, as the caller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    /// Written (created or changed), or newly within the caller's scope.
    Upsert,
    /// Deleted.
    Delete,
    /// Still there, but no longer within the caller's scope.
    LeftScope,
}

/// One change of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Resumes the feed after this change.
    pub cursor: String,
    pub record_type: RecordType,
    /// The record's key (a member's ID number: the GraphQL layer seals it).
    pub key: String,
    pub op: ChangeOp,
    /// The record's version after the change.
    pub version: i32,
    pub committed_at: DateTime<Utc>,
}

/// One page of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub changes: Vec<Change>,
    /// Resumes the feed after this page (past changes the caller does not see, too).
    pub end_cursor: String,
    /// More changes may follow right away.
    pub has_more: bool,
}

/// A place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    register: String,
    epoch: i32,
    tx: i64,
    id: i64,
    /// The log's high-water mark (its id sequence) when the cursor was issued.
    seen: i64,
}

const TAG: &str = "c2";

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{TAG}:{}:{}:{}:{}:{}",
            self.register, self.epoch, self.tx, self.id, self.seen
        ))
    }

    fn decode(text: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split(':');
        if parts.next()? != TAG {
            return None;
        }
        let register = parts.next()?.to_owned();
        let epoch = parts.next()?.parse().ok()?;
        let tx = parts.next()?.parse().ok()?;
        let id = parts.next()?.parse().ok()?;
        let seen = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Cursor {
            register,
            epoch,
            tx,
            id,
            seen,
        })
    }
}

/// Where the log stands: the register, the epoch, the position every committed change lies
/// before (`tx`, `id`), the high-water mark, and what was pruned.
///
/// On PostgreSQL the bound is the oldest transaction still open that may write this database:
/// transaction ids are the cluster's, and one seen running in another database (its session's
/// `backend_xid`) cannot write here, so it holds nothing back. A transaction whose database is
/// not seen (another role's session, or one whose id is not yet published) counts as this
/// database's: the bound never passes a transaction that could still commit changes below it.
struct Now {
    register: String,
    epoch: i32,
    /// PostgreSQL: the oldest transaction still open; every older one has ended.
    xmin: i64,
    /// The log's id sequence: every change up to it has committed on SQLite.
    seen: i64,
    pruned: (i64, i64),
}

async fn now<C: ConnectionTrait>(db: &C) -> Result<Now, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT (SELECT id FROM register_identity LIMIT 1) AS register, s.epoch, \
             (SELECT COALESCE( \
                (SELECT MIN(CAST(CAST(x AS TEXT) AS BIGINT)) FROM pg_snapshot_xip(snap.s) AS x \
                 WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a \
                   WHERE a.backend_xid IS NOT NULL \
                     AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database()) \
                     AND CAST(CAST(a.backend_xid AS TEXT) AS BIGINT) = CAST(CAST(x AS TEXT) AS BIGINT) % 4294967296)), \
                CAST(CAST(pg_snapshot_xmax(snap.s) AS TEXT) AS BIGINT)) \
              FROM (SELECT pg_current_snapshot() AS s) snap) AS xmin, \
             (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM change_log_id_seq) AS seen, \
             CAST(CAST(s.pruned_tx AS TEXT) AS BIGINT) AS pruned_tx, s.pruned_id \
             FROM change_log_state s"
        }
        _ => {
            "SELECT (SELECT id FROM register_identity LIMIT 1) AS register, s.epoch, 0 AS xmin, \
             COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'change_log'), 0) AS seen, \
             s.pruned_tx, s.pruned_id FROM change_log_state s"
        }
    };
    let row = db
        .query_one_raw(stmt(backend, sql, vec![]))
        .await?
        .ok_or_else(|| DbErr::Custom("change_log_state has no row".into()))?;
    Ok(Now {
        register: row.try_get("", "register")?,
        epoch: row.try_get("", "epoch")?,
        xmin: row.try_get("", "xmin")?,
        seen: row.try_get("", "seen")?,
        pruned: (row.try_get("", "pruned_tx")?, row.try_get("", "pruned_id")?),
    })
}

/// Where pruning stopped: a cursor before it asks for a resync.
async fn pruned<C: ConnectionTrait>(db: &C) -> Result<(i64, i64), DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT CAST(CAST(pruned_tx AS TEXT) AS BIGINT) AS pruned_tx, pruned_id FROM change_log_state"
        }
        _ => "SELECT pruned_tx, pruned_id FROM change_log_state",
    };
    let row = db
        .query_one_raw(stmt(backend, sql, vec![]))
        .await?
        .ok_or_else(|| DbErr::Custom("change_log_state has no row".into()))?;
    Ok((row.try_get("", "pruned_tx")?, row.try_get("", "pruned_id")?))
}

impl Now {
    /// The cursor of "now": every change committed so far lies before it.
    fn head(&self, backend: DbBackend) -> Cursor {
        let (tx, id) = match backend {
            DbBackend::Postgres => (self.xmin, 0),
            _ => (0, self.seen),
        };
        Cursor {
            register: self.register.clone(),
            epoch: self.epoch,
            tx,
            id,
            seen: self.seen,
        }
    }

    fn at(&self, tx: i64, id: i64) -> Cursor {
        Cursor {
            register: self.register.clone(),
            epoch: self.epoch,
            tx,
            id,
            seen: self.seen,
        }
    }
}

/// The cursor of "now" for any caller: following the feed from it yields every change
/// committed after this call.
pub async fn head<C: ConnectionTrait>(db: &C) -> Result<String> {
    let now = now(db).await?;
    Ok(now.head(db.get_database_backend()).encode())
}

/// The cursor before the oldest change the log still keeps: what a reader that copied the
/// register as it stood when the log began would follow from. (Clients take `head` instead;
/// this is for tools that read the whole log, such as the benchmark.)
pub async fn oldest<C: ConnectionTrait>(db: &C) -> Result<String> {
    let now = now(db).await?;
    let (tx, id) = now.pruned;
    Ok(now.at(tx, id).encode())
}

/// Whether the change at `cursor` lies at or before `bound` (a head): `None` when either is no
/// cursor, or they are of different registers or epochs.
pub fn is_within(cursor: &str, bound: &str) -> Option<bool> {
    let (c, b) = (Cursor::decode(cursor)?, Cursor::decode(bound)?);
    (c.register == b.register && c.epoch == b.epoch).then_some((c.tx, c.id) <= (b.tx, b.id))
}

fn resync(why: &str) -> Error {
    Error::ResyncRequired(format!(
        "{why}: copy the register again from `changesHead` and follow the feed from there"
    ))
}

/// Whether the area codes in `columns` put a row within `scope` (SQL over the log's columns).
fn visible(scope: &Scope, columns: [&str; 5], args: &mut Vec<Value>) -> String {
    let [site_code, site_area, origin_area, village_area, record_type] = columns;
    match (scope.area(), scope.site_only()) {
        (None, _) => "TRUE".to_owned(),
        (Some(area), site) => {
            let mut param = |v: &str| {
                args.push(Value::from(v.to_owned()));
                format!("${}", args.len())
            };
            let below = format!(
                "(SELECT descendant_code FROM area_closure WHERE ancestor_code = {})",
                param(area)
            );
            let above = format!(
                "(SELECT ancestor_code FROM area_closure WHERE descendant_code = {} AND depth > 0)",
                param(area)
            );
            let records = match site {
                Some(site) => format!("{site_code} = {} AND {site_area} IN {below}", param(site)),
                None => format!(
                    "({site_area} IN {below} OR {origin_area} IN {below} OR {village_area} IN {below})"
                ),
            };
            format!(
                "(CASE WHEN {record_type} = 'AREA' THEN ({origin_area} IN {below} OR {origin_area} IN {above}) \
                 ELSE COALESCE({records}, FALSE) END)"
            )
        }
    }
}

/// The changes after `after` that `scope` lets through, at most `first`, of `types` (all when
/// `None`).
pub async fn page<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    after: &str,
    first: u32,
    types: Option<&[RecordType]>,
) -> Result<Page> {
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(Error::BadInput(format!(
            "`first` must be between 1 and {MAX_PAGE}, not {first}"
        )));
    }
    let cursor = Cursor::decode(after).ok_or_else(|| {
        Error::BadInput(format!(
            "`after` is not a cursor of the change feed: `{after}`"
        ))
    })?;
    let backend = db.get_database_backend();
    let now = now(db).await?;
    if cursor.register != now.register {
        return Err(resync("the cursor is of another register"));
    }
    if cursor.epoch != now.epoch {
        return Err(resync(
            "the register was restored since the cursor was issued",
        ));
    }
    if cursor.seen > now.seen {
        return Err(resync(
            "the cursor lies beyond the register's change log, which was restored from an older copy",
        ));
    }
    if (cursor.tx, cursor.id) < now.pruned {
        return Err(resync(
            "the cursor is older than the change log keeps (its retention)",
        ));
    }

    let mut args: Vec<Value> = vec![
        Value::from(now.epoch),
        Value::from(cursor.tx.to_string()),
        Value::from(cursor.id),
    ];
    let (position, bound) = match backend {
        DbBackend::Postgres => {
            args.push(Value::from(now.xmin.to_string()));
            (
                "(tx, id) > (CAST($2 AS xid8), $3)",
                "tx < CAST($4 AS xid8)".to_owned(),
            )
        }
        _ => {
            args.push(Value::from(now.seen));
            ("(CAST($2 AS INTEGER), id) > (0, $3)", "id <= $4".to_owned())
        }
    };
    let mut type_filter = String::new();
    if let Some(types) = types {
        let names: Vec<String> = types
            .iter()
            .map(|t| {
                args.push(Value::from(t.as_str()));
                format!("${}", args.len())
            })
            .collect();
        if names.is_empty() {
            type_filter = " AND FALSE".into();
        } else {
            type_filter = format!(" AND record_type IN ({})", names.join(", "));
        }
    }
    // Where each change lies, now and before it: as logged, or for a row logged unplaced (a
    // record created or written where it lay) where the record lies when read, before as now.
    let place = |logged: &str, derived: &str| {
        format!("CASE WHEN l.placed = 1 THEN l.{logged} ELSE {derived} END")
    };
    let derived = [
        "COALESCE(ph.site_code, pw.site_code)",
        "ps.township_code",
        "ph.origin_village_code",
        "pho.village_code",
    ];
    let columns = ["site_code", "site_area", "origin_area", "village_area"];
    let now_place: Vec<String> = columns
        .iter()
        .zip(derived)
        .map(|(c, d)| place(c, d))
        .collect();
    let was_place: Vec<String> = columns
        .iter()
        .zip(derived)
        .map(|(c, d)| place(&format!("was_{c}"), d))
        .collect();
    let after_visible = visible(
        scope,
        [
            &now_place[0],
            &now_place[1],
            &now_place[2],
            &now_place[3],
            "l.record_type",
        ],
        &mut args,
    );
    let before_visible = visible(
        scope,
        [
            &was_place[0],
            &was_place[1],
            &was_place[2],
            &was_place[3],
            "l.record_type",
        ],
        &mut args,
    );
    // Placing an unplaced row reads its record, and the record's household and site, by key.
    // A caller who sees the whole register needs no places.
    let joins = if scope.is_everything() {
        String::new()
    } else {
        placing(backend)
    };
    // A caller who sees little of the register must not read all of it per page: a page scans
    // at most `cap` rows of the log, and ends where it stopped.
    let cap = if scope.is_everything() {
        first + 1
    } else {
        (first + 1).saturating_mul(8).min(20_000)
    };
    args.push(Value::from(i64::from(cap)));
    let cap_param = args.len();
    let (tx_text, at_text) = match backend {
        DbBackend::Postgres => (
            "CAST(CAST(tx AS TEXT) AS BIGINT)",
            "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
        ),
        _ => ("tx", "at"),
    };
    let sql = format!(
        "SELECT l.id, l.tx_n, l.at_text, l.record_type, l.record_key, l.op, l.version, \
         {after_visible} AS now_visible, {before_visible} AS was_visible \
         FROM (SELECT id, tx, {tx_text} AS tx_n, {at_text} AS at_text, record_type, record_key, \
           op, version, placed, site_code, site_area, origin_area, village_area, \
           was_site_code, was_site_area, was_origin_area, was_village_area \
           FROM change_log WHERE epoch = $1 AND {position} AND {bound}{type_filter} \
           ORDER BY tx, id LIMIT ${cap_param}) l {joins} \
         ORDER BY l.tx, l.id"
    );
    let rows = db.query_all_raw(stmt(backend, &sql, args)).await?;
    // A prune that committed after `now` was read may have taken rows this page should hold;
    // the mark it left in the same transaction says so.
    if (cursor.tx, cursor.id) < pruned(db).await? {
        return Err(resync(
            "the cursor is older than the change log keeps (its retention)",
        ));
    }
    let scanned = rows.len();
    let mut changes = Vec::new();
    let mut last: Option<(i64, i64)> = None;
    let mut full = false;
    for row in &rows {
        let id: i64 = row.try_get("", "id")?;
        let tx: i64 = row.try_get("", "tx_n")?;
        if let Some(change) = change(&now, row, id, tx)? {
            if changes.len() == first as usize {
                full = true;
                break;
            }
            changes.push(change);
        }
        last = Some((tx, id));
    }
    let (end_cursor, has_more) = if full {
        (
            changes.last().map(|c| c.cursor.clone()).unwrap_or_default(),
            true,
        )
    } else if scanned as u32 == cap {
        // Stopped at the scan's bound with room left: resume past what was scanned.
        let (tx, id) = last.unwrap_or((cursor.tx, cursor.id));
        (now.at(tx, id).encode(), true)
    } else {
        // Everything committed so far was read: resume from now.
        let head = now.head(backend);
        let head = if (head.tx, head.id) < (cursor.tx, cursor.id) {
            now.at(cursor.tx, cursor.id)
        } else {
            head
        };
        (head.encode(), false)
    };
    Ok(Page {
        changes,
        end_cursor,
        has_more,
    })
}

/// The joins that place each unplaced row of the log (`l`) where its record lies now, as
/// `(alias, table, columns, condition over the row \`x\`)`, in the order they depend on
/// one another: the record, its member (an employment's), its household, its site.
const PLACING: [(&str, &str, &str, &str); 7] = [
    (
        "pm",
        "members",
        "household_code",
        "l.placed = 0 AND l.record_type = 'MEMBER' AND x.id_number = l.record_key",
    ),
    (
        "pe",
        "employments",
        "member_id_number",
        "l.placed = 0 AND l.record_type = 'EMPLOYMENT' \
         AND x.id = CASE WHEN l.record_type = 'EMPLOYMENT' THEN CAST(l.record_key AS BIGINT) END",
    ),
    (
        "pem",
        "members",
        "household_code",
        "x.id_number = pe.member_id_number",
    ),
    (
        "pho",
        "homesteads",
        "household_code, village_code",
        "l.placed = 0 AND l.record_type = 'HOMESTEAD' \
         AND x.id = CASE WHEN l.record_type = 'HOMESTEAD' THEN CAST(l.record_key AS BIGINT) END",
    ),
    (
        "pw",
        "site_works",
        "site_code",
        "l.placed = 0 AND l.record_type = 'SITE_WORK' AND x.code = l.record_key",
    ),
    (
        "ph",
        "households",
        "site_code, origin_village_code",
        "l.placed = 0 AND x.code = CASE l.record_type WHEN 'HOUSEHOLD' THEN l.record_key \
         WHEN 'MEMBER' THEN pm.household_code WHEN 'EMPLOYMENT' THEN pem.household_code \
         WHEN 'HOMESTEAD' THEN pho.household_code END",
    ),
    (
        "ps",
        "sites",
        "township_code",
        "l.placed = 0 AND x.code = COALESCE(ph.site_code, pw.site_code)",
    ),
];

/// [`PLACING`] as SQL. Each is a lookup by key for each of a page's rows: on PostgreSQL a
/// lateral subquery, which the planner cannot turn into hashing the whole table for a few
/// thousand rows; SQLite looks each up by key anyway.
fn placing(backend: DbBackend) -> String {
    PLACING
        .iter()
        .map(|(alias, table, columns, condition)| match backend {
            DbBackend::Postgres => format!(
                "LEFT JOIN LATERAL (SELECT {columns} FROM {table} x WHERE {condition} LIMIT 1) \
                 {alias} ON TRUE"
            ),
            _ => format!(
                "LEFT JOIN {table} {alias} ON {}",
                condition.replace("x.", &format!("{alias}."))
            ),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn truthy(row: &QueryResult, column: &str) -> Result<bool, DbErr> {
    // PostgreSQL answers a boolean, SQLite an integer.
    match row.try_get::<bool>("", column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<Option<i64>>("", column)?.unwrap_or(0) != 0),
    }
}

/// The change a log row is for the caller, if any.
fn change(now: &Now, row: &QueryResult, id: i64, tx: i64) -> Result<Option<Change>, DbErr> {
    let now_visible = truthy(row, "now_visible")?;
    let was_visible = truthy(row, "was_visible")?;
    let logged: String = row.try_get("", "op")?;
    let op = match (logged.as_str(), now_visible, was_visible) {
        ("DELETE", _, true) => ChangeOp::Delete,
        ("DELETE", _, false) => return Ok(None),
        (_, true, _) => ChangeOp::Upsert,
        (_, false, true) => ChangeOp::LeftScope,
        (_, false, false) => return Ok(None),
    };
    let kind: String = row.try_get("", "record_type")?;
    let record_type = RecordType::parse(&kind)
        .ok_or_else(|| DbErr::Type(format!("unknown record type `{kind}` in the change log")))?;
    let at: String = row.try_get("", "at_text")?;
    let committed_at = DateTime::parse_from_rfc3339(&at)
        .map_err(|e| DbErr::Type(format!("change {id}: time `{at}`: {e}")))?
        .with_timezone(&Utc);
    Ok(Some(Change {
        cursor: now.at(tx, id).encode(),
        record_type,
        key: row.try_get("", "record_key")?,
        op,
        version: row.try_get("", "version")?,
        committed_at,
    }))
}

/// Starts a new epoch if the database is a copy restored into a new PostgreSQL cluster (its
/// log holds transaction ids the cluster has not reached yet): every earlier cursor then asks
/// for a resync, and new changes order after the restored ones. Returns whether it did.
pub async fn check_epoch<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(false);
    }
    let ahead = db
        .query_one_raw(stmt(
            backend,
            "SELECT EXISTS (SELECT 1 FROM change_log l, change_log_state s \
             WHERE l.epoch = s.epoch AND l.tx >= pg_snapshot_xmax(pg_current_snapshot())) AS ahead",
            vec![],
        ))
        .await?
        .map(|r| r.try_get::<bool>("", "ahead"))
        .transpose()?
        .unwrap_or(false);
    if ahead {
        db.execute_raw(stmt(
            backend,
            "UPDATE change_log_state SET epoch = epoch + 1",
            vec![],
        ))
        .await?;
        tracing::warn!("the change log is ahead of this cluster's transactions: a restored copy; a new epoch begins");
    }
    Ok(ahead)
}

/// Deletes the changes older than `retention`, and remembers where it stopped: a cursor before
/// that point asks for a resync. Returns how many rows went.
///
/// What goes is a prefix of the log in its order: every change before the first one still
/// inside the retention. (A change is stamped with its transaction's start, so one older change
/// may wait behind a younger one for the next run; none goes early.) Finding the prefix walks
/// the log's order index from its start, which after the first run is only what expired since
/// the last.
pub async fn prune(
    db: &sea_orm::DatabaseConnection,
    retention: chrono::Duration,
) -> Result<u64, DbErr> {
    // What goes and where the log says it stopped change together; replicas pruning at once
    // take turns on the state row, so the mark never moves back.
    let txn = db.begin().await?;
    let db = &txn;
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        db.execute_raw(stmt(
            backend,
            "SELECT 1 FROM change_log_state FOR UPDATE",
            vec![],
        ))
        .await?;
    }
    let cutoff = Utc::now() - retention;
    let (tx_text, cutoff_value) = match backend {
        DbBackend::Postgres => ("CAST(CAST(tx AS TEXT) AS BIGINT)", Value::from(cutoff)),
        _ => (
            "tx",
            Value::from(cutoff.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        ),
    };
    let current = "epoch = (SELECT epoch FROM change_log_state)";
    // The first change to keep; all before it go.
    let kept = db
        .query_one_raw(stmt(
            backend,
            &format!(
                "SELECT {tx_text} AS tx, id FROM change_log WHERE {current} AND at >= $1 \
                 ORDER BY epoch, tx, id LIMIT 1"
            ),
            vec![cutoff_value],
        ))
        .await?
        .map(|r| Ok::<_, DbErr>((r.try_get::<i64>("", "tx")?, r.try_get::<i64>("", "id")?)))
        .transpose()?;
    let xid = match backend {
        DbBackend::Postgres => "xid8",
        _ => "INTEGER",
    };
    // The last change that goes: the last before the first kept, or the last of all.
    let (before_kept, args) = match kept {
        Some((tx, id)) => (
            format!("AND (tx, id) < (CAST($1 AS {xid}), $2)"),
            vec![Value::from(tx.to_string()), Value::from(id)],
        ),
        None => (String::new(), vec![]),
    };
    let last = db
        .query_one_raw(stmt(
            backend,
            &format!(
                "SELECT {tx_text} AS tx, id FROM change_log WHERE {current} {before_kept} \
                 ORDER BY epoch DESC, tx DESC, id DESC LIMIT 1"
            ),
            args,
        ))
        .await?;
    // Older epochs go whole.
    let mut gone = db
        .execute_raw(stmt(
            backend,
            "DELETE FROM change_log WHERE epoch < (SELECT epoch FROM change_log_state)",
            vec![],
        ))
        .await?
        .rows_affected();
    let Some(last) = last else {
        txn.commit().await?;
        return Ok(gone);
    };
    let tx: i64 = last.try_get("", "tx")?;
    let id: i64 = last.try_get("", "id")?;
    let args = || vec![Value::from(tx.to_string()), Value::from(id)];
    gone += db
        .execute_raw(stmt(
            backend,
            &format!(
                "DELETE FROM change_log WHERE {current} AND (tx, id) <= (CAST($1 AS {xid}), $2)"
            ),
            args(),
        ))
        .await?
        .rows_affected();
    db.execute_raw(stmt(
        backend,
        &format!("UPDATE change_log_state SET pruned_tx = CAST($1 AS {xid}), pruned_id = $2"),
        args(),
    ))
    .await?;
    txn.commit().await?;
    Ok(gone)
}

/// How long the feed is held back, in seconds: the age of the oldest transaction of this
/// database still open that has written (changes after it wait until it ends). 0 on SQLite.
pub async fn lag_seconds<C: ConnectionTrait>(db: &C) -> Result<f64, DbErr> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(0.0);
    }
    let row = db
        .query_one_raw(stmt(
            backend,
            "SELECT CAST(COALESCE(EXTRACT(EPOCH FROM now() - min(xact_start)), 0) AS DOUBLE PRECISION) AS lag \
             FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND datname = current_database()",
            vec![],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<f64>("", "lag"))
        .transpose()?
        .unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = Cursor {
            register: "ab12".into(),
            epoch: 2,
            tx: 981,
            id: 77,
            seen: 90,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not a cursor"), None);
        let foreign = URL_SAFE_NO_PAD.encode("k1:H01");
        assert_eq!(Cursor::decode(&foreign), None);
        let extra = URL_SAFE_NO_PAD.encode("c2:ab:1:2:3:4:5");
        assert_eq!(Cursor::decode(&extra), None);
    }

    #[test]
    fn record_types_read_back_by_name() {
        for t in RecordType::ALL {
            assert_eq!(RecordType::parse(t.as_str()), Some(t));
        }
        assert_eq!(RecordType::parse("NODE"), None);
    }
}
