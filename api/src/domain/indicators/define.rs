//! The indicators' definitions (CONTRACT §2), written once as SQL predicates over one row of a
//! register table. The aggregate that computes a figure ([`super::query`]) and the drill-down
//! that lists the records behind it (`domain::drilldown`) are both built from these functions,
//! so what is counted and what is listed cannot drift apart.
//!
//! Each predicate takes the name (or alias) of the table whose row it tests, and refers to the
//! date with [`AS_OF`] and to the target's code with [`SCOPE`]. Subqueries use aliases of their
//! own (`dw`, `dm`, `de`, `dh`), which no caller uses for its outer tables.

use entity::enums::{LaborCapacity, WorkCategory};

use super::Target;

/// Named placeholder of the date the figure is taken on. Neither name is a prefix of another.
pub const AS_OF: &str = ":as_of";
/// Named placeholder of the target's code.
pub const SCOPE: &str = ":scope";

/// Work `w` is completed by `asOf`.
pub fn work_done(w: &str) -> String {
    format!("{w}.completed_on <= {AS_OF}")
}

/// Work `w` is not completed by `asOf` (no completion date, or a later one).
pub fn work_unfinished(w: &str) -> String {
    format!("({w}.completed_on IS NULL OR {w}.completed_on > {AS_OF})")
}

/// Site `s` has at least one `main` work (the denominator of constructionCompletion).
pub fn site_has_main_works(s: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM site_works dw WHERE dw.site_code = {s}.code AND dw.category = '{main}')",
        main = WorkCategory::Main.code()
    )
}

/// Site `s` has no `main` work left unfinished on `asOf` (with [`site_has_main_works`]: the
/// numerator of constructionCompletion).
pub fn site_main_works_done(s: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM site_works dw WHERE dw.site_code = {s}.code \
         AND dw.category = '{main}' AND {unfinished})",
        main = WorkCategory::Main.code(),
        unfinished = work_unfinished("dw"),
    )
}

/// Household `h` moved in by `asOf`.
pub fn moved_in(h: &str) -> String {
    format!("{h}.moved_in_on <= {AS_OF}")
}

/// Household `h` is registered poor (建档立卡).
pub fn registered_poor(h: &str) -> String {
    format!("{h}.registered_poor")
}

/// Household `h` is registered poor, out of poverty by `asOf` and not fallen back by then.
pub fn stably_exited(h: &str) -> String {
    format!(
        "{poor} AND {h}.poverty_exit_on <= {AS_OF} AND ({h}.relapsed_on IS NULL OR {h}.relapsed_on > {AS_OF})",
        poor = registered_poor(h)
    )
}

/// Household `h` is registered poor and fell back into poverty by `asOf`.
pub fn relapsed(h: &str) -> String {
    format!(
        "{poor} AND {h}.relapsed_on <= {AS_OF}",
        poor = registered_poor(h)
    )
}

/// Member `m` is a laborer (labour capacity full or partial).
pub fn laborer(m: &str) -> String {
    format!(
        "{m}.labor_capacity IN ('{full}', '{partial}')",
        full = LaborCapacity::Full.code(),
        partial = LaborCapacity::Partial.code()
    )
}

/// Employment `e` is active on `asOf` (started, and not ended before it).
pub fn active(e: &str) -> String {
    format!("{e}.started_on <= {AS_OF} AND ({e}.ended_on IS NULL OR {e}.ended_on >= {AS_OF})")
}

/// Member `m` has an employment active on `asOf`.
pub fn employed(m: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM employments de WHERE de.member_id_number = {m}.id_number AND {active})",
        active = active("de")
    )
}

/// Household `h` has at least one laborer.
pub fn has_laborer(h: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM members dm WHERE dm.household_code = {h}.code AND {laborer})",
        laborer = laborer("dm")
    )
}

/// At least one of household `h`'s laborers is employed on `asOf`.
pub fn laborer_employed(h: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM members dm JOIN employments de ON de.member_id_number = dm.id_number \
         WHERE dm.household_code = {h}.code AND {laborer} AND {active})",
        laborer = laborer("dm"),
        active = active("de")
    )
}

/// Homestead `hs` is not legally kept.
pub fn not_exempt(hs: &str) -> String {
    format!("NOT {hs}.exempt")
}

/// Homestead `hs` was demolished by `asOf`.
pub fn demolished(hs: &str) -> String {
    format!("{hs}.demolished_on <= {AS_OF}")
}

/// Homestead `hs` was reclaimed by `asOf`.
pub fn reclaimed(hs: &str) -> String {
    format!("{hs}.reclaimed_on <= {AS_OF}")
}

/// `site_code` names a site located in the target: a site of a township in the area's subtree,
/// or the target site itself (the site side of CONTRACT §2).
pub fn site_in_target(target: &Target, site_code: &str) -> String {
    match target {
        Target::Area(_) => format!(
            "{site_code} IN (SELECT s.code FROM sites s \
             JOIN area_closure sc ON sc.descendant_code = s.township_code WHERE sc.ancestor_code = {SCOPE})"
        ),
        Target::Site(_) => format!("{site_code} = {SCOPE}"),
    }
}

/// `household_code` names a household registered to a site in the target.
pub fn household_in_target(target: &Target, household_code: &str) -> String {
    format!(
        "{household_code} IN (SELECT dh.code FROM households dh WHERE {sites})",
        sites = site_in_target(target, "dh.site_code")
    )
}

/// Homestead `hs` lies on the target's origin side: in a village of the area's subtree, or
/// (for a site) it belongs to one of the site's households.
pub fn homestead_in_target(target: &Target, hs: &str) -> String {
    match target {
        Target::Area(_) => format!(
            "{hs}.village_code IN (SELECT oc.descendant_code FROM area_closure oc WHERE oc.ancestor_code = {SCOPE})"
        ),
        Target::Site(_) => format!(
            "{hs}.household_code IN (SELECT oh.code FROM households oh WHERE oh.site_code = {SCOPE})"
        ),
    }
}

/// `1` when `predicate` holds, `0` when it fails or is unknown (a missing date): the form both
/// the counting `CASE` and the listing's complement use, so a NULL never falls between them.
pub fn holds(predicate: &str) -> String {
    format!("(CASE WHEN {predicate} THEN 1 ELSE 0 END)")
}

/// `sql` with the target's code written in as a literal instead of [`SCOPE`]: for a list of a
/// target's records. PostgreSQL soon plans a prepared statement once for any value, and a plan
/// made without the code guesses a target of a few rows: for the province it then walks every
/// household of it to find a page of 100, where knowing the code it walks the page's keys.
/// (The code is an existing area's or site's, checked before; quotes are doubled anyway.)
pub fn with_target_literal(sql: &str, target: &Target) -> String {
    sql.replace(SCOPE, &format!("'{}'", target.code().replace('\'', "''")))
}

/// `sql` as a query-builder expression, its named placeholders bound to `params`: each
/// occurrence becomes the backend's placeholder in turn (`$1, $2, …` or `?`), with its value.
pub fn bind(
    backend: sea_orm::DbBackend,
    sql: &str,
    params: &[(&str, sea_orm::Value)],
) -> sea_orm::sea_query::Expr {
    let mut out = String::with_capacity(sql.len());
    let mut values = Vec::new();
    let mut rest = sql;
    loop {
        let next = params
            .iter()
            .filter_map(|(name, value)| rest.find(name).map(|at| (at, *name, value)))
            .min_by_key(|(at, _, _)| *at);
        let Some((at, name, value)) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..at]);
        values.push(value.clone());
        match backend {
            sea_orm::DbBackend::Postgres => out.push_str(&format!("${}", values.len())),
            _ => out.push('?'),
        }
        rest = &rest[at + name.len()..];
    }
    sea_orm::sea_query::Expr::cust_with_values(out, values)
}
