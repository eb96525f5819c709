//! Secrets the service generates for itself and keeps in the database, so that every replica and
//! every command (`anju token`) on one database agrees on them without configuration.

use rand::RngCore;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};

/// The named secret (32 random bytes, hex), created on first use. Concurrent first uses agree:
/// the insert keeps the first value and everyone reads it back.
pub async fn get_or_create(db: &DatabaseConnection, name: &str) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    let (insert, select) = match backend {
        DbBackend::Postgres => (
            "INSERT INTO service_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            "SELECT value FROM service_secrets WHERE name = $1",
        ),
        _ => (
            "INSERT INTO service_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            "SELECT value FROM service_secrets WHERE name = ?",
        ),
    };
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        insert,
        [Value::from(name), Value::from(hex::encode(bytes))],
    ))
    .await?;
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            select,
            [Value::from(name)],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("service secret `{name}`")))?;
    row.try_get("", "value")
}
