//! The change log (CONTRACT §5): one row per changed record, written by triggers in the
//! transaction that changes it, whatever the path (a mutation, an import, a delete).
//!
//! Each row names the record (`record_type`, `record_key`), what happened (`op`: `UPSERT` or
//! `DELETE`), the record's version after it, and where the record lies before and after the
//! change: its site (`site_code`), the site's township (`site_area`), its origin village
//! (`origin_area`; an area's own code for an area), and a homestead's village (`village_area`).
//! The `was_*` columns hold the same before the change, so a reader can tell a record that left
//! its scope. When a household moves (its site or origin village changes), its members,
//! employments and homesteads move with it, and get rows of their own; so do a site's works
//! and households (and theirs) when the site moves to another township. An area whose parent
//! changes gets its own row only: areas are the tree, and a consumer reads them whole.
//!
//! Order: on PostgreSQL each row carries its transaction's id (`tx`, `xid8`) and readers read
//! only rows of transactions older than every transaction still open
//! (`pg_snapshot_xmin(pg_current_snapshot())`), in `(epoch, tx, id)` order, so a transaction
//! that began before a reader's cursor and commits after it is never skipped. SQLite has one
//! writer at a time, so `id` alone is commit order there (`tx` stays 0). `epoch` comes from
//! `change_log_state` and is raised when the database turns out to be a restored copy.
//!
//! Where a record lies is read in the writing transaction. That is exact because writers of the
//! register do not interleave: mutations and imports take the writers' lock
//! (`db::lock_writers`) before they write, and anything else that writes these tables must
//! take it too. (Two transactions that wrote at once, one moving a household and one deleting
//! its member, could otherwise each read the other's side as it was before.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Where a record lies, as SQL expressions over a row alias `r`: its site, the site's
/// township, its origin village (an area's own code), a homestead's village.
struct Reach {
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
}

impl Logged {
    /// The record's key as text, over a row alias `r`.
    fn key_text(&self) -> String {
        if self.numeric_key {
            format!("CAST(r.{} AS TEXT)", self.key)
        } else {
            format!("r.{}", self.key)
        }
    }
}

fn logged() -> Vec<Logged> {
    let none = "NULL";
    vec![
        Logged {
            table: "areas",
            record_type: "AREA",
            key: "code",
            numeric_key: false,
            reach: Reach {
                site_code: none,
                site_area: none,
                origin_area: "r.code",
                village_area: none,
            },
        },
        Logged {
            table: "sites",
            record_type: "SITE",
            key: "code",
            numeric_key: false,
            reach: Reach {
                site_code: "r.code",
                site_area: "r.township_code",
                origin_area: none,
                village_area: none,
            },
        },
        Logged {
            table: "site_works",
            record_type: "SITE_WORK",
            key: "code",
            numeric_key: false,
            reach: Reach {
                site_code: "r.site_code",
                site_area: "(SELECT s.township_code FROM sites s WHERE s.code = r.site_code)",
                origin_area: none,
                village_area: none,
            },
        },
        Logged {
            table: "households",
            record_type: "HOUSEHOLD",
            key: "code",
            numeric_key: false,
            reach: Reach {
                site_code: "r.site_code",
                site_area: "(SELECT s.township_code FROM sites s WHERE s.code = r.site_code)",
                origin_area: "r.origin_village_code",
                village_area: none,
            },
        },
        Logged {
            table: "members",
            record_type: "MEMBER",
            key: "id_number",
            numeric_key: false,
            reach: Reach {
                site_code: "(SELECT h.site_code FROM households h WHERE h.code = r.household_code)",
                site_area: "(SELECT s.township_code FROM households h JOIN sites s ON s.code = h.site_code WHERE h.code = r.household_code)",
                origin_area: "(SELECT h.origin_village_code FROM households h WHERE h.code = r.household_code)",
                village_area: none,
            },
        },
        Logged {
            table: "employments",
            record_type: "EMPLOYMENT",
            key: "id",
            numeric_key: true,
            reach: Reach {
                site_code: "(SELECT h.site_code FROM members m JOIN households h ON h.code = m.household_code WHERE m.id_number = r.member_id_number)",
                site_area: "(SELECT s.township_code FROM members m JOIN households h ON h.code = m.household_code JOIN sites s ON s.code = h.site_code WHERE m.id_number = r.member_id_number)",
                origin_area: "(SELECT h.origin_village_code FROM members m JOIN households h ON h.code = m.household_code WHERE m.id_number = r.member_id_number)",
                village_area: none,
            },
        },
        Logged {
            table: "homesteads",
            record_type: "HOMESTEAD",
            key: "id",
            numeric_key: true,
            reach: Reach {
                site_code: "(SELECT h.site_code FROM households h WHERE h.code = r.household_code)",
                site_area: "(SELECT s.township_code FROM households h JOIN sites s ON s.code = h.site_code WHERE h.code = r.household_code)",
                origin_area: "(SELECT h.origin_village_code FROM households h WHERE h.code = r.household_code)",
                village_area: "r.village_code",
            },
        },
    ]
}

/// `expr` with the row alias `r` replaced by `alias`.
fn on(expr: &str, alias: &str) -> String {
    expr.replace("r.", &format!("{alias}."))
}

const COLUMNS: &str = "epoch, record_type, record_key, op, version, \
    site_code, site_area, origin_area, village_area, \
    was_site_code, was_site_area, was_origin_area, was_village_area";

/// The values of a change row for a record that is now `new` (absent: `None`) and was `old`.
fn values(t: &Logged, op: &str, new: Option<&str>, old: Option<&str>) -> String {
    let side = |alias: Option<&str>, expr: &str| match alias {
        Some(a) => on(expr, a),
        None => "NULL".to_owned(),
    };
    let (key, version) = match (new, old) {
        (Some(n), _) => (on(&t.key_text(), n), format!("{n}.version")),
        (None, Some(o)) => (on(&t.key_text(), o), format!("{o}.version + 1")),
        (None, None) => unreachable!("a change has a side"),
    };
    let r = &t.reach;
    format!(
        "(SELECT epoch FROM change_log_state), '{}', {key}, '{op}', {version}, {}, {}, {}, {}, {}, {}, {}, {}",
        t.record_type,
        side(new, r.site_code),
        side(new, r.site_area),
        side(new, r.origin_area),
        side(new, r.village_area),
        side(old, r.site_code),
        side(old, r.site_area),
        side(old, r.origin_area),
        side(old, r.village_area),
    )
}

/// The rows a household's move (site or origin village) adds for what moves with it, as one
/// statement per kind, over the household's new row `n` and old row `o` (`from` joins them).
fn moved_with_household(from: &str, moved: &str) -> Vec<String> {
    // Members, employments and homesteads of a household reach where the household does.
    let site_area =
        |h: &str| format!("(SELECT s.township_code FROM sites s WHERE s.code = {h}.site_code)");
    let reach = |h: &str, village: &str| {
        format!(
            "{h}.site_code, {}, {h}.origin_village_code, {village}",
            site_area(h)
        )
    };
    let kinds = [
        (
            "MEMBER",
            "x.id_number",
            "members x",
            "x.household_code",
            "NULL",
            "NULL",
        ),
        (
            "EMPLOYMENT",
            "CAST(x.id AS TEXT)",
            "employments x JOIN members xm ON xm.id_number = x.member_id_number",
            "xm.household_code",
            "NULL",
            "NULL",
        ),
        (
            "HOMESTEAD",
            "CAST(x.id AS TEXT)",
            "homesteads x",
            "x.household_code",
            "x.village_code",
            "x.village_code",
        ),
    ];
    kinds
        .iter()
        .map(|(ty, key, table, household, village_new, village_old)| {
            format!(
                "INSERT INTO change_log ({COLUMNS}) \
                 SELECT (SELECT epoch FROM change_log_state), '{ty}', {key}, 'UPSERT', x.version, {}, {} \
                 FROM {from} CROSS JOIN {table} WHERE {household} = n.code AND {moved}",
                reach("n", village_new),
                reach("o", village_old),
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

fn postgres(t: &Logged) -> Vec<String> {
    let table = t.table;
    let key_col = t.key;
    let mut update_body = vec![format!(
        "INSERT INTO change_log ({COLUMNS}) SELECT {} FROM new_rows n JOIN old_rows o ON o.{key_col} = n.{key_col};",
        values(t, "UPSERT", Some("n"), Some("o"))
    )];
    if table == "households" {
        for statement in moved_with_household(
            "new_rows n JOIN old_rows o ON o.code = n.code",
            HOUSEHOLD_MOVED,
        ) {
            update_body.push(format!("{statement};"));
        }
    }
    if table == "sites" {
        for statement in
            moved_with_site("new_rows n JOIN old_rows o ON o.code = n.code", SITE_MOVED)
        {
            update_body.push(format!("{statement};"));
        }
    }
    let function = |event: &str, body: String| {
        format!(
            "CREATE FUNCTION change_log_{table}_{event}() RETURNS trigger LANGUAGE plpgsql AS $$ \
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
        function(
            "insert",
            format!(
                "INSERT INTO change_log ({COLUMNS}) SELECT {} FROM new_rows n;",
                values(t, "UPSERT", Some("n"), None)
            ),
        ),
        trigger("insert", "INSERT", "NEW TABLE AS new_rows"),
        function("update", update_body.join(" ")),
        trigger(
            "update",
            "UPDATE",
            "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        ),
        function(
            "delete",
            format!(
                "INSERT INTO change_log ({COLUMNS}) SELECT {} FROM old_rows o;",
                values(t, "DELETE", None, Some("o"))
            ),
        ),
        trigger("delete", "DELETE", "OLD TABLE AS old_rows"),
    ]
}

fn sqlite(t: &Logged) -> Vec<String> {
    let table = t.table;
    let one = |event: &str, upper: &str, body: String| {
        format!(
            "CREATE TRIGGER change_log_{table}_{event} AFTER {upper} ON {table} FOR EACH ROW \
             BEGIN {body} END"
        )
    };
    let mut update_body = vec![format!(
        "INSERT INTO change_log ({COLUMNS}) SELECT {};",
        values(t, "UPSERT", Some("NEW"), Some("OLD"))
    )];
    if table == "households" {
        // The same statements as on PostgreSQL, over a one-row join of the row's two sides.
        for statement in moved_with_household(
            "(SELECT NEW.code AS code, NEW.site_code AS site_code, NEW.origin_village_code AS origin_village_code) n \
             JOIN (SELECT OLD.code AS code, OLD.site_code AS site_code, OLD.origin_village_code AS origin_village_code) o ON o.code = n.code",
            HOUSEHOLD_MOVED,
        ) {
            update_body.push(format!("{statement};"));
        }
    }
    if table == "sites" {
        for statement in moved_with_site(
            "(SELECT NEW.code AS code, NEW.township_code AS township_code) n \
             JOIN (SELECT OLD.code AS code, OLD.township_code AS township_code) o ON o.code = n.code",
            SITE_MOVED,
        ) {
            update_body.push(format!("{statement};"));
        }
    }
    vec![
        one(
            "insert",
            "INSERT",
            format!(
                "INSERT INTO change_log ({COLUMNS}) SELECT {};",
                values(t, "UPSERT", Some("NEW"), None)
            ),
        ),
        one("update", "UPDATE", update_body.join(" ")),
        one(
            "delete",
            "DELETE",
            format!(
                "INSERT INTO change_log ({COLUMNS}) SELECT {};",
                values(t, "DELETE", None, Some("OLD"))
            ),
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let (table, state) = match backend {
            DbBackend::Postgres => (
                "CREATE TABLE change_log ( \
                   id BIGSERIAL PRIMARY KEY, \
                   epoch INTEGER NOT NULL, \
                   tx xid8 NOT NULL DEFAULT pg_current_xact_id(), \
                   at TIMESTAMPTZ NOT NULL DEFAULT now(), \
                   record_type TEXT NOT NULL, record_key TEXT NOT NULL, op TEXT NOT NULL, \
                   version INTEGER NOT NULL, \
                   site_code TEXT, site_area TEXT, origin_area TEXT, village_area TEXT, \
                   was_site_code TEXT, was_site_area TEXT, was_origin_area TEXT, was_village_area TEXT)",
                "CREATE TABLE change_log_state ( \
                   id INTEGER PRIMARY KEY CHECK (id = 1), \
                   epoch INTEGER NOT NULL, \
                   pruned_epoch INTEGER NOT NULL DEFAULT 0, \
                   pruned_tx xid8 NOT NULL DEFAULT '0', \
                   pruned_id BIGINT NOT NULL DEFAULT 0)",
            ),
            _ => (
                "CREATE TABLE change_log ( \
                   id INTEGER PRIMARY KEY AUTOINCREMENT, \
                   epoch INTEGER NOT NULL, \
                   tx INTEGER NOT NULL DEFAULT 0, \
                   at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), \
                   record_type TEXT NOT NULL, record_key TEXT NOT NULL, op TEXT NOT NULL, \
                   version INTEGER NOT NULL, \
                   site_code TEXT, site_area TEXT, origin_area TEXT, village_area TEXT, \
                   was_site_code TEXT, was_site_area TEXT, was_origin_area TEXT, was_village_area TEXT)",
                "CREATE TABLE change_log_state ( \
                   id INTEGER PRIMARY KEY CHECK (id = 1), \
                   epoch INTEGER NOT NULL, \
                   pruned_epoch INTEGER NOT NULL DEFAULT 0, \
                   pruned_tx INTEGER NOT NULL DEFAULT 0, \
                   pruned_id INTEGER NOT NULL DEFAULT 0)",
            ),
        };
        db.execute_unprepared(table).await?;
        db.execute_unprepared(state).await?;
        db.execute_unprepared("INSERT INTO change_log_state (id, epoch) VALUES (1, 1)")
            .await?;
        db.execute_unprepared("CREATE INDEX change_log_order ON change_log (epoch, tx, id)")
            .await?;
        db.execute_unprepared("CREATE INDEX change_log_at ON change_log (at)")
            .await?;
        for t in logged() {
            let statements = match backend {
                DbBackend::Postgres => postgres(&t),
                _ => sqlite(&t),
            };
            for s in statements {
                db.execute_unprepared(&s).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        for t in logged() {
            for event in ["insert", "update", "delete"] {
                let table = t.table;
                db.execute_unprepared(&format!(
                    "DROP TRIGGER IF EXISTS change_log_{table}_{event}{}",
                    if backend == DbBackend::Postgres {
                        format!(" ON {table}")
                    } else {
                        String::new()
                    }
                ))
                .await?;
                if backend == DbBackend::Postgres {
                    db.execute_unprepared(&format!(
                        "DROP FUNCTION IF EXISTS change_log_{table}_{event}()"
                    ))
                    .await?;
                }
            }
        }
        db.execute_unprepared("DROP TABLE change_log_state").await?;
        db.execute_unprepared("DROP TABLE change_log").await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_gets_three_triggers_on_each_backend() {
        for t in logged() {
            assert_eq!(sqlite(&t).len(), 3, "{}", t.table);
            assert_eq!(postgres(&t).len(), 6, "{}", t.table);
        }
    }

    #[test]
    fn a_delete_counts_one_version_past_the_last() {
        let t = &logged()[3];
        let v = values(t, "DELETE", None, Some("o"));
        assert!(v.contains("o.version + 1"), "{v}");
        assert!(v.contains("'DELETE'"), "{v}");
    }
}
