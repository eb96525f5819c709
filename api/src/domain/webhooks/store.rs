//! Endpoints, their secrets and their deliveries, as admins manage and read them. An admin sees
//! the endpoints of the keys whose area lies in its scope.

use super::{now_ms, sign, target, Seal};
use crate::db::stmt;
use crate::domain::scope::Scope;
use crate::domain::write::UserError;
use crate::error::Result;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, TransactionTrait, Value,
};

/// How long a rotated-out secret keeps signing alongside its successor.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3600 * 1000;

/// A registered endpoint, without its secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub description: String,
    pub api_key_id: String,
    pub enabled: bool,
    /// Why it is disabled (by an admin, `410 Gone`, or deliveries failing for too long).
    pub disabled_reason: Option<String>,
    pub created_at: i64,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "PENDING",
            DeliveryState::Delivered => "DELIVERED",
            DeliveryState::Failed => "FAILED",
        }
    }

    fn parse(s: &str) -> DeliveryState {
        match s {
            "DELIVERED" => DeliveryState::Delivered,
            "FAILED" => DeliveryState::Failed,
            _ => DeliveryState::Pending,
        }
    }
}

/// One notification to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The `webhook-id`: the same on every attempt.
    pub id: String,
    pub endpoint_id: String,
    /// The body sent.
    pub body: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub finished_at: Option<i64>,
}

/// One attempt at sending a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub at: i64,
    /// The HTTP status answered, if any.
    pub status: Option<i32>,
    /// Why no status came back, or what was refused.
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What creating an endpoint answers: the endpoint, and its secret, shown this once.
#[derive(Debug, Clone)]
pub struct Created {
    pub endpoint: Endpoint,
    pub secret: String,
}

const ENDPOINT_COLUMNS: &str =
    "e.id, e.url, e.description, e.api_key_id, e.enabled, e.disabled_reason, e.created_at";

fn truthy(row: &QueryResult, column: &str) -> Result<bool, sea_orm::DbErr> {
    match row.try_get::<bool>("", column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64>("", column)? != 0),
    }
}

fn endpoint(row: &QueryResult) -> Result<Endpoint, sea_orm::DbErr> {
    Ok(Endpoint {
        id: row.try_get("", "id")?,
        url: row.try_get("", "url")?,
        description: row.try_get("", "description")?,
        api_key_id: row.try_get("", "api_key_id")?,
        enabled: truthy(row, "enabled")?,
        disabled_reason: row.try_get("", "disabled_reason")?,
        created_at: row.try_get("", "created_at")?,
    })
}

/// SQL over the key alias `k` that admits the keys of `scope`'s areas.
fn keys_within(scope: &Scope, args: &mut Vec<Value>) -> String {
    match scope.area() {
        None => "TRUE".into(),
        Some(area) => {
            args.push(Value::from(area.to_owned()));
            format!(
                "k.area_code IN (SELECT descendant_code FROM area_closure WHERE ancestor_code = ${})",
                args.len()
            )
        }
    }
}

/// The endpoints `scope` sees, oldest first; or the one with `id`.
pub async fn endpoints<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    id: Option<&str>,
) -> Result<Vec<Endpoint>> {
    let mut args = Vec::new();
    let within = keys_within(scope, &mut args);
    let one = match id {
        Some(id) => {
            args.push(Value::from(id.to_owned()));
            format!(" AND e.id = ${}", args.len())
        }
        None => String::new(),
    };
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e JOIN api_keys k ON k.id = e.api_key_id \
         WHERE {within}{one} ORDER BY e.created_at, e.id"
    );
    let rows = db
        .query_all_raw(stmt(db.get_database_backend(), &sql, args))
        .await?;
    Ok(rows.iter().map(endpoint).collect::<Result<_, _>>()?)
}

/// Registers an endpoint for integration key `api_key_id` (which `scope` must see), with a
/// fresh secret.
pub async fn create(
    db: &DatabaseConnection,
    scope: &Scope,
    seal: &dyn Seal,
    url: &str,
    api_key_id: &str,
    description: &str,
    allow_private: bool,
) -> Result<std::result::Result<Created, UserError>> {
    if let Err(why) = target::check(url, allow_private).await {
        return Ok(Err(UserError::bad_input(
            &["url"],
            format!("the URL `{url}` may not receive webhooks: {why}"),
        )));
    }
    let backend = db.get_database_backend();
    let mut args = vec![Value::from(api_key_id.to_owned())];
    let within = keys_within(scope, &mut args);
    let key = db
        .query_one_raw(stmt(
            backend,
            &format!(
                "SELECT k.role FROM api_keys k WHERE k.id = $1 AND k.revoked_at IS NULL AND {within}"
            ),
            args,
        ))
        .await?;
    let Some(key) = key else {
        return Ok(Err(UserError::not_found(
            &["apiKeyId"],
            "API key",
            api_key_id,
        )));
    };
    let role: String = key.try_get("", "role")?;
    if role != "integration" {
        return Ok(Err(UserError::bad_input(
            &["apiKeyId"],
            format!("the API key `{api_key_id}` has the role `{role}`: webhooks are for integration keys"),
        )));
    }
    let id = format!("ep_{}", uuid::Uuid::new_v4().simple());
    let secret = sign::new_secret();
    let now = now_ms();
    let txn = db.begin().await?;
    txn.execute_raw(stmt(
        backend,
        "INSERT INTO webhook_endpoints (id, url, description, api_key_id, enabled, disabled_reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, NULL, $6)",
        vec![
            Value::from(id.clone()),
            Value::from(url.to_owned()),
            Value::from(description.to_owned()),
            Value::from(api_key_id.to_owned()),
            Value::from(true),
            Value::from(now),
        ],
    ))
    .await?;
    add_secret(&txn, seal, &id, &secret, now).await?;
    txn.commit().await?;
    Ok(Ok(Created {
        endpoint: Endpoint {
            id,
            url: url.to_owned(),
            description: description.to_owned(),
            api_key_id: api_key_id.to_owned(),
            enabled: true,
            disabled_reason: None,
            created_at: now,
        },
        secret,
    }))
}

async fn add_secret<C: ConnectionTrait>(
    db: &C,
    seal: &dyn Seal,
    endpoint_id: &str,
    secret: &str,
    now: i64,
) -> Result<()> {
    db.execute_raw(stmt(
        db.get_database_backend(),
        "INSERT INTO webhook_secrets (endpoint_id, sealed, created_at, expires_at) VALUES ($1, $2, $3, NULL)",
        vec![
            Value::from(endpoint_id.to_owned()),
            Value::from(seal.seal(secret)),
            Value::from(now),
        ],
    ))
    .await?;
    Ok(())
}

/// The endpoint `scope` sees, or a user error naming `id`.
async fn visible<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    id: &str,
) -> Result<std::result::Result<Endpoint, UserError>> {
    Ok(endpoints(db, scope, Some(id))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| UserError::not_found(&["id"], "webhook endpoint", id)))
}

/// Adds a new secret to an endpoint and answers it (shown this once); the secrets it had sign
/// alongside for [`ROTATION_OVERLAP_MS`] more.
pub async fn rotate(
    db: &DatabaseConnection,
    scope: &Scope,
    seal: &dyn Seal,
    id: &str,
) -> Result<std::result::Result<Created, UserError>> {
    let endpoint = match visible(db, scope, id).await? {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    let secret = sign::new_secret();
    let now = now_ms();
    let txn = db.begin().await?;
    txn.execute_raw(stmt(
        db.get_database_backend(),
        "UPDATE webhook_secrets SET expires_at = $1 WHERE endpoint_id = $2 AND expires_at IS NULL",
        vec![
            Value::from(now + ROTATION_OVERLAP_MS),
            Value::from(id.to_owned()),
        ],
    ))
    .await?;
    add_secret(&txn, seal, id, &secret, now).await?;
    txn.commit().await?;
    Ok(Ok(Created { endpoint, secret }))
}

/// The secrets that sign for an endpoint now, newest first.
pub async fn signing_secrets<C: ConnectionTrait>(
    db: &C,
    seal: &dyn Seal,
    endpoint_id: &str,
) -> Result<Vec<String>> {
    let rows = db
        .query_all_raw(stmt(
            db.get_database_backend(),
            "SELECT sealed FROM webhook_secrets WHERE endpoint_id = $1 \
             AND (expires_at IS NULL OR expires_at > $2) ORDER BY id DESC",
            vec![Value::from(endpoint_id.to_owned()), Value::from(now_ms())],
        ))
        .await?;
    let mut out = Vec::new();
    for row in rows {
        let sealed: String = row.try_get("", "sealed")?;
        match seal.open(&sealed) {
            Some(secret) => out.push(secret),
            None => tracing::error!(endpoint_id, "a webhook secret does not open"),
        }
    }
    Ok(out)
}

/// Enables or disables an endpoint. Disabling drops its pending deliveries (as failed).
pub async fn set_enabled(
    db: &DatabaseConnection,
    scope: &Scope,
    id: &str,
    enabled: bool,
) -> Result<std::result::Result<Endpoint, UserError>> {
    if let Err(e) = visible(db, scope, id).await? {
        return Ok(Err(e));
    }
    if enabled {
        db.execute_raw(stmt(
            db.get_database_backend(),
            "UPDATE webhook_endpoints SET enabled = $1, disabled_reason = NULL WHERE id = $2",
            vec![Value::from(true), Value::from(id.to_owned())],
        ))
        .await?;
    } else {
        disable(db, id, "disabled by an admin").await?;
    }
    visible(db, scope, id).await
}

/// Disables an endpoint for `reason`, and fails its pending deliveries.
pub async fn disable(db: &DatabaseConnection, id: &str, reason: &str) -> Result<()> {
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    txn.execute_raw(stmt(
        backend,
        "UPDATE webhook_endpoints SET enabled = $1, disabled_reason = $2 WHERE id = $3",
        vec![
            Value::from(false),
            Value::from(reason.to_owned()),
            Value::from(id.to_owned()),
        ],
    ))
    .await?;
    txn.execute_raw(stmt(
        backend,
        "UPDATE webhook_deliveries SET state = 'FAILED', finished_at = $1, leased_until = NULL \
         WHERE endpoint_id = $2 AND state = 'PENDING'",
        vec![Value::from(now_ms()), Value::from(id.to_owned())],
    ))
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Deletes an endpoint with its secrets, deliveries and attempts; answers what it was.
pub async fn delete(
    db: &DatabaseConnection,
    scope: &Scope,
    id: &str,
) -> Result<std::result::Result<Endpoint, UserError>> {
    let endpoint = match visible(db, scope, id).await? {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    for sql in [
        "DELETE FROM webhook_attempts WHERE delivery_id IN \
         (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)",
        "DELETE FROM webhook_deliveries WHERE endpoint_id = $1",
        "DELETE FROM webhook_secrets WHERE endpoint_id = $1",
        "DELETE FROM webhook_endpoints WHERE id = $1",
    ] {
        txn.execute_raw(stmt(backend, sql, vec![Value::from(id.to_owned())]))
            .await?;
    }
    txn.commit().await?;
    Ok(Ok(endpoint))
}

const DELIVERY_COLUMNS: &str =
    "id, endpoint_id, body, state, attempts, created_at, next_attempt_at, finished_at";

pub(super) fn delivery(row: &QueryResult) -> Result<Delivery, sea_orm::DbErr> {
    let state: String = row.try_get("", "state")?;
    Ok(Delivery {
        id: row.try_get("", "id")?,
        endpoint_id: row.try_get("", "endpoint_id")?,
        body: row.try_get("", "body")?,
        state: DeliveryState::parse(&state),
        attempts: row.try_get("", "attempts")?,
        created_at: row.try_get("", "created_at")?,
        next_attempt_at: row.try_get("", "next_attempt_at")?,
        finished_at: row.try_get("", "finished_at")?,
    })
}

/// An endpoint's most recent deliveries, newest first.
pub async fn deliveries<C: ConnectionTrait>(
    db: &C,
    endpoint_id: &str,
    first: u32,
) -> Result<Vec<Delivery>> {
    let rows = db
        .query_all_raw(stmt(
            db.get_database_backend(),
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 \
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            ),
            vec![
                Value::from(endpoint_id.to_owned()),
                Value::from(i64::from(first)),
            ],
        ))
        .await?;
    Ok(rows.iter().map(delivery).collect::<Result<_, _>>()?)
}

/// A delivery's attempts, oldest first.
pub async fn attempts<C: ConnectionTrait>(db: &C, delivery_id: &str) -> Result<Vec<Attempt>> {
    let rows = db
        .query_all_raw(stmt(
            db.get_database_backend(),
            "SELECT at, status, error, duration_ms FROM webhook_attempts WHERE delivery_id = $1 \
             ORDER BY at, id",
            vec![Value::from(delivery_id.to_owned())],
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(Attempt {
            at: row.try_get("", "at")?,
            status: row.try_get("", "status")?,
            error: row.try_get("", "error")?,
            duration_ms: row.try_get("", "duration_ms")?,
        });
    }
    Ok(out)
}

/// Whether `backend` answers booleans as such (SQLite stores them as integers).
pub(super) fn is_postgres(backend: DbBackend) -> bool {
    backend == DbBackend::Postgres
}
