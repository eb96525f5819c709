//! Finding commits to notify, and sending what is due.
//!
//! **The dispatcher** ([`dispatch`]) keeps one position in the change log, in
//! `webhook_dispatch`. Each round it takes the feed's head, and if changes lie past its
//! position, it gives every enabled endpoint whose key's scope sees at least one of them a
//! delivery whose `cursor` is that position; then it moves the position to the head. Moving
//! is a conditional update (`WHERE position = <the position read>`) in the transaction that
//! inserts the deliveries: of replicas racing over the same range, one commits and the others
//! update nothing and roll back, so each range is notified once.
//!
//! **Coalescing.** An endpoint that already has a notification waiting (pending, not being
//! sent at this moment) gets no second one: the consumer reads the feed from its own cursor when
//! the first arrives, and so sees every change either was for. A notification already being sent
//! is not waited for: the consumer may have read the feed before the new commit.
//!
//! **The sender** ([`send_due`]) claims due deliveries by setting a lease (`leased_until`) in
//! one conditional `UPDATE … RETURNING` (with `FOR UPDATE SKIP LOCKED` on PostgreSQL), so one
//! replica sends each attempt; a replica that dies mid-send leaves a lease that expires, and the
//! delivery is tried again. 2xx is delivered; `410 Gone` disables the endpoint; anything else,
//! a timeout or a refused target waits for the next retry of the schedule (with ±20 % jitter),
//! and failing after the last one fails the delivery and disables the endpoint.

use super::store::{delivery, is_postgres, Delivery};
use super::{now_ms, sign, store, target, Seal};
use crate::db::stmt;
use crate::domain::changes;
use crate::domain::scope::Scope;
use crate::domain::unscoped;
use crate::error::{Error, Result};
use rand::Rng;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait, Value};
use std::sync::Arc;
use std::time::Duration;

/// How long one attempt may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claim holds a delivery: well past an attempt's timeout.
const LEASE_MS: i64 = 60_000;
/// Most deliveries one replica sends at once.
const BATCH: i64 = 16;

/// How the sender behaves.
#[derive(Clone)]
pub struct Sender {
    pub seal: Arc<dyn Seal>,
    /// Waits before each retry.
    pub schedule: Vec<Duration>,
    pub allow_private: bool,
}

/// Parses a retry schedule: `5s,5m,30m,2h` (units `ms`, `s`, `m`, `h`).
pub fn parse_schedule(text: &str) -> std::result::Result<Vec<Duration>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|part| {
            let split = part
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| format!("`{part}` has no unit (ms, s, m or h)"))?;
            let (n, unit) = part.split_at(split);
            let n: u64 = n
                .parse()
                .map_err(|_| format!("`{part}` does not start with a number"))?;
            Ok(match unit {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n * 60),
                "h" => Duration::from_secs(n * 3600),
                _ => return Err(format!("`{part}`: the unit is one of ms, s, m, h")),
            })
        })
        .collect()
}

/// The thin notification for changes after `cursor`.
pub fn body(cursor: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    serde_json::json!({
        "type": "changes.available",
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": { "cursor": cursor },
    })
    .to_string()
}

/// The scope an API key reads in.
async fn key_scope<C: ConnectionTrait>(db: &C, area: &str, site: Option<String>) -> Result<Scope> {
    Ok(match site {
        Some(site) => Scope::site(area.to_owned(), site),
        None if unscoped::standing(db, area).await?.is_root() => Scope::everything(),
        None => Scope::subtree(area.to_owned()),
    })
}

/// One round of the dispatcher; answers how many deliveries it enqueued.
pub async fn dispatch(db: &DatabaseConnection) -> Result<usize> {
    let backend = db.get_database_backend();
    // Without an endpoint there is nobody to notify, and nothing is written: on PostgreSQL a
    // writing transaction, however short, holds the feed back while it is open. The position
    // then lags; the first round after an endpoint is enabled may notify it of older changes,
    // which its consumer reads past from its own cursor.
    let any = db
        .query_one_raw(stmt(
            backend,
            "SELECT 1 AS one FROM webhook_endpoints WHERE enabled = $1 LIMIT 1",
            vec![Value::from(true)],
        ))
        .await?;
    if any.is_none() {
        return Ok(0);
    }
    let position: Option<String> = db
        .query_one_raw(stmt(
            backend,
            "SELECT position FROM webhook_dispatch WHERE id = 1",
            vec![],
        ))
        .await?
        .map(|r| r.try_get("", "position"))
        .transpose()?
        .flatten();
    // Taken before the feed is read: every change before it is seen by the reads below.
    let head = changes::head(db).await?;
    let Some(position) = position else {
        // The first round: what was committed before webhooks existed is nobody's news.
        move_position(db, None, &head).await?;
        return Ok(0);
    };
    match sees_change(db, &Scope::everything(), &position, &head).await {
        Ok(false) => return Ok(0),
        Ok(true) => {}
        Err(Error::ResyncRequired(why) | Error::BadInput(why)) => {
            tracing::warn!(%why, "webhooks: the dispatcher's position is lost; notifying from now");
            move_position(db, Some(&position), &head).await?;
            return Ok(0);
        }
        Err(e) => return Err(e),
    }
    let rows = db
        .query_all_raw(stmt(
            backend,
            "SELECT e.id, k.area_code, k.site_code FROM webhook_endpoints e \
             JOIN api_keys k ON k.id = e.api_key_id \
             WHERE e.enabled = $1 AND k.revoked_at IS NULL",
            vec![Value::from(true)],
        ))
        .await?;
    let mut targets = Vec::new();
    for row in rows {
        let id: String = row.try_get("", "id")?;
        let area: String = row.try_get("", "area_code")?;
        let scope = key_scope(db, &area, row.try_get("", "site_code")?).await?;
        if sees_change(db, &scope, &position, &head).await? {
            targets.push(id);
        }
    }
    let now = now_ms();
    let body = body(&position, chrono::Utc::now());
    let txn = db.begin().await?;
    if !move_position(&txn, Some(&position), &head).await? {
        // Another replica notified this range.
        txn.rollback().await?;
        return Ok(0);
    }
    let mut enqueued = 0;
    for endpoint in targets {
        let done = txn
            .execute_raw(stmt(
                backend,
                "INSERT INTO webhook_deliveries \
                 (id, endpoint_id, body, state, attempts, created_at, next_attempt_at) \
                 SELECT $1, $2, $3, 'PENDING', 0, $4, $4 \
                 WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $2 AND enabled = $5) \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $2 \
                 AND state = 'PENDING' AND (leased_until IS NULL OR leased_until < $4))",
                vec![
                    Value::from(format!("msg_{}", uuid::Uuid::new_v4().simple())),
                    Value::from(endpoint),
                    Value::from(body.clone()),
                    Value::from(now),
                    Value::from(true),
                ],
            ))
            .await?;
        enqueued += done.rows_affected() as usize;
    }
    txn.commit().await?;
    Ok(enqueued)
}

/// Whether `scope` sees a change after `after` and up to `head`. Changes past `head` are left
/// for the next round, which starts at `head`: each change is notified in one round only.
async fn sees_change<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    after: &str,
    head: &str,
) -> Result<bool> {
    let mut after = after.to_owned();
    loop {
        let page = changes::page(db, scope, &after, 1, None).await?;
        if let Some(change) = page.changes.first() {
            return Ok(changes::is_within(&change.cursor, head).unwrap_or(false));
        }
        // A page of a narrow scope may stop at its scan bound before finding anything.
        if !page.has_more || !changes::is_within(&page.end_cursor, head).unwrap_or(false) {
            return Ok(false);
        }
        after = page.end_cursor;
    }
}

/// Moves the dispatcher from `from` to `to`; `false` if it no longer stands at `from`.
async fn move_position<C: ConnectionTrait>(db: &C, from: Option<&str>, to: &str) -> Result<bool> {
    let backend = db.get_database_backend();
    let done = match from {
        Some(from) => {
            db.execute_raw(stmt(
                backend,
                "UPDATE webhook_dispatch SET position = $1 WHERE id = 1 AND position = $2",
                vec![Value::from(to.to_owned()), Value::from(from.to_owned())],
            ))
            .await?
        }
        None => {
            db.execute_raw(stmt(
                backend,
                "UPDATE webhook_dispatch SET position = $1 WHERE id = 1 AND position IS NULL",
                vec![Value::from(to.to_owned())],
            ))
            .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

/// Claims the deliveries due now, for this replica alone, for [`LEASE_MS`].
async fn claim(db: &DatabaseConnection) -> Result<Vec<(Delivery, i64)>> {
    let backend = db.get_database_backend();
    let now = now_ms();
    let lease = now + LEASE_MS;
    let lock = if is_postgres(backend) {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let due = "state = 'PENDING' AND next_attempt_at <= $2 \
               AND (leased_until IS NULL OR leased_until < $2)";
    let sql = format!(
        "UPDATE webhook_deliveries SET leased_until = $1 WHERE {due} AND id IN \
         (SELECT id FROM webhook_deliveries WHERE {due} ORDER BY next_attempt_at LIMIT $3{lock}) \
         RETURNING id, endpoint_id, body, state, attempts, created_at, next_attempt_at, finished_at"
    );
    let rows = db
        .query_all_raw(stmt(
            backend,
            &sql,
            vec![Value::from(lease), Value::from(now), Value::from(BATCH)],
        ))
        .await?;
    Ok(rows
        .iter()
        .map(|r| delivery(r).map(|d| (d, lease)))
        .collect::<Result<_, _>>()?)
}

/// How one attempt ended.
#[derive(Debug)]
struct Outcome {
    status: Option<u16>,
    error: Option<String>,
    duration_ms: i64,
}

/// One round of the sender: claims what is due and sends it; answers how many it tried.
pub async fn send_due(db: &DatabaseConnection, sender: &Sender) -> Result<usize> {
    let claimed = claim(db).await?;
    let n = claimed.len();
    let results = futures::future::join_all(
        claimed
            .into_iter()
            .map(|(d, lease)| send_one(db, sender, d, lease)),
    )
    .await;
    for result in results {
        if let Err(e) = result {
            tracing::warn!(error = %e, "webhooks: a delivery could not be recorded");
        }
    }
    Ok(n)
}

async fn send_one(
    db: &DatabaseConnection,
    sender: &Sender,
    delivery: Delivery,
    lease: i64,
) -> Result<()> {
    let backend = db.get_database_backend();
    let endpoint = db
        .query_one_raw(stmt(
            backend,
            "SELECT url, enabled FROM webhook_endpoints WHERE id = $1",
            vec![Value::from(delivery.endpoint_id.clone())],
        ))
        .await?;
    let url = match endpoint {
        Some(row) => {
            let enabled = match row.try_get::<bool>("", "enabled") {
                Ok(b) => b,
                Err(_) => row.try_get::<i64>("", "enabled")? != 0,
            };
            enabled
                .then(|| row.try_get::<String>("", "url"))
                .transpose()?
        }
        None => None,
    };
    let Some(url) = url else {
        // The endpoint was disabled or deleted since: nothing more is sent to it.
        db.execute_raw(stmt(
            backend,
            "UPDATE webhook_deliveries SET state = 'FAILED', finished_at = $1, leased_until = NULL \
             WHERE id = $2 AND state = 'PENDING'",
            vec![Value::from(now_ms()), Value::from(delivery.id.clone())],
        ))
        .await?;
        return Ok(());
    };
    let secrets = store::signing_secrets(db, sender.seal.as_ref(), &delivery.endpoint_id).await?;
    let started = now_ms();
    let outcome = attempt(&url, &delivery, &secrets, sender.allow_private).await;
    let attempt_number = delivery.attempts + 1;
    db.execute_raw(stmt(
        backend,
        "INSERT INTO webhook_attempts (delivery_id, at, status, error, duration_ms) \
         VALUES ($1, $2, $3, $4, $5)",
        vec![
            Value::from(delivery.id.clone()),
            Value::from(started),
            Value::from(outcome.status.map(i32::from)),
            Value::from(outcome.error.clone()),
            Value::from(outcome.duration_ms),
        ],
    ))
    .await?;
    let now = now_ms();
    let finish = |state: &str| {
        stmt(
            backend,
            &format!(
                "UPDATE webhook_deliveries SET state = '{state}', attempts = $1, finished_at = $2, \
                 leased_until = NULL WHERE id = $3 AND leased_until = $4"
            ),
            vec![
                Value::from(attempt_number),
                Value::from(now),
                Value::from(delivery.id.clone()),
                Value::from(lease),
            ],
        )
    };
    match outcome.status {
        Some(status) if (200..300).contains(&status) => {
            db.execute_raw(finish("DELIVERED")).await?;
        }
        Some(410) => {
            db.execute_raw(finish("FAILED")).await?;
            store::disable(db, &delivery.endpoint_id, "the endpoint answered 410 Gone").await?;
            tracing::info!(endpoint = %delivery.endpoint_id, "webhooks: 410 Gone; endpoint disabled");
        }
        _ => match sender.schedule.get(delivery.attempts as usize) {
            Some(wait) => {
                let wait = jitter(*wait);
                db.execute_raw(stmt(
                    backend,
                    "UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = $2, \
                     leased_until = NULL WHERE id = $3 AND leased_until = $4",
                    vec![
                        Value::from(attempt_number),
                        Value::from(now + wait),
                        Value::from(delivery.id.clone()),
                        Value::from(lease),
                    ],
                ))
                .await?;
            }
            None => {
                db.execute_raw(finish("FAILED")).await?;
                store::disable(
                    db,
                    &delivery.endpoint_id,
                    "deliveries failed for the whole retry window",
                )
                .await?;
                tracing::warn!(endpoint = %delivery.endpoint_id, "webhooks: retries exhausted; endpoint disabled");
            }
        },
    }
    Ok(())
}

/// `wait` ± 20 %, in milliseconds.
fn jitter(wait: Duration) -> i64 {
    let ms = wait.as_millis() as f64;
    (ms * rand::rng().random_range(0.8..=1.2)).round() as i64
}

/// Sends one delivery to `url`, signed with `secrets`.
async fn attempt(
    url: &str,
    delivery: &Delivery,
    secrets: &[String],
    allow_private: bool,
) -> Outcome {
    let started = std::time::Instant::now();
    let elapsed = |started: std::time::Instant| started.elapsed().as_millis() as i64;
    let failed = |error: String| Outcome {
        status: None,
        error: Some(error),
        duration_ms: elapsed(started),
    };
    let checked = match target::check(url, allow_private).await {
        Ok(t) => t,
        Err(why) => return failed(format!("target refused: {why}")),
    };
    // Connect only to the addresses just checked, and follow no redirect elsewhere.
    let mut client = reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if let Some((host, addrs)) = &checked.pinned {
        client = client.resolve_to_addrs(host, addrs);
    }
    let client = match client.build() {
        Ok(c) => c,
        Err(e) => return failed(format!("no HTTP client: {e}")),
    };
    let timestamp = chrono::Utc::now().timestamp();
    let signature = sign::signature_header(secrets, &delivery.id, timestamp, &delivery.body);
    let sent = client
        .post(checked.url)
        .header("content-type", "application/json")
        .header("webhook-id", &delivery.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.body.clone())
        .send()
        .await;
    match sent {
        Ok(response) => Outcome {
            status: Some(response.status().as_u16()),
            error: None,
            duration_ms: elapsed(started),
        },
        Err(e) if e.is_timeout() => failed(format!("timed out after {}s", SEND_TIMEOUT.as_secs())),
        Err(e) => failed(format!("{e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse() {
        assert_eq!(
            parse_schedule("5s, 5m,30m,2h,100ms").unwrap(),
            vec![
                Duration::from_secs(5),
                Duration::from_secs(300),
                Duration::from_secs(1800),
                Duration::from_secs(7200),
                Duration::from_millis(100)
            ]
        );
        assert!(parse_schedule("5").is_err());
        assert!(parse_schedule("5d").is_err());
        let total: Duration = parse_schedule(crate::config::DEFAULT_WEBHOOK_RETRY_SCHEDULE)
            .unwrap()
            .into_iter()
            .sum();
        assert!(
            (60..80).contains(&(total.as_secs() / 3600)),
            "about three days"
        );
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        for _ in 0..100 {
            let j = jitter(Duration::from_secs(10));
            assert!((8000..=12000).contains(&j));
        }
    }
}
