//! Q8: live subscribers. A thousand WebSockets (graphql-transport-ws) each subscribe to the
//! province's indicators; then, round after round, one `recordWorkCompletion` toggles a work and
//! every subscriber's next value is timed from the moment the write's response arrived (a value
//! that arrives before the response counts as 0). Rounds are spaced past the subscriptions' one
//! value a second, so none is held back by it.

use super::load;
use super::queries::SUBSCRIPTION;
use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Subscribers, one socket each.
pub const SUBSCRIBERS: usize = 1000;
/// Longest wait for every subscriber's value after a write.
const ROUND_LIMIT: Duration = Duration::from_secs(30);
/// Sockets opened at once while subscribing.
const OPENING: usize = 50;

/// What the rounds measured.
pub struct Delivered {
    /// Latencies (µs) from each write's response to each subscriber's value.
    pub latencies: Histogram<u64>,
    /// Latencies (µs) from the moment each write was sent to each subscriber's value.
    pub from_request: Histogram<u64>,
    /// Values delivered per second while a round lasted (from its write to its last value).
    pub per_second: f64,
    /// Values that never came, and sockets that failed.
    pub missed: u64,
    pub first_error: Option<String>,
}

/// Opens the subscribers, runs `rounds` writes and times the deliveries.
pub async fn drive(
    http_url: &str,
    authorization: &str,
    area: &str,
    rounds: usize,
) -> anyhow::Result<Delivered> {
    let ws_url = http_url.replacen("http://", "ws://", 1);
    let (values, mut delivered) = mpsc::unbounded_channel::<Instant>();
    let (ready, mut subscribed) = mpsc::unbounded_channel::<Result<(), String>>();
    let mut sockets = Vec::with_capacity(SUBSCRIBERS);
    for batch in 0..SUBSCRIBERS.div_ceil(OPENING) {
        let opened = (batch * OPENING..SUBSCRIBERS.min((batch + 1) * OPENING)).map(|_| {
            let (url, authorization, area) =
                (ws_url.clone(), authorization.to_owned(), area.to_owned());
            let (values, ready) = (values.clone(), ready.clone());
            tokio::spawn(subscriber(url, authorization, area, values, ready))
        });
        sockets.extend(opened);
        for _ in 0..OPENING.min(SUBSCRIBERS - batch * OPENING) {
            match tokio::time::timeout(ROUND_LIMIT, subscribed.recv()).await {
                Ok(Some(Ok(()))) => {}
                Ok(Some(Err(e))) => bail!("a subscriber failed: {e}"),
                _ => bail!("the subscribers did not all get their first value"),
            }
        }
    }
    let client = load::client()?;
    let work = work(&client, http_url, authorization).await?;
    let (mut code_version, mut complete) = ((work.0, work.1), work.2.is_none());
    let mut latencies = load::histogram()?;
    let mut from_request = load::histogram()?;
    let mut missed = 0;
    let mut first_error = None;
    let mut busy = Duration::ZERO;
    for _ in 0..rounds {
        // Past the one value a second of every subscription.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        while delivered.try_recv().is_ok() {}
        let body = load::toggle_body(&code_version.0, code_version.1, complete);
        let started = Instant::now();
        let answer = load::send(&client, http_url, authorization, &body, false).await;
        let answered = Instant::now();
        match answer
            .map_err(|e| e.to_string())
            .and_then(|bytes| load::written_version(bytes.as_ref()))
        {
            Ok(version) => code_version.1 = version,
            Err(e) => bail!("the write failed: {e}"),
        }
        complete = !complete;
        let mut last = answered;
        for _ in 0..SUBSCRIBERS {
            match tokio::time::timeout_at((answered + ROUND_LIMIT).into(), delivered.recv()).await {
                Ok(Some(at)) => {
                    let micros = at.saturating_duration_since(answered).as_micros();
                    latencies.saturating_record(u64::try_from(micros).unwrap_or(u64::MAX));
                    let micros = at.saturating_duration_since(started).as_micros();
                    from_request.saturating_record(u64::try_from(micros).unwrap_or(u64::MAX));
                    last = last.max(at);
                }
                _ => {
                    missed += 1;
                    first_error.get_or_insert_with(|| "a subscriber's value never came".to_owned());
                }
            }
        }
        busy += last.saturating_duration_since(started);
    }
    for socket in sockets {
        socket.abort();
    }
    let per_second = latencies.len() as f64 / busy.as_secs_f64().max(f64::EPSILON);
    Ok(Delivered {
        latencies,
        from_request,
        per_second,
        missed,
        first_error,
    })
}

/// The work the rounds toggle: its code, version and completion date.
async fn work(
    client: &reqwest::Client,
    url: &str,
    authorization: &str,
) -> anyhow::Result<(String, i64, Option<String>)> {
    let body = serde_json::json!({ "query":
        "{ sites(first: 1) { nodes { works(first: 1) { nodes { code version completedOn } } } } }" })
    .to_string();
    let bytes = load::send(client, url, authorization, &body, false)
        .await
        .map_err(|e| anyhow::anyhow!("cannot find a work to write: {e}"))?;
    let value: serde_json::Value = serde_json::from_slice(bytes.as_ref())?;
    let work = &value["data"]["sites"]["nodes"][0]["works"]["nodes"][0];
    Ok((
        work["code"]
            .as_str()
            .context("the data set has no work")?
            .to_owned(),
        work["version"].as_i64().context("a work without version")?,
        work["completedOn"].as_str().map(str::to_owned),
    ))
}

/// One subscriber: initialises, subscribes, reports its first value as `ready` and the arrival
/// of every later one on `values`; answers the server's pings.
async fn subscriber(
    url: String,
    authorization: String,
    area: String,
    values: mpsc::UnboundedSender<Instant>,
    ready: mpsc::UnboundedSender<Result<(), String>>,
) {
    let outcome = async {
        let mut request = url.into_client_request().map_err(|e| e.to_string())?;
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().map_err(|_| "header")?,
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| e.to_string())?;
        let init = serde_json::json!({ "type": "connection_init",
            "payload": { "authorization": authorization } });
        socket
            .send(Message::Text(init.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        let subscribe = serde_json::json!({ "type": "subscribe", "id": "1", "payload": {
            "query": SUBSCRIPTION, "variables": { "area": area } } });
        let mut first = true;
        while let Some(message) = socket.next().await {
            let text = match message.map_err(|e| e.to_string())? {
                Message::Text(text) => text,
                Message::Close(frame) => return Err(format!("closed: {frame:?}")),
                _ => continue,
            };
            let at = Instant::now();
            if text.contains(r#""type":"connection_ack""#) {
                socket
                    .send(Message::Text(subscribe.to_string().into()))
                    .await
                    .map_err(|e| e.to_string())?;
            } else if text.contains(r#""type":"ping""#) {
                let pong = Message::Text(r#"{"type":"pong"}"#.into());
                socket.send(pong).await.map_err(|e| e.to_string())?;
            } else if text.contains(r#""type":"next""#) {
                if text.contains(r#""errors""#) {
                    return Err(format!("an error: {text}"));
                }
                if first {
                    first = false;
                    let _ = ready.send(Ok(()));
                } else {
                    let _ = values.send(at);
                }
            } else {
                return Err(format!("unexpected: {text}"));
            }
        }
        Ok::<(), String>(())
    }
    .await;
    if let Err(e) = outcome {
        let _ = ready.send(Err(e));
    }
}
