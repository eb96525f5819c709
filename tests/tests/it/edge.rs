//! The HTTP edge under stress: shutdown while clients keep their connections busy, clients that
//! never finish a request, and more connections than the server allows.

use crate::support::TestDb;
use anju::config::ServeConfig;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server built from `config` over a fresh database, run until the returned sender fires.
async fn start(
    config: ServeConfig,
) -> (
    TestDb,
    u16,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let db = TestDb::new().await;
    let app = anju::startup::Application::build(db.config.clone(), config)
        .await
        .unwrap();
    let port = app.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    (db, port, stop, server)
}

/// Reads one HTTP/1.1 response (status and lower-cased head) from `stream`, its body by
/// `Content-Length`; `None` when the connection ends first.
async fn read_response(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status = head.split(' ').nth(1)?.parse().ok()?;
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some((status, head));
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// How long until the server closes `stream` (reading and discarding whatever it sends), or
/// `None` when it is still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut chunk = [0u8; 4096];
    let drained = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    drained.ok().map(|()| started.elapsed())
}

const TYPENAME: &str = r#"{"query":"{ __typename }"}"#;

/// The head of a `POST /graphql` whose body is `length` bytes long.
fn post_head(length: usize) -> String {
    format!(
        "POST /graphql HTTP/1.1\r\nHost: anju\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    )
}

/// What one client request during the shutdown test came to.
struct Outcome {
    sent: Instant,
    /// The `Connection` header of the answer, or the error.
    result: Result<(u16, Option<String>), reqwest::Error>,
}

#[tokio::test]
async fn shutdown_moves_clients_off_their_connections_and_resets_no_request() {
    let grace = Duration::from_millis(1500);
    let (_db, port, stop, server) = start(ServeConfig {
        shutdown_grace_ms: grace.as_millis() as u64,
        ..ServeConfig::ephemeral()
    })
    .await;
    let base = format!("http://127.0.0.1:{port}");

    // A keep-alive connection that made one request, then stays idle.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    idle.write_all(b"GET /livez HTTP/1.1\r\nHost: anju\r\n\r\n")
        .await
        .unwrap();
    let (status, head) = read_response(&mut idle).await.unwrap();
    assert_eq!(status, 200);
    assert!(!head.contains("connection: close"), "{head}");
    // A request in flight across the whole shutdown: half its body now, the rest after the
    // grace period.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    slow.write_all(post_head(TYPENAME.len()).as_bytes())
        .await
        .unwrap();
    slow.write_all(&TYPENAME.as_bytes()[..10]).await.unwrap();

    // Clients that keep their connections busy, before, during and after the grace period,
    // until the server is gone.
    let done = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (base, done) = (base.clone(), done.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut outcomes = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let result = client
                    .post(format!("{base}/graphql"))
                    .json(&json!({ "query": "{ __typename }" }))
                    .send()
                    .await
                    .map(|r| {
                        let connection = r
                            .headers()
                            .get("connection")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_ascii_lowercase);
                        (r.status().as_u16(), connection)
                    });
                let refused = result.as_ref().is_err_and(|e| e.is_connect());
                outcomes.push(Outcome { sent, result });
                if refused {
                    // The server has stopped accepting: it is gone for this client.
                    break;
                }
            }
            outcomes
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let t0 = Instant::now();
    stop.send(()).unwrap();
    // The idle connection is closed by the end of the grace period, not left to be reset.
    let idle_closed = closed_within(&mut idle, grace + Duration::from_secs(2)).await;
    tokio::time::sleep(
        (t0 + grace + Duration::from_millis(300)).saturating_duration_since(Instant::now()),
    )
    .await;
    slow.write_all(&TYPENAME.as_bytes()[10..]).await.unwrap();
    let slow_answer = read_response(&mut slow).await;
    let finished = tokio::time::timeout(Duration::from_secs(10), server).await;
    done.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for c in clients {
        outcomes.extend(c.await.unwrap());
    }

    assert!(
        idle_closed.is_some(),
        "an idle keep-alive connection is still open after the grace period"
    );
    let (status, head) = slow_answer.expect("the in-flight request was answered");
    assert_eq!(status, 200);
    assert!(head.contains("connection: close"), "{head}");
    assert!(
        finished.is_ok(),
        "the server stops once its connections are done"
    );

    let during_grace = |o: &&Outcome| {
        o.sent >= t0 + Duration::from_millis(50) && o.sent < t0 + grace - Duration::from_millis(50)
    };
    let answered_in_grace = outcomes
        .iter()
        .filter(during_grace)
        .filter(|o| o.result.is_ok())
        .count();
    assert!(
        answered_in_grace > 0,
        "no request was served during the grace period"
    );
    let mut failures = Vec::new();
    let mut kept_open = 0;
    for o in &outcomes {
        match &o.result {
            Ok((status, connection)) => {
                assert_eq!(*status, 200);
                if o.sent >= t0 + Duration::from_millis(50)
                    && connection.as_deref() != Some("close")
                {
                    kept_open += 1;
                }
            }
            // Refused connections once the grace period is over are the server being gone;
            // a client (or a load balancer) retries them elsewhere, as nothing was sent.
            Err(e) if e.is_connect() && o.sent >= t0 + grace => {}
            Err(e) => failures.push(format!(
                "{:?} after shutdown began: {e:?}",
                o.sent.checked_duration_since(t0)
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {failures:#?}",
        failures.len(),
        outcomes.len()
    );
    assert_eq!(
        kept_open, 0,
        "responses during the grace period without `Connection: close`"
    );
}

/// A server whose slow clients are cut off after `timeout_ms`, with room for `max_connections`.
fn impatient(timeout_ms: u64, max_connections: usize) -> ServeConfig {
    ServeConfig {
        header_read_timeout_ms: timeout_ms,
        body_read_timeout_ms: timeout_ms,
        max_client_connections: Some(max_connections),
        ..ServeConfig::ephemeral()
    }
}

#[tokio::test]
async fn a_client_that_sends_half_a_head_is_cut_off_after_the_header_timeout() {
    let (_db, port, _stop, _server) = start(impatient(400, 64)).await;
    let mut half = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    half.write_all(b"POST /graphql HTTP/1.1\r\nHost: anju\r\nContent-Type: appl")
        .await
        .unwrap();
    let closed = closed_within(&mut half, Duration::from_secs(5)).await;
    let closed = closed.expect("a half-sent head keeps its connection open");
    assert!(
        closed >= Duration::from_millis(300),
        "closed after {closed:?}"
    );
    // A kept-alive connection left idle is closed after the same time.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    idle.write_all(b"GET /livez HTTP/1.1\r\nHost: anju\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut idle).await.unwrap().0, 200);
    assert!(closed_within(&mut idle, Duration::from_secs(5))
        .await
        .is_some());
}

#[tokio::test]
async fn a_client_that_sends_half_a_body_is_answered_408_and_cut_off() {
    let (_db, port, _stop, _server) = start(impatient(400, 64)).await;
    let mut half = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let started = Instant::now();
    half.write_all(post_head(TYPENAME.len()).as_bytes())
        .await
        .unwrap();
    half.write_all(&TYPENAME.as_bytes()[..10]).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_response(&mut half))
        .await
        .expect("a half-sent body is never answered");
    let (status, head) = answer.expect("an answer before the connection closes");
    assert_eq!(status, 408, "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(closed_within(&mut half, Duration::from_secs(5))
        .await
        .is_some());

    // A whole request on time is served as ever.
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["__typename"], "Query");
}

/// `GET /readyz` on a fresh connection, with the time it took.
async fn readyz(port: u16) -> (u16, Duration) {
    let started = Instant::now();
    let status = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    (status, started.elapsed())
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_one_to_close() {
    let (_db, port, _stop, _server) = start(impatient(60_000, 2)).await;
    // Two clients that connect and say nothing hold both places.
    let first = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let _second = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let check = tokio::spawn(readyz(port));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !check.is_finished(),
        "a third connection was served beside two open ones"
    );
    drop(first);
    let (status, _) = tokio::time::timeout(Duration::from_secs(5), check)
        .await
        .expect("readiness is answered once a place is free")
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn silent_connections_filling_the_cap_are_timed_out_and_readiness_answers() {
    let (_db, port, _stop, _server) = start(impatient(500, 4)).await;
    let mut silent = Vec::new();
    for _ in 0..16 {
        silent.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    // Sixteen silent clients, four at a time, each cut off after half a second: the check waits
    // its turn behind them (the backlog is first come, first served) and is then answered.
    let (status, took) = readyz(port).await;
    assert_eq!(status, 200);
    assert!(
        took >= Duration::from_millis(400),
        "answered after {took:?}"
    );
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    let metrics = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("anju_http_connections_max 4\n"),
        "{metrics}"
    );
    // This very request's connection, and the silent ones not yet timed out.
    let open = metrics
        .lines()
        .find_map(|l| l.strip_prefix("anju_http_connections "))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap();
    assert!((1..=4).contains(&open), "{metrics}");
}
