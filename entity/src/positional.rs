//! Rows decoded by the position of their columns.
//!
//! A model's derived decoder finds each of its columns in a row by name, which costs a hash of
//! the name per value: on a page of a hundred households with their members and employments,
//! several thousand lookups. `Entity::find()` selects the entity's columns first and in the
//! order of its `Column` enum, which is the order of the model's fields; so a row of such a
//! select is decoded here by position instead. The order each model is decoded in is checked
//! against its `Column` enum by this module's tests.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryResult, Select};

/// A model that can be decoded from a row of its entity's `find()` by column position.
pub trait ByPosition: Sized {
    /// The model's columns, in the order they are decoded.
    const COLUMNS: &'static [&'static str];

    /// Decodes the model from the first [`Self::COLUMNS`]`.len()` columns of `row`.
    fn decode(row: &QueryResult) -> Result<Self, DbErr> {
        Self::decode_from(row, 0)
    }

    /// Decodes the model from the columns of `row` that start at position `first` (the second
    /// model of a joined row starts after the first one's columns).
    fn decode_from(row: &QueryResult, first: usize) -> Result<Self, DbErr>;
}

/// A model read by position: pass it to `Select::into_model` for a select of the model's own
/// entity (joins and filters may be added; its columns must come first, as `find()` puts them).
#[derive(Debug)]
pub struct Positional<M>(pub M);

impl<M: ByPosition> FromQueryResult for Positional<M> {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        // A prefix names the columns of one model among several in a row: the positions are
        // then not the model's own.
        if !pre.is_empty() {
            return Err(DbErr::Type(format!(
                "a model cannot be read by position from a row of several (prefix `{pre}`)"
            )));
        }
        M::decode(row).map(Positional)
    }
}

/// Runs `select`, a select of `E`'s own columns first (filters, joins and order may be added),
/// and reads every row's model by position.
pub async fn all<E, C>(select: Select<E>, db: &C) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait<Model: ByPosition>,
    C: ConnectionTrait,
{
    let rows = select.into_model::<Positional<E::Model>>().all(db).await?;
    Ok(rows.into_iter().map(|Positional(m)| m).collect())
}

macro_rules! by_position {
    ($($module:ident { $($field:ident),* $(,)? })*) => {$(
        impl ByPosition for crate::$module::Model {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn decode_from(row: &QueryResult, first: usize) -> Result<Self, DbErr> {
                let mut position = first;
                let mut next = || {
                    position += 1;
                    position - 1
                };
                // A struct expression evaluates its fields in the order written.
                Ok(Self {
                    $($field: row.try_get_by_index(next())?,)*
                })
            }
        }
    )*};
}

by_position! {
    area { code, name, level, parent_code, poverty_village, whole_village_relocation, created_at,
        updated_at, version }
    site { code, name, township_code, placement, setting, planned_households, planned_persons,
        latitude, longitude, construction_started_on, created_at, updated_at, version }
    site_work { code, site_code, category, name, completed_on, created_at, updated_at, version }
    household { code, head_name, head_id_number, phone, origin_village_code, site_code, persons,
        registered_poor, moved_in_on, poverty_exit_on, relapsed_on, created_at, updated_at,
        version }
    member { id_number, household_code, name, relation, birth_date, gender, labor_capacity,
        created_at, updated_at, version }
    employment { id, member_id_number, path, employer, location, started_on, ended_on,
        monthly_income_yuan, created_at, updated_at, version }
    homestead { id, household_code, village_code, seq, area_mu, exempt, demolished_on,
        reclaimed_on, reclaimed_use, created_at, updated_at, version }
    audit_log { id, at, actor, role, area_code, request_id, action, entity, entity_key,
        entity_keys, before, after, purpose }
}

#[cfg(test)]
mod tests {
    use super::ByPosition;
    use sea_orm::{EntityTrait, IdenStatic, Iterable};

    /// The order `find()` selects the columns of `E` in.
    fn selected<E: EntityTrait>() -> Vec<&'static str> {
        E::Column::iter().map(|c| c.as_str()).collect()
    }

    #[test]
    fn each_model_is_decoded_in_the_order_its_columns_are_selected() {
        macro_rules! check {
            ($($module:ident),*) => {$(
                assert_eq!(
                    <crate::$module::Model as ByPosition>::COLUMNS,
                    selected::<crate::$module::Entity>().as_slice(),
                    "{}",
                    stringify!($module)
                );
            )*};
        }
        check!(area, site, site_work, household, member, employment, homestead, audit_log);
    }
}
