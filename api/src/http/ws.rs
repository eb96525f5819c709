//! Subscriptions over WebSocket on `/graphql` (CONTRACT §8), protocol `graphql-transport-ws`.
//!
//! async-graphql runs the subscriptions (`GraphQLWebSocket`); this module stands in front of it
//! and keeps the protocol where the engine does not:
//! - `connection_init` must come within the init timeout (else close 4408); its payload's
//!   `authorization` (`Bearer …`) or `apiKey` (or `x-api-key`) is checked exactly as the HTTP
//!   endpoint checks its headers, and refused credentials close with 4403; a second
//!   `connection_init` closes with 4429;
//! - a `subscribe` before the acknowledgement closes with 4401, one whose id is already active
//!   with 4409; a message that is not one of the protocol's closes with 4400;
//! - the server pings every ping interval (a client that answered none of the last two pings is
//!   closed with 1011), answers the client's pings, and closes with 4403 when the token expires
//!   and with 1001 when the server shuts down;
//! - only subscriptions run here (queries and mutations go over HTTP, where reads are audited);
//!   each is charged its cost like a query, and a socket holds a limited number at once, a
//!   principal a limited number of sockets.

use super::protocol::selected_operation;
use super::AppState;
use crate::auth::scope::Access;
use crate::auth::Authenticated;
use crate::error::Code;
use crate::graphql::cost::Meter;
use crate::graphql::RequestId;
use async_graphql::parser::types::OperationType;
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The one subprotocol served.
pub const SUBPROTOCOL: &str = "graphql-transport-ws";

/// How subscription sockets are limited.
#[derive(Debug, Clone, Copy)]
pub struct WsSettings {
    /// Most sockets one principal (or anonymous address) may hold open.
    pub max_sockets: usize,
    /// Most subscriptions active at once on one socket.
    pub max_subscriptions: usize,
    /// How long a socket may wait before `connection_init`.
    pub init_timeout: Duration,
    /// How often the server pings.
    pub ping: Duration,
}

/// The sockets open, by principal.
#[derive(Default)]
pub struct Sockets {
    open: Mutex<HashMap<String, usize>>,
}

/// One socket's place among its principal's; given back when dropped.
struct Held {
    sockets: Arc<Sockets>,
    key: String,
}

impl Sockets {
    fn take(self: &Arc<Self>, key: String, max: usize) -> Option<Held> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key.clone()).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Held {
            sockets: self.clone(),
            key,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.sockets.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// `GET /graphql`: a WebSocket upgrade becomes a subscription socket; anything else is a query
/// over GET.
pub async fn get(State(state): State<AppState>, request: Request) -> Response {
    if !request.headers().contains_key(header::UPGRADE) {
        return super::graphql::execute.call(request, state).await;
    }
    let (mut parts, _body) = request.into_parts();
    if !offers_subprotocol(&parts.headers) {
        return (
            StatusCode::BAD_REQUEST,
            format!("offer the WebSocket subprotocol `{SUBPROTOCOL}`"),
        )
            .into_response();
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let Some(protocol) = transport_ws().await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    upgrade
        .protocols([SUBPROTOCOL])
        .max_message_size(super::MAX_BODY_BYTES)
        .on_upgrade(move |socket| serve(state, socket, protocol, peer))
}

fn offers_subprotocol(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL)
}

/// The engine's name for `graphql-transport-ws` (it is only made by its extractor).
async fn transport_ws() -> Option<GraphQLProtocol> {
    let (mut parts, ()) = axum::http::Request::builder()
        .header(header::SEC_WEBSOCKET_PROTOCOL, SUBPROTOCOL)
        .body(())
        .ok()?
        .into_parts();
    GraphQLProtocol::from_request_parts(&mut parts, &())
        .await
        .ok()
}

/// Why the server closes a socket.
type Close = (u16, String);

fn close(code: u16, reason: impl Into<String>) -> Option<Close> {
    Some((code, reason.into()))
}

/// Serves one socket until either side closes it.
async fn serve(
    state: AppState,
    socket: WebSocket,
    protocol: GraphQLProtocol,
    peer: Option<IpAddr>,
) {
    let metrics = state.metrics.clone();
    metrics.ws_open.inc();
    let (sink, incoming) = socket.split();
    let (out, outgoing) = mpsc::channel::<Message>(64);
    let active = Arc::new(Mutex::new(HashSet::<String>::new()));
    let writer = tokio::spawn(write(sink, outgoing, active.clone(), state.clone()));
    let mut session = Session {
        state: state.clone(),
        out: out.clone(),
        incoming,
        active: active.clone(),
        peer,
    };
    let closing = session.run(protocol).await;
    drop(session);
    let mut out = out;
    if let Some((code, reason)) = closing {
        metrics
            .ws_closed
            .with_label_values(&[&code.to_string()])
            .inc();
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = out.send(Message::Close(Some(frame))).await;
    }
    drop(out);
    let _ = writer.await;
    let left = active.lock().map(|a| a.len()).unwrap_or(0);
    metrics
        .ws_subscriptions
        .sub(i64::try_from(left).unwrap_or(0));
    metrics.ws_open.dec();
}

/// Sends what the session and the engine produce, in order, and stops after a close frame.
/// Notices the engine's `complete` of a subscription, which frees its id.
async fn write(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    mut outgoing: mpsc::Receiver<Message>,
    active: Arc<Mutex<HashSet<String>>>,
    state: AppState,
) {
    while let Some(message) = outgoing.next().await {
        if let Message::Text(text) = &message {
            if text.starts_with(r#"{"type":"complete""#) {
                if let Some(id) = serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned))
                {
                    let removed = active.lock().map(|mut a| a.remove(&id)).unwrap_or(false);
                    if removed {
                        state.metrics.ws_subscriptions.dec();
                    }
                }
            }
        }
        let last = matches!(message, Message::Close(_));
        if sink.send(message).await.is_err() {
            return;
        }
        state.metrics.ws_messages.with_label_values(&["sent"]).inc();
        if last {
            return;
        }
    }
    let _ = sink.close().await;
}

/// A message of the protocol from the client.
enum ClientMessage {
    ConnectionInit(Value),
    Ping,
    Pong,
    /// The id, the raw message (handed to the engine as it came) and its payload.
    Subscribe(String, String, Value),
    Complete(String),
}

/// Reads one text message as the protocol's (as the reference server validates it); the
/// error is the reason to close with 4400.
fn parse(text: &str) -> Result<ClientMessage, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|_| "Invalid message received: not JSON".to_owned())?;
    let Some(kind) = value.get("type").and_then(Value::as_str) else {
        return Err("Invalid message received: no `type`".into());
    };
    let payload = value.get("payload").cloned().unwrap_or(Value::Null);
    let object_or_null = |v: &Value| v.is_null() || v.is_object();
    let id = || match value.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(format!(
            "Invalid message received: `{kind}` needs a non-empty string `id`"
        )),
    };
    match kind {
        "connection_init" | "ping" | "pong" if !object_or_null(&payload) => Err(format!(
            "Invalid message received: the payload of `{kind}` must be an object"
        )),
        "connection_init" => Ok(ClientMessage::ConnectionInit(payload)),
        "ping" => Ok(ClientMessage::Ping),
        "pong" => Ok(ClientMessage::Pong),
        "subscribe" => {
            let id = id()?;
            let well_formed = payload.get("query").is_some_and(Value::is_string)
                && payload.get("variables").is_none_or(object_or_null)
                && payload.get("extensions").is_none_or(object_or_null)
                && payload
                    .get("operationName")
                    .is_none_or(|v| v.is_null() || v.is_string());
            if !well_formed {
                return Err(
                    "Invalid message received: `subscribe` needs a payload with a string `query` \
                     (and optional object `variables`, `extensions`, string `operationName`)"
                        .into(),
                );
            }
            Ok(ClientMessage::Subscribe(id, text.to_owned(), payload))
        }
        "complete" => Ok(ClientMessage::Complete(id()?)),
        other => Err(format!(
            "Invalid message received: unexpected message of type `{other}`"
        )),
    }
}

/// The credentials of a `connection_init` payload, as an `Authorization` and an `X-Api-Key`
/// header would carry them.
fn credentials(payload: &Value) -> Result<(Option<&str>, Option<&str>), ()> {
    let field = |names: &[&str]| -> Result<Option<&str>, ()> {
        let Some(object) = payload.as_object() else {
            return Ok(None);
        };
        for (key, value) in object {
            if names.iter().any(|n| key.eq_ignore_ascii_case(n)) {
                return value.as_str().map(Some).ok_or(());
            }
        }
        Ok(None)
    };
    Ok((field(&["authorization"])?, field(&["apiKey", "x-api-key"])?))
}

/// One socket's conversation.
struct Session {
    state: AppState,
    out: mpsc::Sender<Message>,
    incoming: futures::stream::SplitStream<WebSocket>,
    active: Arc<Mutex<HashSet<String>>>,
    peer: Option<IpAddr>,
}

/// What the client sent next.
enum Incoming {
    Message(ClientMessage),
    Invalid(String),
    /// The client closed, or the connection broke.
    Gone,
}

impl Session {
    async fn send(&mut self, value: Value) {
        let _ = self.out.send(Message::Text(value.to_string().into())).await;
    }

    async fn next(&mut self) -> Incoming {
        loop {
            let message = match self.incoming.next().await {
                Some(Ok(message)) => message,
                Some(Err(_)) | None => return Incoming::Gone,
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Binary(_) => {
                    return Incoming::Invalid("Invalid message received: binary".into())
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Close(_) => return Incoming::Gone,
            };
            self.state
                .metrics
                .ws_messages
                .with_label_values(&["received"])
                .inc();
            return match parse(&text) {
                Ok(message) => Incoming::Message(message),
                Err(reason) => Incoming::Invalid(reason),
            };
        }
    }

    /// The whole conversation; what to close with, if the server closes.
    async fn run(&mut self, protocol: GraphQLProtocol) -> Option<Close> {
        let (authenticated, held) = match self.handshake().await {
            Ok(done) => done,
            Err(closing) => return closing,
        };
        let _held = held;
        self.subscriptions(protocol, authenticated).await
    }

    /// Waits for `connection_init` and checks its credentials; the caller and its place among
    /// its principal's sockets.
    async fn handshake(&mut self) -> Result<(Authenticated, Held), Option<Close>> {
        let deadline = tokio::time::sleep(self.state.ws.init_timeout);
        tokio::pin!(deadline);
        loop {
            let incoming = tokio::select! {
                () = &mut deadline => {
                    return Err(close(4408, "Connection initialisation timeout"));
                }
                incoming = self.next() => incoming,
            };
            match incoming {
                Incoming::Gone => return Err(None),
                Incoming::Invalid(reason) => return Err(close(4400, reason)),
                Incoming::Message(ClientMessage::ConnectionInit(payload)) => {
                    return self.authenticate(&payload).await;
                }
                Incoming::Message(ClientMessage::Ping) => self.send(json!({"type": "pong"})).await,
                Incoming::Message(ClientMessage::Pong | ClientMessage::Complete(_)) => {}
                Incoming::Message(ClientMessage::Subscribe(..)) => {
                    return Err(close(4401, "Unauthorized"));
                }
            }
        }
    }

    async fn authenticate(
        &mut self,
        payload: &Value,
    ) -> Result<(Authenticated, Held), Option<Close>> {
        let Ok((authorization, api_key)) = credentials(payload) else {
            return Err(close(4403, "Forbidden: credentials must be strings"));
        };
        let authenticated = match self
            .state
            .auth
            .authenticate_values(authorization, api_key)
            .await
        {
            Ok(authenticated) => authenticated,
            Err(e) => {
                tracing::info!(reason = %e, "WebSocket credentials refused");
                return Err(close(4403, "Forbidden"));
            }
        };
        let key = match authenticated.caller.principal() {
            Some(p) => format!("principal:{}", p.actor),
            None => format!(
                "address:{}",
                self.peer.map(|ip| ip.to_string()).unwrap_or_default()
            ),
        };
        match self.state.sockets.take(key, self.state.ws.max_sockets) {
            Some(held) => Ok((authenticated, held)),
            None => Err(close(
                4429,
                format!(
                    "Too many open sockets: at most {} per principal",
                    self.state.ws.max_sockets
                ),
            )),
        }
    }

    /// After the acknowledgement: runs the subscriptions in the engine until the socket closes.
    async fn subscriptions(
        &mut self,
        protocol: GraphQLProtocol,
        authenticated: Authenticated,
    ) -> Option<Close> {
        let caller = authenticated.caller;
        let (subject, budget) = self.state.limiter.subject(&caller, self.peer);
        let mut data = Data::default();
        data.insert(Arc::new(Access::new(self.state.db.clone(), caller)));
        data.insert(Meter::new(self.state.limiter.clone(), subject, budget));
        data.insert(RequestId::new());
        let (mut to_engine, engine_input) = mpsc::channel::<Result<Message, axum::Error>>(16);
        let engine = GraphQLWebSocket::new_with_pair(
            self.out.clone(),
            engine_input,
            self.state.engine.schema().clone(),
            protocol,
        )
        .with_data(data)
        .serve();
        tokio::pin!(engine);
        // The engine acknowledges this one; credentials were checked above.
        let init = Message::Text(r#"{"type":"connection_init"}"#.into());
        if to_engine.send(Ok(init)).await.is_err() {
            return None;
        }
        let left = authenticated.expires_at.map(|at| {
            at.duration_since(std::time::SystemTime::now())
                .unwrap_or(Duration::ZERO)
        });
        let expiry = async move {
            match left {
                Some(left) => tokio::time::sleep(left).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expiry);
        let mut ping = tokio::time::interval(self.state.ws.ping);
        ping.tick().await;
        let mut unanswered = 0u32;
        loop {
            let incoming = tokio::select! {
                () = &mut engine => return None,
                () = &mut expiry => return close(4403, "Forbidden: the credentials expired"),
                _ = ping.tick() => {
                    if self.state.shutting_down.load(std::sync::atomic::Ordering::Acquire) {
                        return close(1001, "the server is shutting down");
                    }
                    if unanswered >= 2 {
                        return close(1011, "the client did not answer pings");
                    }
                    unanswered += 1;
                    self.send(json!({"type": "ping"})).await;
                    continue;
                }
                incoming = self.next() => incoming,
            };
            unanswered = 0;
            let message = match incoming {
                Incoming::Gone => return None,
                Incoming::Invalid(reason) => return close(4400, reason),
                Incoming::Message(message) => message,
            };
            match message {
                ClientMessage::ConnectionInit(_) => {
                    return close(4429, "Too many initialisation requests");
                }
                ClientMessage::Ping => self.send(json!({"type": "pong"})).await,
                ClientMessage::Pong => {}
                ClientMessage::Complete(id) => {
                    let removed = self
                        .active
                        .lock()
                        .map(|mut a| a.remove(&id))
                        .unwrap_or(false);
                    if removed {
                        self.state.metrics.ws_subscriptions.dec();
                        let stop = json!({"type": "complete", "id": id}).to_string();
                        if to_engine
                            .send(Ok(Message::Text(stop.into())))
                            .await
                            .is_err()
                        {
                            return None;
                        }
                    }
                }
                ClientMessage::Subscribe(id, raw, payload) => {
                    if let Some(closing) = self.subscribe(&mut to_engine, id, raw, &payload).await {
                        return closing;
                    }
                }
            }
        }
    }

    /// Starts one subscription in the engine, or refuses it; `Some` to end the conversation.
    async fn subscribe(
        &mut self,
        to_engine: &mut mpsc::Sender<Result<Message, axum::Error>>,
        id: String,
        raw: String,
        payload: &Value,
    ) -> Option<Option<Close>> {
        let (taken, full) = {
            let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
            (
                active.contains(&id),
                active.len() >= self.state.ws.max_subscriptions,
            )
        };
        if taken {
            return Some(close(4409, format!("Subscriber for {id} already exists")));
        }
        if full {
            let message = format!(
                "at most {} subscriptions may be active on one socket",
                self.state.ws.max_subscriptions
            );
            self.refuse(&id, &message, Code::TooManySubscriptions).await;
            return None;
        }
        if !is_subscription(payload) {
            let message = "only subscriptions are served over WebSocket; send queries and \
                           mutations over HTTP";
            self.refuse(&id, message, Code::BadRequest).await;
            return None;
        }
        if let Ok(mut active) = self.active.lock() {
            active.insert(id);
        }
        self.state.metrics.ws_subscriptions.inc();
        if to_engine.send(Ok(Message::Text(raw.into()))).await.is_err() {
            return Some(None);
        }
        None
    }

    /// Answers a `subscribe` with the protocol's `error` message: the operation did not start.
    async fn refuse(&mut self, id: &str, message: &str, code: Code) {
        self.send(json!({
            "type": "error",
            "id": id,
            "payload": [{"message": message, "extensions": {"code": code.as_str()}}],
        }))
        .await;
    }
}

/// Whether the operation a `subscribe` payload selects is a subscription. A document that does
/// not parse or select an operation goes to the engine, which answers with its error.
fn is_subscription(payload: &Value) -> bool {
    let query = payload["query"].as_str().unwrap_or_default();
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        return true;
    };
    match selected_operation(&doc, payload["operationName"].as_str()) {
        Some((_, ty)) => ty == OperationType::Subscription,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_as_the_protocol_has_them() {
        assert!(matches!(
            parse(r#"{"type":"connection_init","payload":{"authorization":"Bearer x"}}"#),
            Ok(ClientMessage::ConnectionInit(_))
        ));
        assert!(matches!(
            parse(
                r#"{"type":"subscribe","id":"1","payload":{"query":"subscription{changesAvailable}"}}"#
            ),
            Ok(ClientMessage::Subscribe(..))
        ));
        for bad in [
            "nonsense",
            r#"{"id":"1"}"#,
            r#"{"type":"connection_init","payload":3}"#,
            r#"{"type":"subscribe","id":"","payload":{"query":"{a}"}}"#,
            r#"{"type":"subscribe","id":"1","payload":{}}"#,
            r#"{"type":"subscribe","id":"1","payload":{"query":"{a}","variables":[]}}"#,
            r#"{"type":"complete"}"#,
            r#"{"type":"next","id":"1","payload":{}}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_travel_as_headers_would() {
        let payload = json!({"Authorization": "Bearer abc"});
        assert_eq!(credentials(&payload), Ok((Some("Bearer abc"), None)));
        let payload = json!({"apiKey": "anju_k_1"});
        assert_eq!(credentials(&payload), Ok((None, Some("anju_k_1"))));
        assert_eq!(credentials(&json!({"authorization": 3})), Err(()));
        assert_eq!(credentials(&Value::Null), Ok((None, None)));
    }
}
