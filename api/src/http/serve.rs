//! Serving connections: the accept loop, its limits, and the shutdown that drains it.
//!
//! Why not `axum::serve`: it reads request heads and bodies without a deadline and accepts any
//! number of connections, so clients that send half a request each hold a file descriptor for
//! ever (thousands of them exhausted a replica's file limit and `/readyz` hung); and it closes
//! kept-alive connections at the end of the shutdown grace period whatever their clients are
//! sending on them at that instant, which resets those requests.
//!
//! Here a request's head must arrive within the header read timeout (which also closes a
//! kept-alive connection left idle that long), its body within the body read timeout (see
//! [`bound_body`]), and at most `max_connections` connections are open at once: beyond them new
//! connections wait in the listen backlog until one closes, so a flood of slow clients delays
//! readiness checks by at most the header read timeout instead of starving them.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;
use tower_http::add_extension::AddExtension;

/// How long clients may take and how many may be connected.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    /// Longest a request head may take to arrive, and a kept-alive connection may stay idle
    /// (`None`: no limit).
    pub header_read_timeout: Option<Duration>,
    /// Longest a request body may take to arrive once its head has (`None`: no limit).
    pub body_read_timeout: Option<Duration>,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl TryFrom<&crate::config::ServeConfig> for EdgeLimits {
    type Error = anyhow::Error;

    /// The limits a serve configuration sets (a timeout of 0 is no limit).
    fn try_from(serve: &crate::config::ServeConfig) -> anyhow::Result<Self> {
        let ms = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
        let max_connections = match serve.max_client_connections {
            Some(0) => anyhow::bail!("ANJU_MAX_CONNECTIONS must be at least 1"),
            Some(n) => n,
            None => default_max_connections(),
        };
        Ok(Self {
            header_read_timeout: ms(serve.header_read_timeout_ms),
            body_read_timeout: ms(serve.body_read_timeout_ms),
            max_connections,
        })
    }
}

/// The most connections open at once unless configured: 4096, or the process's open-file limit
/// less a reserve for the database pool, Redis and files where that is lower.
pub fn default_max_connections() -> usize {
    const MOST: usize = 4096;
    const RESERVE: usize = 256;
    match open_file_limit() {
        Some(limit) => limit.saturating_sub(RESERVE).max(limit / 2).clamp(1, MOST),
        None => MOST,
    }
}

/// The soft limit on open files, where the platform tells it (Linux, in `/proc`).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The connections open now, out of the most allowed (for `/metrics`).
#[derive(Debug)]
pub struct Connections {
    /// One place per connection allowed; the accept loop holds one while it waits to accept.
    slots: Arc<Semaphore>,
    open: AtomicUsize,
    max: usize,
}

impl Connections {
    /// Room for `max` connections.
    pub fn new(max: usize) -> Self {
        Connections {
            slots: Arc::new(Semaphore::new(max)),
            open: AtomicUsize::new(0),
            max,
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Most connections open at once.
    pub fn max(&self) -> usize {
        self.max
    }
}

/// Longest the server waits, once it has stopped accepting, for its open connections to end.
const FINISH_LIMIT: Duration = Duration::from_secs(60);

/// Serves `router` on `listener` until `stop` completes; then stops accepting (after taking in
/// the connections already waiting in the backlog, which closing the listener would reset),
/// tells every connection to finish, and waits for them. Each request carries the client's
/// address as [`ConnectInfo<SocketAddr>`].
///
/// Finishing a connection that has served a request means closing it at once when it is idle,
/// or after the response under way. One that has served nothing yet is left to send its first
/// request, whose response closes it (every response does once shutdown has begun, see
/// `close_when_draining`), or to the header read timeout: its client connected in order to send
/// that request, and closing the connection under it would reset it.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: EdgeLimits,
    connections: Arc<Connections>,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // HTTP/1.1, as before (axum's HTTP/2 support was never built in).
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let (finish, finishing) = watch::channel(false);
    let edge = Edge {
        builder,
        router,
        finishing,
    };
    let mut stop = std::pin::pin!(stop);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut stop => break,
            permit = connections.slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        edge.spawn(stream, remote, Place::take(&connections, permit));
    }
    let listener = listener.into_std()?;
    listener.set_nonblocking(true)?;
    while let Ok(permit) = connections.slots.clone().try_acquire_owned() {
        let Ok((stream, remote)) = listener.accept() else {
            break;
        };
        let stream = stream
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpStream::from_std(stream));
        if let Ok(stream) = stream {
            edge.spawn(stream, remote, Place::take(&connections, permit));
        }
    }
    drop(listener);
    tracing::info!(
        open = connections.open(),
        "stopped accepting; finishing the open connections"
    );
    let _ = finish.send(true);
    // Every connection holds a place until it ends: all places free means all ended. A client
    // that never reads its response could hold one for ever, so the wait is bounded: by then
    // every request has met its own timeout many times over.
    let all = u32::try_from(connections.max).unwrap_or(u32::MAX);
    if tokio::time::timeout(FINISH_LIMIT, connections.slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.open(),
            limit = ?FINISH_LIMIT,
            "connections still open after the limit: closing them"
        );
    }
    Ok(())
}

/// A connection's place among those allowed, given back when it ends.
struct Place {
    connections: Arc<Connections>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Place {
    fn take(connections: &Arc<Connections>, permit: tokio::sync::OwnedSemaphorePermit) -> Self {
        connections.open.fetch_add(1, Ordering::Relaxed);
        Place {
            connections: connections.clone(),
            _permit: permit,
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.connections.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What every connection is served with.
struct Edge {
    builder: http1::Builder,
    router: Router,
    /// Turns true when connections are to finish.
    finishing: watch::Receiver<bool>,
}

impl Edge {
    fn spawn(&self, stream: tokio::net::TcpStream, remote: SocketAddr, place: Place) {
        let served = Arc::new(AtomicBool::new(false));
        let service = {
            let (router, served) = (self.router.clone(), served.clone());
            // Anonymous callers are rate-limited by their address.
            let router = AddExtension::new(router, ConnectInfo(remote));
            hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                served.store(true, Ordering::Relaxed);
                router.clone().oneshot(request)
            })
        };
        // Upgrades let a request become a subscription WebSocket; the upgraded socket then lives
        // on in its own task, outside the connection's place and shutdown.
        let connection = self
            .builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut finishing = self.finishing.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let mut told = false;
            loop {
                tokio::select! {
                    ended = connection.as_mut() => {
                        if let Err(e) = ended {
                            // Clients that time out, reset or send garbage end here.
                            tracing::debug!(%remote, error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = finishing.wait_for(|finish| *finish), if !told => {
                        told = true;
                        if served.load(Ordering::Relaxed) {
                            connection.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
            drop(place);
        });
    }
}

/// An error accepting a connection: one about that connection alone is skipped; anything else
/// (out of file descriptors, say) is logged and waited out, as the condition may pass.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Why a request body was cut short.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimedOut(pub Duration);

/// Bounds the time the request's body may take to arrive, as a whole, from now (its head has
/// arrived): reading it past that fails with [`BodyTimedOut`].
pub fn bound_body(request: Request, timeout: Duration) -> Request {
    if request.body().is_end_stream() {
        return request;
    }
    request.map(|body| {
        Body::new(DeadlineBody {
            body,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
        })
    })
}

/// A body that fails once its deadline passes.
struct DeadlineBody {
    body: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut(self.timeout)))));
        }
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Whether `error`, or any error under it, is a body read that timed out.
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_room_under_the_open_file_limit() {
        let cap = default_max_connections();
        assert!((1..=4096).contains(&cap), "{cap}");
        if let Some(limit) = open_file_limit() {
            assert!(
                cap < limit,
                "{cap} connections under a limit of {limit} files"
            );
        }
    }
}
