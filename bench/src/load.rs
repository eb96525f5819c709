//! The load generator: concurrent clients over loopback, each on its own keep-alive HTTP/1.1
//! connection, recording every request's latency.

use super::sql::PageSql;
use anyhow::Context;
use hdrhistogram::Histogram;
use serde::de::IgnoredAny;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a single request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Largest latency the histograms hold, in microseconds (longer ones are clamped to it).
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// `http://127.0.0.1:PORT/graphql`
    pub url: String,
    /// The JSON request body.
    pub body: String,
    /// `Authorization` header value sent with every request.
    pub authorization: String,
    /// Writes mixed into the reads (Q5), if any.
    pub writes: Option<Writes>,
    /// Asks for executed answers, never cached ones (`Cache-Control: no-cache`).
    pub fresh: bool,
    /// Runs Q3's statements against the database instead of sending `body` to the server.
    pub sql: Option<Arc<PageSql>>,
    pub connections: usize,
    /// Sent but not counted, so that connections are open and caches are what they will be.
    pub warmup: Duration,
    /// Counted.
    pub duration: Duration,
}

/// Writes mixed into a read load: one request in `every` of a connection (connections staggered)
/// toggles the completion date of the work that connection owns (works are shared out one per connection; a connection
/// without one only reads), with a fresh idempotency key and the version its last write returned.
#[derive(Debug, Clone)]
pub struct Writes {
    pub every: u64,
    /// Code and current version of each work the writers may toggle.
    pub works: Vec<(String, i64)>,
}

/// The body of one `recordWorkCompletion` toggle.
pub(crate) fn toggle_body(code: &str, version: i64, complete: bool) -> String {
    serde_json::json!({
        "query": super::queries::WORK_COMPLETION,
        "variables": { "input": {
            "idempotencyKey": uuid::Uuid::new_v4().simple().to_string(),
            "code": code,
            "version": version,
            "completedOn": if complete { serde_json::json!("2020-06-30") } else { serde_json::Value::Null },
        } },
    })
    .to_string()
}

/// The version a `recordWorkCompletion` answer carries, or why there is none.
pub(crate) fn written_version(body: &[u8]) -> Result<i64, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let payload = &v["data"]["recordWorkCompletion"];
    payload["work"]["version"]
        .as_i64()
        .ok_or_else(|| format!("write refused: {}", payload["userErrors"]))
}

/// Latencies (µs) of a set of requests, and the time they were spread over.
#[derive(Debug)]
pub struct Sample {
    pub latencies: Histogram<u64>,
    pub elapsed: Duration,
}

impl Sample {
    /// Requests completed per second.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.latencies.len() as f64 / secs
        } else {
            0.0
        }
    }
}

/// What a load run measured.
#[derive(Debug)]
pub struct LoadResult {
    /// The requests that completed inside the measured window, over the window's length.
    pub window: Sample,
    /// Every request that completed, warm-up and drain included, over the time from the first
    /// request to the last answer.
    pub whole_run: Sample,
    /// Failed requests (transport errors, non-200 statuses, bodies with `errors`), warm-up and
    /// drain included.
    pub errors: u64,
    /// The first failure, to show what went wrong.
    pub first_error: Option<String>,
}

impl LoadResult {
    /// Every request that completed.
    pub fn completed(&self) -> u64 {
        self.whole_run.latencies.len()
    }

    /// The window's figures; or, when fewer than `at_least` requests completed inside it (a
    /// window shorter than a few requests says little), the whole run's, flagged `true`.
    pub fn representative(&self, at_least: u64) -> (&Sample, bool) {
        if self.window.latencies.len() >= at_least {
            (&self.window, false)
        } else {
            (&self.whole_run, true)
        }
    }
}

/// An empty latency histogram (µs, three significant digits).
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).context("cannot create a latency histogram")
}

/// A client that keeps one connection to the server open between requests.
pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("cannot build an HTTP client")
}

/// Sends one GraphQL request (asking for an executed answer when `fresh`); `Ok` holds the
/// response body when the status is 200 and the body has no `errors`, `Err` says what failed.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    authorization: &str,
    body: &str,
    fresh: bool,
) -> Result<impl AsRef<[u8]>, String> {
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::AUTHORIZATION, authorization);
    if fresh {
        request = request.header(reqwest::header::CACHE_CONTROL, "no-cache");
    }
    let response = request
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| transport_error(&e))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("HTTP {status}: {}", excerpt(&bytes)));
    }
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Option<IgnoredAny>,
    }
    match serde_json::from_slice::<Envelope>(&bytes) {
        Ok(Envelope { errors: None }) => Ok(bytes),
        Ok(Envelope { errors: Some(_) }) => Err(format!("GraphQL error: {}", first_error(&bytes))),
        Err(e) => Err(format!(
            "the response is not JSON ({e}): {}",
            excerpt(&bytes)
        )),
    }
}

fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())
    } else {
        format!("request failed: {e}")
    }
}

/// The first entry of a GraphQL response's `errors` (they come after `data`, which may be long).
fn first_error(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errors")?.get(0).map(|e| e.to_string()))
        .unwrap_or_else(|| excerpt(body))
}

/// The start of a body, for error messages.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(300) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.into_owned(),
    }
}

/// Runs `spec`: every connection sends its next request as soon as the last one is answered,
/// until the window closes; requests in flight then are waited for, so runs never overlap.
pub async fn drive(spec: &LoadSpec) -> anyhow::Result<LoadResult> {
    let start = Instant::now();
    let measure_from = start + spec.warmup;
    let measure_until = measure_from + spec.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for connection in 0..spec.connections.max(1) {
        let client = client()?;
        let url = spec.url.clone();
        let body = spec.body.clone();
        let authorization = spec.authorization.clone();
        let fresh = spec.fresh;
        let sql = spec.sql.clone();
        let every = spec.writes.as_ref().map_or(0, |w| w.every);
        let mut work = spec
            .writes
            .as_ref()
            .and_then(|w| w.works.get(connection).cloned());
        // Connections start their write cycles at different points, so that writes are spread
        // over the run at one in `every` requests however short it is.
        let mut sent_count: u64 = every.saturating_sub(1 + connection as u64 % every.max(1));
        let mut toggles: u64 = 0;
        let mut tally = Tally {
            window: histogram()?,
            whole_run: histogram()?,
            last_done: start,
            errors: 0,
            first_error: None,
        };
        tasks.spawn(async move {
            while Instant::now() < measure_until {
                sent_count += 1;
                let write = match &work {
                    Some((code, version)) if every > 0 && sent_count.is_multiple_of(every) => {
                        toggles += 1;
                        Some(toggle_body(code, *version, toggles % 2 == 1))
                    }
                    _ => None,
                };
                let sent = Instant::now();
                let outcome = match (&write, &sql) {
                    (Some(w), _) => send(&client, &url, &authorization, w, false)
                        .await
                        .and_then(|bytes| {
                            let version = written_version(bytes.as_ref())?;
                            if let Some((_, v)) = work.as_mut() {
                                *v = version;
                            }
                            Ok(())
                        }),
                    (None, Some(page)) => page.run().await.map(|_| ()).map_err(|e| e.to_string()),
                    (None, None) => send(&client, &url, &authorization, &body, fresh)
                        .await
                        .map(|_| ()),
                };
                let done = Instant::now();
                let micros = u64::try_from(done.duration_since(sent).as_micros())
                    .unwrap_or(MAX_LATENCY_US)
                    .max(1);
                tally.whole_run.saturating_record(micros);
                if done >= measure_from && done <= measure_until {
                    tally.window.saturating_record(micros);
                }
                tally.last_done = done;
                if let Err(e) = outcome {
                    tally.errors += 1;
                    tally.first_error.get_or_insert(e);
                }
            }
            tally
        });
    }
    let mut result = LoadResult {
        window: Sample {
            latencies: histogram()?,
            elapsed: spec.duration,
        },
        whole_run: Sample {
            latencies: histogram()?,
            elapsed: Duration::ZERO,
        },
        errors: 0,
        first_error: None,
    };
    while let Some(joined) = tasks.join_next().await {
        let tally = joined.context("a load task failed")?;
        result
            .window
            .latencies
            .add(&tally.window)
            .context("cannot merge latency histograms")?;
        result
            .whole_run
            .latencies
            .add(&tally.whole_run)
            .context("cannot merge latency histograms")?;
        result.whole_run.elapsed = result
            .whole_run
            .elapsed
            .max(tally.last_done.duration_since(start));
        result.errors += tally.errors;
        if result.first_error.is_none() {
            result.first_error = tally.first_error;
        }
    }
    Ok(result)
}

/// One connection's share of a run.
struct Tally {
    window: Histogram<u64>,
    whole_run: Histogram<u64>,
    last_done: Instant,
    errors: u64,
    first_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_long_bodies_on_a_character_boundary() {
        let body = "安".repeat(400);
        let cut = excerpt(body.as_bytes());
        assert_eq!(cut.chars().count(), 301);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt(b"{\"errors\":[]}"), "{\"errors\":[]}");
    }

    #[test]
    fn the_first_graphql_error_is_shown_whatever_the_size_of_data() {
        let body = format!(
            r#"{{"data":{{"sites":"{}"}},"errors":[{{"message":"internal error","extensions":{{"code":"INTERNAL"}}}},{{"message":"second"}}]}}"#,
            "x".repeat(1000)
        );
        let shown: serde_json::Value = serde_json::from_str(&first_error(body.as_bytes())).unwrap();
        assert_eq!(
            shown,
            serde_json::json!({ "message": "internal error", "extensions": { "code": "INTERNAL" } })
        );
        assert_eq!(first_error(b"not json"), "not json");
    }

    fn sample(latencies_ms: &[u64], elapsed_secs: u64) -> Sample {
        let mut h = histogram().unwrap();
        for ms in latencies_ms {
            h.record(ms * 1000).unwrap();
        }
        Sample {
            latencies: h,
            elapsed: Duration::from_secs(elapsed_secs),
        }
    }

    #[test]
    fn a_window_with_too_few_answers_gives_way_to_the_whole_run() {
        let result = LoadResult {
            window: sample(&[900, 1100], 2),
            whole_run: sample(&[900, 1100, 1500, 1600, 7000, 7100], 10),
            errors: 0,
            first_error: None,
        };
        assert_eq!(result.completed(), 6);
        let (chosen, whole) = result.representative(2);
        assert!(!whole);
        assert_eq!(chosen.rate(), 1.0);
        let (chosen, whole) = result.representative(4);
        assert!(whole);
        assert!((chosen.rate() - 0.6).abs() < 1e-9);
    }
}
