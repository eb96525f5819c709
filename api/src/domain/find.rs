//! Records by key and children by parent, as far as the caller's [`Scope`] lets them through.
//!
//! Every lookup takes the scope as a required argument and adds the scope's condition for the
//! record's kind to its statement, so a record outside the caller's reach is answered exactly
//! as one that does not exist, and no lookup can be written that forgets to ask. The loaders
//! of the GraphQL layer batch their keys into these functions.

use super::scope::Scope;
use entity::positional::{self, ByPosition};
use entity::{area, audit_log, employment, homestead, household, member, site, site_work};
use sea_orm::sea_query::postgres_array::NotU8;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::collections::{HashMap, HashSet};

/// A kind of record reached by its key.
pub trait Keyed: EntityTrait<Model: ByPosition> {
    /// The key's type.
    type Key: Clone + Eq + std::hash::Hash + Into<sea_orm::Value> + NotU8 + Send + Sync;
    /// The key's column.
    fn key_column() -> Self::Column;
    /// A record's key.
    fn key(model: &Self::Model) -> Self::Key;
    /// The records of this kind that `scope` lets through.
    fn visible(scope: &Scope) -> Condition;
}

/// A kind of record listed under a parent record (a household's members, …).
pub trait Child: Keyed {
    /// The column holding the parent's key.
    fn parent_column() -> Self::Column;
    /// A record's parent key.
    fn parent(model: &Self::Model) -> String;
}

/// The records of `E` with these keys that `scope` lets through; no statement for no keys.
pub async fn by_keys<E, C>(db: &C, scope: &Scope, keys: &[E::Key]) -> Result<Vec<E::Model>, DbErr>
where
    E: Keyed,
    C: ConnectionTrait,
{
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let select = E::find()
        .filter(crate::db::key_in(db, E::key_column(), keys))
        .filter(E::visible(scope));
    positional::all(select, db).await
}

/// The record of `E` with this key, if `scope` lets it through.
pub async fn by_key<E, C>(db: &C, scope: &Scope, key: E::Key) -> Result<Option<E::Model>, DbErr>
where
    E: Keyed,
    C: ConnectionTrait,
{
    Ok(by_keys::<E, C>(db, scope, &[key]).await?.into_iter().next())
}

/// The records of `E` under these parents that `scope` lets through.
pub async fn by_parents<E, C>(
    db: &C,
    scope: &Scope,
    parents: &[String],
) -> Result<Vec<E::Model>, DbErr>
where
    E: Child,
    C: ConnectionTrait,
{
    if parents.is_empty() {
        return Ok(Vec::new());
    }
    let select = E::find()
        .filter(crate::db::key_in(db, E::parent_column(), parents))
        .filter(E::visible(scope));
    positional::all(select, db).await
}

/// A member with the employments of theirs a scope lets through.
pub type MemberWithEmployments = (member::Model, Vec<employment::Model>);

/// The members under these households that `scope` lets through, each with their employments
/// that `scope` lets through, in one statement: the members' rows joined to their employments
/// (`LEFT JOIN`, so a member without any is read too), each model read by position.
pub async fn members_with_employments<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    households: &[String],
) -> Result<Vec<MemberWithEmployments>, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait, JoinType};
    use sea_orm::{Iterable, QueryTrait};
    if households.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = member::Entity::find()
        .filter(crate::db::key_in(
            db,
            member::Column::HouseholdCode,
            households,
        ))
        .filter(member::Entity::visible(scope))
        .into_query();
    select
        .columns(employment::Column::iter().map(|c| (employment::Entity, c)))
        .join(
            JoinType::LeftJoin,
            employment::Entity,
            Condition::all()
                .add(
                    Expr::col((employment::Entity, employment::Column::MemberIdNumber))
                        .equals((member::Entity, member::Column::IdNumber)),
                )
                .add(employment::Entity::visible(scope)),
        );
    let rows = db.query_all(&select).await?;
    let width = <member::Model as ByPosition>::COLUMNS.len();
    let mut members: Vec<MemberWithEmployments> = Vec::new();
    // A member with several employments comes in several rows: read once, by ID number.
    let mut at: HashMap<String, usize> = HashMap::new();
    for row in &rows {
        let id: String = row.try_get_by_index(0)?;
        let index = match at.get(&id) {
            Some(&index) => index,
            None => {
                members.push((member::Model::decode(row)?, Vec::new()));
                at.insert(id, members.len() - 1);
                members.len() - 1
            }
        };
        // No employment joined: its key, never null in a stored row, is.
        if row.try_get_by_index::<Option<i64>>(width)?.is_some() {
            members[index]
                .1
                .push(employment::Model::decode_from(row, width)?);
        }
    }
    Ok(members)
}

/// Those of `codes` that name areas in the scope's subtree (the names of the ancestors above it
/// are visible, but not what lies below them). Nothing hidden: every code, unread.
pub async fn areas_below<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    codes: &[String],
) -> Result<HashSet<String>, DbErr> {
    if scope.is_everything() {
        return Ok(codes.iter().cloned().collect());
    }
    if codes.is_empty() {
        return Ok(HashSet::new());
    }
    let found: Vec<String> = area::Entity::find()
        .select_only()
        .column(area::Column::Code)
        .filter(crate::db::key_in(db, area::Column::Code, codes))
        .filter(scope.areas_below())
        .into_tuple()
        .all(db)
        .await?;
    Ok(found.into_iter().collect())
}

/// The ancestors of area `code` that `scope` lets through, root first (the area excluded).
pub async fn ancestors<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    code: &str,
) -> Result<Vec<area::Model>, DbErr> {
    use entity::area_closure;
    let rows = area_closure::Entity::find()
        .filter(area_closure::Column::DescendantCode.eq(code))
        .filter(area_closure::Column::Depth.gt(0))
        .order_by_desc(area_closure::Column::Depth)
        .all(db)
        .await?;
    let codes: Vec<String> = rows.iter().map(|r| r.ancestor_code.clone()).collect();
    let mut areas = by_keys::<area::Entity, C>(db, scope, &codes).await?;
    areas.sort_by_key(|a| codes.iter().position(|c| *c == a.code));
    Ok(areas)
}

macro_rules! keyed {
    ($entity:ident, $key:ty, $column:ident, $field:ident, $visible:ident) => {
        impl Keyed for $entity::Entity {
            type Key = $key;
            fn key_column() -> $entity::Column {
                $entity::Column::$column
            }
            fn key(model: &$entity::Model) -> $key {
                model.$field.clone()
            }
            fn visible(scope: &Scope) -> Condition {
                scope.$visible()
            }
        }
    };
}

macro_rules! child {
    ($entity:ident, $column:ident, $field:ident) => {
        impl Child for $entity::Entity {
            fn parent_column() -> $entity::Column {
                $entity::Column::$column
            }
            fn parent(model: &$entity::Model) -> String {
                model.$field.clone()
            }
        }
    };
}

keyed!(area, String, Code, code, areas);
keyed!(site, String, Code, code, sites);
keyed!(site_work, String, Code, code, site_works);
keyed!(household, String, Code, code, households);
keyed!(member, String, IdNumber, id_number, members);
keyed!(employment, i64, Id, id, employments);
keyed!(homestead, i64, Id, id, homesteads);
keyed!(audit_log, i64, Id, id, audit_entries);

child!(site_work, SiteCode, site_code);
child!(member, HouseholdCode, household_code);
child!(employment, MemberIdNumber, member_id_number);
child!(homestead, HouseholdCode, household_code);
