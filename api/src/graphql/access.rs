//! The access rules as resolvers use them: which record may be shown, how lists are narrowed,
//! and when personal data is shown whole (and audited) or masked.
//!
//! What the caller may see is the request's [`crate::domain::scope::Scope`], which every finder
//! and loader applies in SQL; this module holds what is decided per field: roles, the
//! anonymous caller's public fields, and masking.

use super::errors::{coded, refusal, GqlResult};
use crate::auth::audit::ReadAudit;
use crate::auth::scope::Access;
use crate::auth::{Principal, Role};
use crate::error::{Code, Error};
use async_graphql::extensions::{ExtensionContext, NextResolve, ResolveInfo};
use async_graphql::{Context, ErrorExtensions, PathSegment, QueryPathSegment, ServerResult, Value};
use std::sync::Arc;

/// The request's access.
pub fn access<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Access> {
    Ok(ctx.data::<Arc<Access>>()?)
}

/// What the caller may see.
pub async fn scope(ctx: &Context<'_>) -> async_graphql::Result<crate::domain::scope::Scope> {
    access(ctx)?.scope().await.gql()
}

/// `FORBIDDEN` unless the caller holds one of `roles`.
pub fn require_role<'a>(
    ctx: &Context<'a>,
    roles: &[Role],
    what: &str,
) -> async_graphql::Result<&'a Principal> {
    match access(ctx)?.principal() {
        Some(p) if roles.contains(&p.role) => Ok(p),
        Some(p) => Err(forbidden(format!("the role `{}` may not {what}", p.role))),
        None => Err(unauthenticated(format!(
            "credentials are required to {what}"
        ))),
    }
}

/// An error with code `FORBIDDEN`.
pub fn forbidden(message: String) -> async_graphql::Error {
    coded(message, Code::Forbidden)
}

/// An error with code `UNAUTHENTICATED`.
pub fn unauthenticated(message: String) -> async_graphql::Error {
    coded(message, Code::Unauthenticated)
}

/// `NOT_FOUND`, as for a record that does not exist.
pub fn not_found(what: &'static str, key: &str) -> async_graphql::Error {
    Error::not_found(what, key).extend()
}

/// How one personal value is masked.
#[derive(Debug, Clone, Copy)]
pub enum Personal {
    IdNumber,
    Phone,
    Name,
}

/// A personal value of record `entity` `key`: whole (and the read audited) for a principal
/// granted personal data, masked for everyone else.
pub fn reveal(
    ctx: &Context<'_>,
    entity: &'static str,
    key: &str,
    raw: &str,
    kind: Personal,
) -> String {
    if sees_personal(ctx, entity, key) {
        return raw.to_owned();
    }
    use crate::auth::mask;
    match kind {
        Personal::IdNumber => mask::id_number(raw),
        Personal::Phone => mask::phone(raw),
        Personal::Name => mask::name(raw),
    }
}

/// Whether the caller sees record `entity` `key` unmasked; if so, the read is noted for the
/// audit log.
pub fn sees_personal(ctx: &Context<'_>, entity: &'static str, key: &str) -> bool {
    let pii = ctx
        .data_opt::<Arc<Access>>()
        .and_then(|a| a.principal())
        .is_some_and(|p| p.pii);
    if pii {
        match ctx.data_opt::<Arc<ReadAudit>>() {
            Some(audit) => audit.note(entity, key),
            // Without an audit trail to write to, nothing is shown unmasked.
            None => return false,
        }
    }
    pii
}

/// The fields served without credentials, by parent type.
fn public_field(parent: &str, field: &str) -> bool {
    // A list's items are checked field by field; the list itself is its parent field's.
    if parent.starts_with("__") || field.starts_with("__") || parent.starts_with('[') {
        return true;
    }
    match parent {
        "Query" => matches!(
            field,
            "indicators"
                | "indicatorSeries"
                | "area"
                | "areas"
                | "site"
                | "sites"
                | "node"
                | "nodes"
        ),
        "Subscription" => field == "indicatorsChanged",
        // `node` serves an anonymous caller areas and sites only (see `graphql::types::node`).
        "Node" => field == "id",
        "Area" => matches!(
            field,
            "id" | "code"
                | "name"
                | "level"
                | "parentCode"
                | "parent"
                | "ancestors"
                | "children"
                | "sites"
                | "indicators"
        ),
        "ResettlementSite" => matches!(
            field,
            "id" | "code" | "name" | "townshipCode" | "township" | "indicators"
        ),
        "IndicatorSet"
        | "Ratio"
        | "CategoryRatio"
        | "PathCount"
        | "PageInfo"
        | "AreaConnection"
        | "AreaEdge"
        | "ResettlementSiteConnection"
        | "ResettlementSiteEdge" => true,
        _ => false,
    }
}

/// Refuses, before the resolver runs, every field an anonymous caller may not read: without
/// credentials only indicators and the names and codes of areas and sites are served. Run
/// around every field by [`super::rules::Rules`].
pub async fn gate(
    ctx: &ExtensionContext<'_>,
    info: ResolveInfo<'_>,
    next: NextResolve<'_>,
) -> ServerResult<Option<Value>> {
    let anonymous = ctx
        .data_opt::<Arc<Access>>()
        .is_none_or(|a| a.principal().is_none());
    if anonymous && !public_field(info.parent_type, info.name) {
        let mut err = refusal(
            format!(
                "credentials are required to read `{}.{}`",
                info.parent_type, info.name
            ),
            Code::Unauthenticated,
        );
        let mut path: Vec<PathSegment> = std::iter::once(info.path_node)
            .chain(info.path_node.parents())
            .map(|node| match node.segment {
                QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
                QueryPathSegment::Index(i) => PathSegment::Index(i),
            })
            .collect();
        path.reverse();
        err.path = path;
        return Err(err);
    }
    next.run(ctx, info).await
}
