//! API keys for machines (the provincial big-data system).
//!
//! A key reads `anju_<id>_<secret>`. Only the SHA-256 of the secret is stored, so the database
//! never holds a usable key; the whole key is shown once, when it is created. The secret is 32
//! random bytes, so a fast hash is enough (there is nothing to guess by brute force).

use super::{AuthError, Role};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use sha2::{Digest, Sha256};

const PREFIX: &str = "anju_";

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub area_code: String,
    pub site_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Whether a bearer credential is an API key rather than a token.
pub fn looks_like_key(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn sql(backend: DbBackend, text: &str) -> String {
    if backend == DbBackend::Postgres {
        let mut out = String::new();
        let mut n = 0;
        for ch in text.chars() {
            if ch == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(ch);
            }
        }
        out
    } else {
        text.to_owned()
    }
}

/// Creates a key and returns it with the whole credential, which is shown this once.
pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    role: Role,
    area_code: &str,
    site_code: Option<&str>,
) -> Result<(ApiKey, String), DbErr> {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut id);
    rand::rng().fill_bytes(&mut secret);
    let id = hex::encode(id);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let now = Utc::now();
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "INSERT INTO api_keys (id, name, role, area_code, site_code, secret_sha256, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        ),
        [
            Value::from(id.clone()),
            Value::from(name),
            Value::from(role.as_str()),
            Value::from(area_code),
            Value::from(site_code.map(str::to_owned)),
            Value::from(digest(&secret)),
            Value::from(now),
        ],
    ))
    .await?;
    let key = ApiKey {
        id: id.clone(),
        name: name.to_owned(),
        role,
        area_code: area_code.to_owned(),
        site_code: site_code.map(str::to_owned),
        created_at: now,
        revoked_at: None,
    };
    Ok((key, format!("{PREFIX}{id}_{secret}")))
}

/// Revokes a key; `false` if there is no such key or it was already revoked.
pub async fn revoke(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let done = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            ),
            [Value::from(Utc::now()), Value::from(id)],
        ))
        .await?;
    Ok(done.rows_affected() == 1)
}

fn from_row(row: &sea_orm::QueryResult) -> Result<ApiKey, DbErr> {
    let role: String = row.try_get("", "role")?;
    Ok(ApiKey {
        id: row.try_get("", "id")?,
        name: row.try_get("", "name")?,
        role: role.parse().map_err(DbErr::Custom)?,
        area_code: row.try_get("", "area_code")?,
        site_code: row.try_get("", "site_code")?,
        created_at: row.try_get("", "created_at")?,
        revoked_at: row.try_get("", "revoked_at")?,
    })
}

const COLUMNS: &str = "id, name, role, area_code, site_code, created_at, revoked_at";

/// Every key, oldest first.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<ApiKey>, DbErr> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id"),
        ))
        .await?;
    rows.iter().map(from_row).collect()
}

/// The live key a credential names.
pub async fn verify(db: &DatabaseConnection, credential: &str) -> Result<ApiKey, AuthError> {
    let rest = credential
        .strip_prefix(PREFIX)
        .ok_or(AuthError::InvalidKey)?;
    let (id, secret) = rest.split_once('_').ok_or(AuthError::InvalidKey)?;
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                &format!("SELECT {COLUMNS}, secret_sha256 FROM api_keys WHERE id = ?"),
            ),
            [Value::from(id)],
        ))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot check an API key");
            AuthError::Unavailable
        })?
        .ok_or(AuthError::InvalidKey)?;
    let stored: String = row
        .try_get("", "secret_sha256")
        .map_err(|_| AuthError::Unavailable)?;
    let presented = digest(secret);
    // Compare digests in constant time: timing reveals nothing about the stored hash.
    let same = stored.len() == presented.len()
        && stored
            .bytes()
            .zip(presented.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(AuthError::InvalidKey);
    }
    let key = from_row(&row).map_err(|_| AuthError::Unavailable)?;
    if key.revoked_at.is_some() {
        return Err(AuthError::InvalidKey);
    }
    Ok(key)
}
