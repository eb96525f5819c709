//! The triggers that write the change log (CONTRACT §5), as SQL for each backend. The change
//! log migration creates them; a later migration re-creates them when their definition changes.
//!
//! Each logged row names the record (`record_type`, `record_key`), what happened (`op`:
//! `UPSERT` or `DELETE`), the record's version after it, and where the record lies before and
//! after the change: its site (`site_code`), the site's township (`site_area`), its origin
//! village (`origin_area`; an area's own code for an area), and a homestead's village
//! (`village_area`). The `was_*` columns hold the same before the change, so a reader can tell
//! a record that left its scope. When a household moves (its site or origin village changes),
//! its members, employments and homesteads move with it, and get rows of their own; so do a
//! site's works and households (and theirs) when the site moves to another township. An area
//! whose parent changes gets its own row only: areas are the tree, and a consumer reads them
//! whole.
//!
//! Where a record lies is written out (`placed = 1`) when the row itself says it (an area, a
//! site), when the record goes (a tombstone must say where it was), and when it moves (the
//! reader must tell who it left). Otherwise (a record written where it already lay, or
//! created) the row holds only the record's key (`placed = 0`) and the reader places it where
//! it lies when read, which is where the record it returns lies too: so an import of a
//! province writes its million rows without a lookup each. Where a record is placed, its
//! household and site are found by key, one join per statement.
//!
//! Where a record lies is read in the writing transaction. That is exact because writers of the
//! register do not interleave: mutations and imports take the writers' lock
//! (`db::lock_writers`) before they write, and anything else that writes these tables must
//! take it too. (Two transactions that wrote at once, one moving a household and one deleting
//! its member, could otherwise each read the other's side as it was before.)

use sea_orm_migration::sea_orm::DbBackend;

/// Where a record lies, as SQL over a row alias written `{r}`: the joins that reach its site
/// and household (their aliases are `{r}` followed by a letter, so the two sides of an update
/// do not collide), and the four places as expressions over the row and those joins.
struct Reach {
    joins: &'static str,
    site_code: &'static str,
    site_area: &'static str,
    origin_area: &'static str,
    village_area: &'static str,
}

/// One table whose changes are logged.
struct Logged {
    table: &'static str,
    record_type: &'static str,
    /// The key column; a number is logged as its text.
    key: &'static str,
    numeric_key: bool,
    reach: Reach,
    /// The columns of the record's own row that place it (through its household, member or
    /// site), when placing it takes a join: the record is then logged unplaced, unless one of
    /// these changed (it moved). Empty: the record's row places it, and every row is placed.
    moves: &'static [&'static str],
}

impl Logged {
    /// The record's key as text, over the row alias `{r}`.
    fn key_text(&self) -> String {
        if self.numeric_key {
            format!("CAST({{r}}.{} AS TEXT)", self.key)
        } else {
            format!("{{r}}.{}", self.key)
        }
    }
}

const NONE: &str = "NULL";

/// A site's township, joined from a row with a `site_code`.
const SITE_JOIN: &str = "LEFT JOIN sites {r}s ON {r}s.code = {r}.site_code";

/// A household and its site, joined from a row with a `household_code`.
const HOUSEHOLD_JOIN: &str = "LEFT JOIN households {r}h ON {r}h.code = {r}.household_code \
     LEFT JOIN sites {r}s ON {r}s.code = {r}h.site_code";

/// A member, its household and the household's site, joined from an employment.
const MEMBER_JOIN: &str = "LEFT JOIN members {r}m ON {r}m.id_number = {r}.member_id_number \
     LEFT JOIN households {r}h ON {r}h.code = {r}m.household_code \
     LEFT JOIN sites {r}s ON {r}s.code = {r}h.site_code";

fn logged() -> Vec<Logged> {
    vec![
        Logged {
            table: "areas",
            record_type: "AREA",
            key: "code",
            numeric_key: false,
            reach: Reach {
                joins: "",
                site_code: NONE,
                site_area: NONE,
                origin_area: "{r}.code",
                village_area: NONE,
            },
            moves: &[],
        },
        Logged {
            table: "sites",
            record_type: "SITE",
            key: "code",
            numeric_key: false,
            reach: Reach {
                joins: "",
                site_code: "{r}.code",
                site_area: "{r}.township_code",
                origin_area: NONE,
                village_area: NONE,
            },
            moves: &[],
        },
        Logged {
            table: "site_works",
            record_type: "SITE_WORK",
            key: "code",
            numeric_key: false,
            reach: Reach {
                joins: SITE_JOIN,
                site_code: "{r}.site_code",
                site_area: "{r}s.township_code",
                origin_area: NONE,
                village_area: NONE,
            },
            moves: &["site_code"],
        },
        Logged {
            table: "households",
            record_type: "HOUSEHOLD",
            key: "code",
            numeric_key: false,
            reach: Reach {
                joins: SITE_JOIN,
                site_code: "{r}.site_code",
                site_area: "{r}s.township_code",
                origin_area: "{r}.origin_village_code",
                village_area: NONE,
            },
            moves: &["site_code", "origin_village_code"],
        },
        Logged {
            table: "members",
            record_type: "MEMBER",
            key: "id_number",
            numeric_key: false,
            reach: Reach {
                joins: HOUSEHOLD_JOIN,
                site_code: "{r}h.site_code",
                site_area: "{r}s.township_code",
                origin_area: "{r}h.origin_village_code",
                village_area: NONE,
            },
            moves: &["household_code"],
        },
        Logged {
            table: "employments",
            record_type: "EMPLOYMENT",
            key: "id",
            numeric_key: true,
            reach: Reach {
                joins: MEMBER_JOIN,
                site_code: "{r}h.site_code",
                site_area: "{r}s.township_code",
                origin_area: "{r}h.origin_village_code",
                village_area: NONE,
            },
            moves: &["member_id_number"],
        },
        Logged {
            table: "homesteads",
            record_type: "HOMESTEAD",
            key: "id",
            numeric_key: true,
            reach: Reach {
                joins: HOUSEHOLD_JOIN,
                site_code: "{r}h.site_code",
                site_area: "{r}s.township_code",
                origin_area: "{r}h.origin_village_code",
                village_area: "{r}.village_code",
            },
            moves: &["household_code", "village_code"],
        },
    ]
}

/// `sql` with the row alias `{r}` replaced by `alias`.
fn on(sql: &str, alias: &str) -> String {
    sql.replace("{r}", alias)
}

const COLUMNS: &str = "epoch, record_type, record_key, op, version, \
    site_code, site_area, origin_area, village_area, \
    was_site_code, was_site_area, was_origin_area, was_village_area";

/// The statement that logs `op` for each record that is now `new` (absent: `None`) and was
/// `old`, over `from`, which names the row aliases (the joins that reach where they lie are
/// added here).
fn log(
    t: &Logged,
    op: &str,
    from: &str,
    filter: &str,
    new: Option<&str>,
    old: Option<&str>,
) -> String {
    let side = |alias: Option<&str>, expr: &str| match alias {
        Some(a) => on(expr, a),
        None => NONE.to_owned(),
    };
    let (key, version) = match (new, old) {
        (Some(n), _) => (on(&t.key_text(), n), format!("{n}.version")),
        (None, Some(o)) => (on(&t.key_text(), o), format!("{o}.version + 1")),
        (None, None) => unreachable!("a change has a side"),
    };
    let r = &t.reach;
    let joins: Vec<String> = [new, old]
        .into_iter()
        .flatten()
        .filter(|_| !r.joins.is_empty())
        .map(|a| on(r.joins, a))
        .collect();
    format!(
        "INSERT INTO change_log ({COLUMNS}) \
         SELECT (SELECT epoch FROM change_log_state), '{}', {key}, '{op}', {version}, \
         {}, {}, {}, {}, {}, {}, {}, {} FROM {from} {} {filter}",
        t.record_type,
        side(new, r.site_code),
        side(new, r.site_area),
        side(new, r.origin_area),
        side(new, r.village_area),
        side(old, r.site_code),
        side(old, r.site_area),
        side(old, r.origin_area),
        side(old, r.village_area),
        joins.join(" "),
    )
}

/// The statement that logs an upsert of each record that is now `n` without where it lies:
/// the reader places the record where it lies when read (see `placed` in the change log).
fn unplaced(t: &Logged, from: &str, filter: &str) -> String {
    format!(
        "INSERT INTO change_log (epoch, record_type, record_key, op, version, placed) \
         SELECT (SELECT epoch FROM change_log_state), '{}', {}, 'UPSERT', n.version, 0 \
         FROM {from} {filter}",
        t.record_type,
        on(&t.key_text(), "n"),
    )
}

/// The rows a household's move (site or origin village) adds for what moves with it, as one
/// statement per kind, over the household's new row `n` and old row `o` (`from` joins them).
fn moved_with_household(from: &str, moved: &str) -> Vec<String> {
    // Members, employments and homesteads of a household reach where the household does.
    let reach = |h: &str, village: &str| {
        format!("{h}.site_code, {h}s.township_code, {h}.origin_village_code, {village}")
    };
    let kinds = [
        (
            "MEMBER",
            "x.id_number",
            "members x",
            "x.household_code",
            "NULL",
        ),
        (
            "EMPLOYMENT",
            "CAST(x.id AS TEXT)",
            "employments x JOIN members xm ON xm.id_number = x.member_id_number",
            "xm.household_code",
            "NULL",
        ),
        (
            "HOMESTEAD",
            "CAST(x.id AS TEXT)",
            "homesteads x",
            "x.household_code",
            "x.village_code",
        ),
    ];
    kinds
        .iter()
        .map(|(ty, key, table, household, village)| {
            format!(
                "INSERT INTO change_log ({COLUMNS}) \
                 SELECT (SELECT epoch FROM change_log_state), '{ty}', {key}, 'UPSERT', x.version, {}, {} \
                 FROM {from} {} {} CROSS JOIN {table} WHERE {household} = n.code AND {moved}",
                reach("n", village),
                reach("o", village),
                on(SITE_JOIN, "n"),
                on(SITE_JOIN, "o"),
            )
        })
        .collect()
}

/// The rows a site's move to another township adds for what moves with it: its works, its
/// households, and their members, employments and homesteads, over the site's new row `n` and
/// old row `o` (`from` joins them).
fn moved_with_site(from: &str, moved: &str) -> Vec<String> {
    let kinds = [
        (
            "SITE_WORK",
            "x.code",
            "site_works x",
            "x.site_code",
            "NULL",
            "NULL",
        ),
        (
            "HOUSEHOLD",
            "x.code",
            "households x",
            "x.site_code",
            "x.origin_village_code",
            "NULL",
        ),
        (
            "MEMBER",
            "x.id_number",
            "households h JOIN members x ON x.household_code = h.code",
            "h.site_code",
            "h.origin_village_code",
            "NULL",
        ),
        (
            "EMPLOYMENT",
            "CAST(x.id AS TEXT)",
            "households h JOIN members xm ON xm.household_code = h.code \
             JOIN employments x ON x.member_id_number = xm.id_number",
            "h.site_code",
            "h.origin_village_code",
            "NULL",
        ),
        (
            "HOMESTEAD",
            "CAST(x.id AS TEXT)",
            "households h JOIN homesteads x ON x.household_code = h.code",
            "h.site_code",
            "h.origin_village_code",
            "x.village_code",
        ),
    ];
    kinds
        .iter()
        .map(|(ty, key, table, site, origin, village)| {
            format!(
                "INSERT INTO change_log ({COLUMNS}) \
                 SELECT (SELECT epoch FROM change_log_state), '{ty}', {key}, 'UPSERT', x.version, \
                 n.code, n.township_code, {origin}, {village}, o.code, o.township_code, {origin}, {village} \
                 FROM {from} CROSS JOIN {table} WHERE {site} = n.code AND {moved}"
            )
        })
        .collect()
}

/// The condition under which a site moved.
const SITE_MOVED: &str = "n.township_code <> o.township_code";

/// The condition under which a household moved.
const HOUSEHOLD_MOVED: &str =
    "(n.site_code <> o.site_code OR n.origin_village_code <> o.origin_village_code)";

/// The statements each event runs, as `[insert, update, delete]`, over the new rows (`n`),
/// the old rows (`o`), and both joined by key.
fn bodies(t: &Logged, log_as: Layout, new_rows: &str, old_rows: &str, both: &str) -> [String; 3] {
    let statements = |list: Vec<String>| {
        list.into_iter()
            .map(|s| format!("{s};"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut insert = Vec::new();
    let mut update = Vec::new();
    if t.moves.is_empty() || log_as == Layout::Placed {
        insert.push(log(t, "UPSERT", new_rows, "", Some("n"), None));
        update.push(log(t, "UPSERT", both, "", Some("n"), Some("o")));
    } else {
        let moved = t
            .moves
            .iter()
            .map(|c| format!("n.{c} IS DISTINCT FROM o.{c}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        insert.push(unplaced(t, new_rows, ""));
        update.push(log(
            t,
            "UPSERT",
            both,
            &format!("WHERE ({moved})"),
            Some("n"),
            Some("o"),
        ));
        update.push(unplaced(t, both, &format!("WHERE NOT ({moved})")));
    }
    if t.table == "households" {
        update.extend(moved_with_household(both, HOUSEHOLD_MOVED));
    }
    if t.table == "sites" {
        update.extend(moved_with_site(both, SITE_MOVED));
    }
    let delete = vec![log(t, "DELETE", old_rows, "", None, Some("o"))];
    [statements(insert), statements(update), statements(delete)]
}

/// PostgreSQL: one statement-level trigger per event, over the statement's transition tables.
fn postgres(t: &Logged, log_as: Layout) -> Vec<String> {
    let table = t.table;
    let key_col = t.key;
    let both = format!("new_rows n JOIN old_rows o ON o.{key_col} = n.{key_col}");
    let [insert, update, delete] = bodies(t, log_as, "new_rows n", "old_rows o", &both);
    // A statement's changed rows are a few thousand at most (an import's batch), and each
    // finds its household and site by key: the planner, left to itself, hashes the whole
    // households table for every batch instead, which costs an import of a province seconds.
    let function = |event: &str, body: String| {
        format!(
            "CREATE FUNCTION change_log_{table}_{event}() RETURNS trigger LANGUAGE plpgsql \
             SET enable_hashjoin = off SET enable_mergejoin = off AS $$ \
             BEGIN {body} RETURN NULL; END $$"
        )
    };
    let trigger = |event: &str, upper: &str, referencing: &str| {
        format!(
            "CREATE TRIGGER change_log_{table}_{event} AFTER {upper} ON {table} \
             REFERENCING {referencing} FOR EACH STATEMENT \
             EXECUTE FUNCTION change_log_{table}_{event}()"
        )
    };
    vec![
        function("insert", insert),
        trigger("insert", "INSERT", "NEW TABLE AS new_rows"),
        function("update", update),
        trigger(
            "update",
            "UPDATE",
            "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        ),
        function("delete", delete),
        trigger("delete", "DELETE", "OLD TABLE AS old_rows"),
    ]
}

/// SQLite: one row-level trigger per event; the row's sides are `NEW` and `OLD`, selected as
/// one-row tables `n` and `o` so the same statements serve both backends.
fn sqlite(t: &Logged, log_as: Layout) -> Vec<String> {
    let table = t.table;
    let one = |event: &str, upper: &str, body: String| {
        format!(
            "CREATE TRIGGER change_log_{table}_{event} AFTER {upper} ON {table} FOR EACH ROW \
             BEGIN {body} END"
        )
    };
    // The columns a trigger reads of a row, as a one-row table of the row's side.
    let columns: &[&str] = match table {
        "areas" => &["code", "version"],
        "sites" => &["code", "township_code", "version"],
        "site_works" => &["code", "site_code", "version"],
        "households" => &["code", "site_code", "origin_village_code", "version"],
        "members" => &["id_number", "household_code", "version"],
        "employments" => &["id", "member_id_number", "version"],
        "homesteads" => &["id", "household_code", "village_code", "version"],
        other => unreachable!("{other} is not logged"),
    };
    let row = |side: &str, alias: &str| {
        let picked: Vec<String> = columns
            .iter()
            .map(|c| format!("{side}.{c} AS {c}"))
            .collect();
        format!("(SELECT {}) {alias}", picked.join(", "))
    };
    let both = format!(
        "{} JOIN {} ON o.{key} = n.{key}",
        row("NEW", "n"),
        row("OLD", "o"),
        key = t.key
    );
    let [insert, update, delete] = bodies(t, log_as, &row("NEW", "n"), &row("OLD", "o"), &both);
    vec![
        one("insert", "INSERT", insert),
        one("update", "UPDATE", update),
        one("delete", "DELETE", delete),
    ]
}

/// What the triggers write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Every row placed: the log before it had a `placed` column.
    Placed,
    /// A record created or written where it lay is logged unplaced (`placed = 0`).
    Unplaced,
}

/// The statements that create every change-log trigger (and its function on PostgreSQL).
pub fn create(backend: DbBackend, log_as: Layout) -> Vec<String> {
    logged()
        .iter()
        .flat_map(|t| match backend {
            DbBackend::Postgres => postgres(t, log_as),
            _ => sqlite(t, log_as),
        })
        .collect()
}

/// The statements that place every unplaced row where its record lies now (a record since
/// deleted stays without a place: its tombstone has one).
pub fn place() -> Vec<String> {
    let columns = "site_code, site_area, origin_area, village_area";
    logged()
        .iter()
        .filter(|t| !t.moves.is_empty())
        .map(|t| {
            let r = &t.reach;
            let key = if t.numeric_key {
                "CAST(change_log.record_key AS BIGINT)"
            } else {
                "change_log.record_key"
            };
            let place = format!(
                "SELECT {}, {}, {}, {} FROM {} r {} WHERE r.{} = {key}",
                on(r.site_code, "r"),
                on(r.site_area, "r"),
                on(r.origin_area, "r"),
                on(r.village_area, "r"),
                t.table,
                on(r.joins, "r"),
                t.key,
            );
            format!(
                "UPDATE change_log SET ({columns}) = ({place}), \
                 (was_site_code, was_site_area, was_origin_area, was_village_area) = ({place}), \
                 placed = 1 WHERE placed = 0 AND record_type = '{}'",
                t.record_type
            )
        })
        .collect()
}

/// The statements that drop every change-log trigger (and its function on PostgreSQL), if
/// present.
pub fn drop(backend: DbBackend) -> Vec<String> {
    let mut statements = Vec::new();
    for t in logged() {
        let table = t.table;
        for event in ["insert", "update", "delete"] {
            if backend == DbBackend::Postgres {
                statements.push(format!(
                    "DROP TRIGGER IF EXISTS change_log_{table}_{event} ON {table}"
                ));
                statements.push(format!(
                    "DROP FUNCTION IF EXISTS change_log_{table}_{event}()"
                ));
            } else {
                statements.push(format!("DROP TRIGGER IF EXISTS change_log_{table}_{event}"));
            }
        }
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_gets_three_triggers_on_each_backend() {
        for t in logged() {
            for log_as in [Layout::Placed, Layout::Unplaced] {
                assert_eq!(sqlite(&t, log_as).len(), 3, "{}", t.table);
                assert_eq!(postgres(&t, log_as).len(), 6, "{}", t.table);
            }
        }
        assert_eq!(create(DbBackend::Sqlite, Layout::Unplaced).len(), 21);
        assert_eq!(drop(DbBackend::Postgres).len(), 42);
    }

    #[test]
    fn a_delete_counts_one_version_past_the_last() {
        let t = &logged()[3];
        let v = log(t, "DELETE", "old_rows o", "", None, Some("o"));
        assert!(v.contains("o.version + 1"), "{v}");
        assert!(v.contains("'DELETE'"), "{v}");
    }

    #[test]
    fn the_two_sides_of_an_update_join_under_their_own_names() {
        let t = &logged()[5];
        let v = log(
            t,
            "UPSERT",
            "new_rows n JOIN old_rows o ON o.id = n.id",
            "",
            Some("n"),
            Some("o"),
        );
        for alias in ["nm", "nh", "ns", "om", "oh", "os"] {
            assert!(v.contains(&format!(" {alias} ON ")), "{alias}: {v}");
        }
        assert!(!v.contains("{r}"), "{v}");
    }
}
