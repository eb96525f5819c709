//! Subscriptions over WebSocket (CONTRACT §8): the `graphql-ws` client (npm) against the
//! server, raw protocol breaches with a WebSocket client of our own, scope, limits, and hints
//! across replicas through Redis, also across a Redis outage.

use crate::support::{TestApp, TestDb, TestRedis};
use anju::auth::Role;
use anju::config::{CacheConfig, ServeConfig};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

const TOWNSHIP_A: &str = "522732100";
const TOWNSHIP_B: &str = "522732101";
const T: &str = "2020-06-30";
/// Longest wait for one event before the test fails (never reached when things work).
const PATIENCE: Duration = Duration::from_secs(30);

const WORKS: &str = "subscription($scope: ScopeInput!, $asOf: Date) { \
    indicatorsChanged(scope: $scope, asOf: $asOf) { asOf worksCompletion { numerator denominator } } }";

/// The npm client's folder, its packages installed (once per test run).
fn client_dir() -> PathBuf {
    static INSTALLED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ws-client");
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if !*installed && !dir.join("node_modules/graphql-ws").exists() {
        let status = std::process::Command::new("npm")
            .arg("install")
            .current_dir(&dir)
            .status()
            .expect("npm (Node.js) is needed to run the subscription tests");
        assert!(status.success(), "npm install failed in {}", dir.display());
    }
    *installed = true;
    dir
}

fn ws_url(app: &TestApp) -> String {
    format!("{}/graphql", app.base.replacen("http://", "ws://", 1))
}

/// One `graphql-ws` client (`tests/ws-client/client.mjs`), driven line by line.
struct WsClient {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl WsClient {
    async fn connect(app: &TestApp, params: Value) -> WsClient {
        let mut child = tokio::process::Command::new("node")
            .arg("client.mjs")
            .arg(ws_url(app))
            .arg(params.to_string())
            .current_dir(client_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run node client.mjs");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        WsClient {
            _child: child,
            stdin,
            lines,
        }
    }

    async fn with_token(app: &TestApp, token: &str) -> WsClient {
        Self::connect(app, json!({ "authorization": format!("Bearer {token}") })).await
    }

    async fn command(&mut self, command: Value) {
        let line = format!("{command}\n");
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("write to the client");
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.command(
            json!({ "op": "subscribe", "id": id, "query": query, "variables": variables }),
        )
        .await;
    }

    /// The next event other than a server ping.
    async fn event(&mut self) -> Value {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
                .await
                .expect("an event from the client in time")
                .expect("read the client")
                .expect("the client is running");
            let event: Value = serde_json::from_str(&line).expect("a JSON event");
            if event["event"] != "ping" {
                return event;
            }
        }
    }

    /// The next event of subscription `id` (other subscriptions' are skipped).
    async fn event_of(&mut self, id: &str) -> Value {
        loop {
            let event = self.event().await;
            if event["id"] == id || event["event"] == "closed" {
                return event;
            }
        }
    }

    /// Waits for a ping from the server.
    async fn ping(&mut self) {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
                .await
                .expect("a ping in time")
                .expect("read the client")
                .expect("the client is running");
            let event: Value = serde_json::from_str(&line).expect("a JSON event");
            if event["event"] == "ping" {
                return;
            }
        }
    }
}

/// `numerator/denominator` of `worksCompletion` in a `next` event.
fn works(event: &Value) -> String {
    assert_eq!(event["event"], "next", "{event:#}");
    let ratio = &event["payload"]["data"]["indicatorsChanged"]["worksCompletion"];
    assert!(ratio.is_object(), "{event:#}");
    format!("{}/{}", ratio["numerator"], ratio["denominator"])
}

/// The `extensions.code` of a subscription refused (an `error` message, or a `next` with
/// errors).
fn refusal_code(event: &Value) -> String {
    let errors = match event["event"].as_str() {
        Some("error") => &event["error"],
        Some("next") => &event["payload"]["errors"],
        _ => panic!("not a refusal: {event:#}"),
    };
    errors[0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
        .to_owned()
}

async fn complete_work(app: &TestApp, work: &str) {
    let body = app
        .query(
            "mutation($input: RecordWorkCompletionInput!) { recordWorkCompletion(input: $input) { userErrors { message } } }",
            json!({ "input": { "idempotencyKey": uuid::Uuid::new_v4().simple().to_string(),
                               "code": work, "version": 1, "completedOn": T } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(
        body["data"]["recordWorkCompletion"]["userErrors"],
        json!([])
    );
}

/// The ops of the site-work changes of the feed after `cursor`.
async fn changed_works(app: &TestApp, cursor: &str) -> Vec<String> {
    let data = app
        .data(
            "query($after: String!) { changes(after: $after, types: [SITE_WORK]) { changes { op } } }",
            json!({ "after": cursor }),
        )
        .await;
    data["changes"]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["op"].as_str().expect("an op").to_owned())
        .collect()
}

#[tokio::test]
async fn a_dashboard_gets_the_indicators_first_and_again_after_each_write() {
    let config = ServeConfig {
        ws_ping_ms: 200,
        ..ServeConfig::ephemeral()
    };
    let app = TestApp::spawn_with(TestDb::with_fixture("indicators").await, config).await;
    let token = app.token(Role::Officer, TOWNSHIP_A, None).await;
    let mut client = WsClient::with_token(&app, &token).await;
    assert_eq!(client.event().await["event"], "connected");
    client.ping().await;

    let scope = json!({ "scope": { "siteCode": "AZD001" }, "asOf": T });
    client.subscribe("site", WORKS, scope).await;
    assert_eq!(works(&client.event_of("site").await), "3/5");
    client
        .subscribe("head", "subscription { changesAvailable }", json!({}))
        .await;
    let first = client.event_of("head").await;
    let head = first["payload"]["data"]["changesAvailable"]
        .as_str()
        .expect("a head")
        .to_owned();
    assert!(changed_works(&app, &head).await.is_empty());

    let metrics = app.metrics().await;
    assert!(metrics.contains("anju_ws_connections 1\n"), "{metrics}");
    assert!(metrics.contains("anju_ws_subscriptions 2\n"), "{metrics}");
    assert!(
        metrics.contains("anju_ws_messages_total{direction=\"received\"}"),
        "{metrics}"
    );

    complete_work(&app, "AZD001-W5").await;
    let mut updated = (None, None);
    while updated.0.is_none() || updated.1.is_none() {
        let event = client.event().await;
        match event["id"].as_str() {
            Some("site") => updated.0 = Some(works(&event)),
            Some("head") => updated.1 = Some(event["payload"]["data"]["changesAvailable"].clone()),
            _ => panic!("unexpected event {event:#}"),
        }
    }
    assert_eq!(updated.0.as_deref(), Some("4/5"));
    let moved = updated.1.expect("a new head");
    assert_ne!(moved, head);
    // The feed from the first head has the write; from the new one, nothing more.
    assert_eq!(changed_works(&app, &head).await, ["UPSERT"]);
    assert!(changed_works(&app, moved.as_str().expect("a head"))
        .await
        .is_empty());
    client.command(json!({ "op": "dispose" })).await;
}

#[tokio::test]
async fn a_township_officer_hears_its_own_township_only() {
    let app = TestApp::spawn_on(TestDb::with_fixture("indicators").await).await;
    let officer_a = app.token(Role::Officer, TOWNSHIP_A, None).await;
    let officer_b = app.token(Role::Officer, TOWNSHIP_B, None).await;
    let mut b = WsClient::with_token(&app, &officer_b).await;
    let mut a = WsClient::with_token(&app, &officer_a).await;

    // Another township's indicators are refused as the query refuses them.
    b.subscribe(
        "other",
        WORKS,
        json!({ "scope": { "areaCode": TOWNSHIP_A }, "asOf": T }),
    )
    .await;
    assert_eq!(refusal_code(&b.event_of("other").await), "NOT_FOUND");
    b.subscribe(
        "site",
        WORKS,
        json!({ "scope": { "siteCode": "AZD001" }, "asOf": T }),
    )
    .await;
    assert_eq!(refusal_code(&b.event_of("site").await), "NOT_FOUND");

    b.subscribe(
        "own",
        WORKS,
        json!({ "scope": { "areaCode": TOWNSHIP_B }, "asOf": T }),
    )
    .await;
    assert_eq!(works(&b.event_of("own").await), "2/3");
    a.subscribe(
        "own",
        WORKS,
        json!({ "scope": { "areaCode": TOWNSHIP_A }, "asOf": T }),
    )
    .await;
    assert_eq!(works(&a.event_of("own").await), "5/7");

    // A write in township A reaches A's officer; B's next value is B's own write's.
    complete_work(&app, "AZD001-W5").await;
    assert_eq!(works(&a.event_of("own").await), "6/7");
    complete_work(&app, "AZD003-W9").await;
    assert_eq!(works(&b.event_of("own").await), "3/3");
}

/// A raw WebSocket, offering the subprotocol.
async fn raw(
    app: &TestApp,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = ws_url(app).into_client_request().expect("a request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("a header"),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("a WebSocket");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
}

type Raw =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(socket: &mut Raw, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .expect("send");
}

/// The next text message.
async fn receive(socket: &mut Raw) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a message");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

/// The close code the server ends the socket with.
async fn closed_with(socket: &mut Raw) -> u16 {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a close in time");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Close(None))) | None => return u16::from(CloseCode::Status),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("the socket failed before closing: {e}"),
        }
    }
}

async fn acknowledged(app: &TestApp, token: &str) -> Raw {
    let mut socket = raw(app).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    socket
}

#[tokio::test]
async fn protocol_breaches_close_with_the_codes_of_graphql_transport_ws() {
    let app = TestApp::spawn_on(TestDb::with_fixture("indicators").await).await;
    let token = app.admin_token().await;

    let mut socket = raw(&app).await;
    socket
        .send(Message::Text("{ not json".into()))
        .await
        .expect("send");
    assert_eq!(closed_with(&mut socket).await, 4400);

    let mut socket = raw(&app).await;
    send(
        &mut socket,
        json!({ "type": "subscribe", "payload": { "query": "subscription { changesAvailable }" } }),
    )
    .await;
    assert_eq!(
        closed_with(&mut socket).await,
        4400,
        "a subscribe without id"
    );

    let mut socket = raw(&app).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "1", "payload": { "query": "subscription { changesAvailable }" } })).await;
    assert_eq!(closed_with(&mut socket).await, 4401);

    let mut socket = raw(&app).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer not-a-token" } }),
    )
    .await;
    assert_eq!(closed_with(&mut socket).await, 4403);

    let mut socket = acknowledged(&app, &token).await;
    // The client's ping is answered.
    send(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(receive(&mut socket).await["type"], "pong");
    let subscribe = json!({ "type": "subscribe", "id": "a", "payload": { "query": "subscription { changesAvailable }" } });
    send(&mut socket, subscribe.clone()).await;
    let next = receive(&mut socket).await;
    assert_eq!(next["type"], "next");
    assert_eq!(next["id"], "a");
    send(&mut socket, subscribe).await;
    assert_eq!(closed_with(&mut socket).await, 4409);

    let mut socket = acknowledged(&app, &token).await;
    send(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(closed_with(&mut socket).await, 4429);

    // A query is for HTTP, where reads are audited.
    let mut socket = acknowledged(&app, &token).await;
    send(
        &mut socket,
        json!({ "type": "subscribe", "id": "q", "payload": { "query": "{ changesHead }" } }),
    )
    .await;
    let refused = receive(&mut socket).await;
    assert_eq!(refused["type"], "error", "{refused:#}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "BAD_REQUEST");

    // Without the subprotocol there is no upgrade.
    let mut request = ws_url(&app).into_client_request().expect("a request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-ws".parse().expect("a header"),
    );
    assert!(tokio_tungstenite::connect_async(request).await.is_err());
}

#[tokio::test]
async fn a_socket_that_never_initialises_is_closed_with_4408() {
    let config = ServeConfig {
        ws_init_timeout_ms: 200,
        ..ServeConfig::ephemeral()
    };
    let app = TestApp::spawn_with(TestDb::new().await, config).await;
    let mut socket = raw(&app).await;
    assert_eq!(closed_with(&mut socket).await, 4408);
}

#[tokio::test]
async fn credentials_travel_in_connection_init_and_refused_or_expired_ones_close_with_4403() {
    let app = TestApp::spawn_on(TestDb::with_fixture("indicators").await).await;
    // An API key, as the HTTP endpoint takes it, with its scope.
    let (_, credential) = anju::auth::apikey::create(
        &app.db.db,
        "township B's wall screen",
        Role::Integration,
        TOWNSHIP_B,
        None,
    )
    .await
    .expect("an API key");
    let mut client = WsClient::connect(&app, json!({ "apiKey": credential })).await;
    client
        .subscribe(
            "own",
            WORKS,
            json!({ "scope": { "areaCode": TOWNSHIP_B }, "asOf": T }),
        )
        .await;
    assert_eq!(works(&client.event_of("own").await), "2/3");
    client
        .subscribe(
            "other",
            WORKS,
            json!({ "scope": { "areaCode": TOWNSHIP_A }, "asOf": T }),
        )
        .await;
    assert_eq!(refusal_code(&client.event_of("other").await), "NOT_FOUND");

    let mut client = WsClient::connect(&app, json!({ "authorization": "Bearer forged" })).await;
    let closed = client.event().await;
    assert_eq!(closed["event"], "closed", "{closed:#}");
    assert_eq!(closed["code"], 4403);

    let verifier = anju::auth::jwt::Verifier::from_config(&app.db.db, &app.auth, app.production)
        .await
        .expect("verifier")
        .expect("development key");
    let short = verifier
        .mint(
            "brief",
            Role::Officer,
            TOWNSHIP_A,
            None,
            Duration::from_secs(2),
        )
        .expect("a token");
    let mut client = WsClient::with_token(&app, &short).await;
    assert_eq!(client.event().await["event"], "connected");
    let closed = client.event().await;
    assert_eq!(closed["event"], "closed", "{closed:#}");
    assert_eq!(closed["code"], 4403);
    assert!(closed["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("expired"));
}

#[tokio::test]
async fn sockets_and_subscriptions_are_limited_and_charged() {
    let config = ServeConfig {
        ws_max_sockets: 1,
        ws_max_subscriptions: 1,
        rate_limits: "officer=30:1".into(),
        ..ServeConfig::ephemeral()
    };
    let app = TestApp::spawn_with(TestDb::with_fixture("indicators").await, config).await;
    let token = app.token(Role::Officer, TOWNSHIP_A, None).await;
    let mut socket = acknowledged(&app, &token).await;

    let mut second = raw(&app).await;
    send(
        &mut second,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await;
    assert_eq!(closed_with(&mut second).await, 4429);

    let subscribe = |id: &str| {
        json!({ "type": "subscribe", "id": id, "payload": {
            "query": WORKS, "variables": { "scope": { "areaCode": TOWNSHIP_A }, "asOf": T } } })
    };
    send(&mut socket, subscribe("one")).await;
    assert_eq!(receive(&mut socket).await["type"], "next");
    send(&mut socket, subscribe("two")).await;
    let refused = receive(&mut socket).await;
    assert_eq!(refused["type"], "error", "{refused:#}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );

    // Completing one frees its place; the next is charged like a query, and the bucket of 30
    // points cannot pay for a third of these.
    send(&mut socket, json!({ "type": "complete", "id": "one" })).await;
    send(&mut socket, subscribe("three")).await;
    let mut three = receive(&mut socket).await;
    while three["id"] == "one" {
        three = receive(&mut socket).await;
    }
    assert_eq!(three["type"], "next", "{three:#}");
    assert!(three["payload"]["errors"].is_null(), "{three:#}");
    send(&mut socket, json!({ "type": "complete", "id": "three" })).await;
    send(&mut socket, subscribe("four")).await;
    let mut four = receive(&mut socket).await;
    while four["id"] != "four" {
        four = receive(&mut socket).await;
    }
    assert_eq!(
        four["payload"]["errors"][0]["extensions"]["code"], "THROTTLED",
        "{four:#}"
    );
}

/// Two servers on one database, sharing `redis` under one prefix; hints between them only
/// through Redis (the periodic sweep is out of the way).
async fn replicas(redis: &TestRedis) -> (TestApp, TestApp) {
    replicas_on(redis.url(), redis.url()).await
}

/// Two servers on one database, the first on Redis `one`, the second on `two` (the same Redis,
/// or the same cluster named by other nodes).
async fn replicas_on(one: String, two: String) -> (TestApp, TestApp) {
    let db = TestDb::with_fixture("indicators").await;
    let prefix = format!("anju-test-{}", uuid::Uuid::new_v4().simple());
    let config = |url: &String| ServeConfig {
        cache: CacheConfig {
            redis_url: Some(url.clone()),
            prefix: prefix.clone(),
            redis_timeout_ms: 2000,
            hint_sweep_ms: 600_000,
            ..CacheConfig::default()
        },
        ..ServeConfig::ephemeral()
    };
    let other = db.share().await;
    let first = TestApp::spawn_with(db, config(&one)).await;
    let second = TestApp::spawn_with(other, config(&two)).await;
    (first, second)
}

#[tokio::test]
async fn a_write_through_one_replica_reaches_a_subscriber_on_the_other() {
    let redis = TestRedis::start().await;
    let (one, two) = replicas(&redis).await;
    let took = delivered_across(&one, &two).await;
    eprintln!("delivered across replicas {took:?} after the write");
}

/// Subscribes on `two` to a site's indicators, completes one of its works through `one`, and
/// checks that the subscriber hears of it; returns how long after the write it did.
async fn delivered_across(one: &TestApp, two: &TestApp) -> Duration {
    let token = two.token(Role::Viewer, TOWNSHIP_A, None).await;
    let mut client = WsClient::with_token(two, &token).await;
    client
        .subscribe(
            "site",
            WORKS,
            json!({ "scope": { "siteCode": "AZD001" }, "asOf": T }),
        )
        .await;
    assert_eq!(works(&client.event_of("site").await), "3/5");
    // Past the first second, so the update is not held back by the coalescing.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    complete_work(one, "AZD001-W5").await;
    let written = Instant::now();
    assert_eq!(works(&client.event_of("site").await), "4/5");
    written.elapsed()
}

#[tokio::test]
async fn hints_cross_a_redis_cluster_from_the_node_one_replica_publishes_on_to_another() {
    let cluster = crate::support::TestRedisCluster::start().await;
    let nodes: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect();
    // Hints use the first node a replica is given: the writer's is not the subscriber's.
    let reversed: Vec<String> = nodes.iter().rev().cloned().collect();
    let (one, two) = replicas_on(nodes.join(","), reversed.join(",")).await;
    delivered_across(&one, &two).await;
}

#[tokio::test]
async fn a_subscriber_catches_up_when_redis_comes_back() {
    let mut redis = TestRedis::start().await;
    let (one, two) = replicas(&redis).await;
    let token = two.token(Role::Viewer, TOWNSHIP_A, None).await;
    let mut client = WsClient::with_token(&two, &token).await;
    client
        .subscribe(
            "site",
            WORKS,
            json!({ "scope": { "siteCode": "AZD001" }, "asOf": T }),
        )
        .await;
    assert_eq!(works(&client.event_of("site").await), "3/5");

    // The write's hint is lost with Redis; replica two hears of it once Redis is back.
    redis.signal("KILL");
    let _ = redis.child.wait();
    complete_work(&one, "AZD001-W5").await;
    let port = redis.port;
    redis = TestRedis::start_on(port).await;
    assert_eq!(works(&client.event_of("site").await), "4/5");
    drop(redis);
}
