//! Relay object identification: every record the API shows carries a global `id`, and
//! `node(id:)` / `nodes(ids:)` fetch records back by it.
//!
//! A global id is `TypeName:key`, base64url-encoded without padding. A member is keyed by its
//! resident ID number, which must not be recoverable from an id, so a member's key is sealed
//! first (see [`crate::auth::opaque`]). Ids are stable: the same record always has the same id,
//! across requests and replicas.
//!
//! `node` applies exactly the rules of every other path: a record outside the caller's scope is
//! `null`, as is an unknown or malformed id, so the three cannot be told apart.

use super::super::access::access;
use super::super::errors::GqlResult;
use super::super::loaders;
use super::area::Area;
use super::audit::AuditEntry;
use super::employment::Employment;
use super::homestead::Homestead;
use super::household::Household;
use super::member::Member;
use super::site::{ResettlementSite, SiteWork};
use crate::auth::opaque::Sealer;
use crate::auth::Role;
use crate::domain::find::{self, Keyed};
use crate::domain::scope::Scope;
use crate::error::Error;
use async_graphql::{Context, Interface, Object, Result, ID};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use entity::{area, audit_log, employment, homestead, household, member, site, site_work};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;

/// Most ids one `nodes` request may ask for.
pub const MAX_NODES: usize = 100;

/// The kinds of record that have a global id, named as in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Area,
    ResettlementSite,
    SiteWork,
    Household,
    Member,
    Employment,
    Homestead,
    AuditEntry,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Area,
        Kind::ResettlementSite,
        Kind::SiteWork,
        Kind::Household,
        Kind::Member,
        Kind::Employment,
        Kind::Homestead,
        Kind::AuditEntry,
    ];

    /// The GraphQL type name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Area => "Area",
            Kind::ResettlementSite => "ResettlementSite",
            Kind::SiteWork => "SiteWork",
            Kind::Household => "Household",
            Kind::Member => "Member",
            Kind::Employment => "Employment",
            Kind::Homestead => "Homestead",
            Kind::AuditEntry => "AuditEntry",
        }
    }

    /// Whether callers without credentials may read records of this kind (CONTRACT §4: only the
    /// names and codes of areas and sites).
    fn public(self) -> bool {
        matches!(self, Kind::Area | Kind::ResettlementSite)
    }
}

/// The global id of the record of `kind` keyed `key` (for a member, use [`member_id`]).
pub fn global_id(kind: Kind, key: &str) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{key}", kind.name())))
}

/// The global id of a member: its ID number, sealed.
pub fn member_id(ctx: &Context<'_>, id_number: &str) -> Result<ID> {
    let sealer = ctx.data::<Sealer>()?;
    Ok(global_id(Kind::Member, &sealer.seal(id_number)))
}

/// The kind and key inside a global id (a member's key opened), if this API issued it.
pub fn decode(sealer: &Sealer, id: &str) -> Option<(Kind, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
    let (name, key) = text.split_once(':')?;
    let kind = Kind::ALL.into_iter().find(|k| k.name() == name)?;
    let key = match kind {
        Kind::Member => sealer.open(key)?,
        _ => key.to_owned(),
    };
    (!key.is_empty()).then_some((kind, key))
}

/// The record number a mutation is given as `id`: the record's global id of `kind`, or (as
/// clients written before global ids send it) the bare number. Anything else matches no record.
pub fn record_number(id: &str, kind: Kind) -> i64 {
    if let Ok(n) = id.parse() {
        return n;
    }
    let key = URL_SAFE_NO_PAD
        .decode(id)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| {
            t.strip_prefix(kind.name())
                .and_then(|k| k.strip_prefix(':'))
                .map(str::to_owned)
        });
    key.and_then(|k| k.parse().ok()).unwrap_or(-1)
}

/// An object with a global identifier (Relay object identification): pass its `id` to
/// `node(id:)` to fetch it again.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Opaque, stable global identifier of the record; `node(id:)` fetches it again."
))]
pub enum Node {
    Area(Area),
    ResettlementSite(ResettlementSite),
    SiteWork(SiteWork),
    Household(Household),
    Member(Member),
    Employment(Employment),
    Homestead(Homestead),
    AuditEntry(AuditEntry),
}

/// Records fetched by number for one batch of ids: the kinds without a per-request loader.
#[derive(Default)]
struct Fetched {
    works: HashMap<String, site_work::Model>,
    employments: HashMap<String, employment::Model>,
    homesteads: HashMap<String, homestead::Model>,
    audit: HashMap<String, audit_log::Model>,
}

fn numbers(keys: &[&(Kind, String)], kind: Kind) -> Vec<i64> {
    keys.iter()
        .filter(|(k, _)| *k == kind)
        .filter_map(|(_, key)| key.parse().ok())
        .collect()
}

/// The records of `E` with these keys that `scope` lets through, by key.
async fn fetch<E: Keyed>(
    db: &DatabaseConnection,
    scope: &Scope,
    keys: Vec<E::Key>,
) -> Result<HashMap<String, E::Model>>
where
    E::Key: ToString,
{
    Ok(find::by_keys::<E, _>(db, scope, &keys)
        .await
        .gql()?
        .into_iter()
        .map(|m| (E::key(&m).to_string(), m))
        .collect())
}

impl Fetched {
    /// One statement per kind present in `keys`, each narrowed to what `scope` lets through.
    async fn load(
        db: &DatabaseConnection,
        scope: &Scope,
        keys: &[&(Kind, String)],
    ) -> Result<Self> {
        let works: Vec<String> = keys
            .iter()
            .filter(|(k, _)| *k == Kind::SiteWork)
            .map(|(_, key)| key.clone())
            .collect();
        Ok(Fetched {
            works: fetch::<site_work::Entity>(db, scope, works).await?,
            employments: fetch::<employment::Entity>(db, scope, numbers(keys, Kind::Employment))
                .await?,
            homesteads: fetch::<homestead::Entity>(db, scope, numbers(keys, Kind::Homestead))
                .await?,
            audit: fetch::<audit_log::Entity>(db, scope, numbers(keys, Kind::AuditEntry)).await?,
        })
    }
}

/// The record `key` of `kind`, if it exists and the caller may see it.
async fn resolve_one(
    ctx: &Context<'_>,
    fetched: &Fetched,
    kind: Kind,
    key: &str,
) -> Result<Option<Node>> {
    let acc = access(ctx)?;
    if !kind.public() {
        // Personal records are reused by their caller alone, the audit log never.
        if kind == Kind::AuditEntry {
            super::super::mark_uncacheable(ctx);
        } else {
            super::super::mark_personal(ctx);
        }
        if acc.principal().is_none() {
            return Ok(None);
        }
    }
    // Every lookup is narrowed to the caller's scope: a record outside it is not found.
    Ok(match kind {
        Kind::Area => loaders::one::<area::Entity>(ctx, key)
            .await?
            .map(|a| Node::Area(Area(a))),
        Kind::ResettlementSite => loaders::one::<site::Entity>(ctx, key)
            .await?
            .map(|s| Node::ResettlementSite(ResettlementSite(s))),
        Kind::SiteWork => fetched
            .works
            .get(key)
            .map(|w| Node::SiteWork(SiteWork(w.clone().into()))),
        Kind::Household => loaders::one::<household::Entity>(ctx, key)
            .await?
            .map(|h| Node::Household(Household(h))),
        Kind::Member => loaders::one::<member::Entity>(ctx, key)
            .await?
            .map(|m| Node::Member(Member(m))),
        Kind::Employment => fetched
            .employments
            .get(key)
            .map(|e| Node::Employment(Employment(e.clone().into()))),
        Kind::Homestead => fetched
            .homesteads
            .get(key)
            .map(|h| Node::Homestead(Homestead(h.clone().into()))),
        // The audit log is for admins, and an admin reads the entries of its own subtree.
        Kind::AuditEntry => match (fetched.audit.get(key), acc.principal()) {
            (Some(entry), Some(p)) if p.role == Role::Admin => {
                Some(Node::AuditEntry(AuditEntry::from(entry.clone())))
            }
            _ => None,
        },
    })
}

/// The records behind `ids`, in order; `None` for each id that is malformed, unknown or out of
/// the caller's scope.
async fn resolve(ctx: &Context<'_>, ids: &[ID]) -> Result<Vec<Option<Node>>> {
    let sealer = ctx.data::<Sealer>()?;
    let decoded: Vec<Option<(Kind, String)>> = ids.iter().map(|id| decode(sealer, id)).collect();
    resolve_keys(ctx, &decoded).await
}

/// The records of these kinds and keys, in order; `None` for each absent one and each one
/// out of the caller's scope. One statement per kind, however many keys.
pub async fn resolve_keys(
    ctx: &Context<'_>,
    records: &[Option<(Kind, String)>],
) -> Result<Vec<Option<Node>>> {
    let keys: Vec<&(Kind, String)> = records.iter().flatten().collect();
    let scope = super::super::access::scope(ctx).await?;
    let fetched = Fetched::load(ctx.data::<DatabaseConnection>()?, &scope, &keys).await?;
    // Run together, so that the loaders gather every lookup of one kind into one statement.
    let found = futures::future::join_all(records.iter().map(|d| {
        let fetched = &fetched;
        async move {
            match d {
                Some((kind, key)) => resolve_one(ctx, fetched, *kind, key).await,
                None => Ok(None),
            }
        }
    }))
    .await;
    found.into_iter().collect()
}

/// Fetching any record by its global id.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The record with this global id, or null: for an id that is malformed, unknown or outside
    /// what you may see alike.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id, as a record's `id` field gives it.")] id: ID,
    ) -> Result<Option<Node>> {
        Ok(resolve(ctx, std::slice::from_ref(&id))
            .await?
            .into_iter()
            .next()
            .flatten())
    }

    /// The records with these global ids (at most 100), in the same order; null for each id
    /// that is malformed, unknown or outside what you may see.
    #[graphql(complexity = "ids.len() * child_complexity")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids, as records' `id` fields give them; at most 100.")] ids: Vec<
            ID,
        >,
    ) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(Error::BadInput(format!(
                "`ids` holds {} ids; at most {MAX_NODES} are allowed",
                ids.len()
            )))
            .gql();
        }
        resolve(ctx, &ids).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_members_stay_sealed() {
        let sealer = Sealer::from_key(&[3u8; 32]).unwrap();
        let id = global_id(Kind::Household, "H01");
        assert_eq!(decode(&sealer, &id), Some((Kind::Household, "H01".into())));
        let member = global_id(Kind::Member, &sealer.seal("522732197503120114"));
        let plain = String::from_utf8(URL_SAFE_NO_PAD.decode(member.as_str()).unwrap()).unwrap();
        assert!(!plain.contains("522732197503120114") && !member.contains("5227321975"));
        assert_eq!(
            decode(&sealer, &member),
            Some((Kind::Member, "522732197503120114".into()))
        );
        let forged = global_id(Kind::Member, "522732197503120114");
        assert_eq!(decode(&sealer, &forged), None);
        assert_eq!(decode(&sealer, "not an id"), None);
        assert_eq!(decode(&sealer, &global_id(Kind::Area, "")), None);
    }

    #[test]
    fn mutations_take_global_ids_and_bare_numbers() {
        let id = global_id(Kind::Homestead, "42");
        assert_eq!(record_number(&id, Kind::Homestead), 42);
        assert_eq!(record_number("42", Kind::Homestead), 42);
        assert_eq!(record_number(&id, Kind::Employment), -1);
        assert_eq!(record_number("junk", Kind::Homestead), -1);
    }
}
