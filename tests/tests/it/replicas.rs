//! Two `anju serve` processes on one database and one Redis: a correction imported through the
//! `anju import` command shows in the very next read through either of them.

use crate::support::{edit_csv, fixture, fixture_copy, free_port, TestDb, TestRedis};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `anju` binary of this build (`cargo test --workspace` builds it beside the tests).
fn anju_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join(format!("anju{}", std::env::consts::EXE_SUFFIX)))
        .expect("target folder");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace`",
        bin.display()
    );
    bin
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(anju_bin());
    cmd.env_remove("REDIS_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

async fn serve(env: &[(&str, String)]) -> Server {
    let port = free_port();
    let child = command(env)
        .arg("serve")
        .env("ANJU_LISTEN", format!("127.0.0.1:{port}"))
        .env("ANJU_DEMO_IF_EMPTY", "false")
        .spawn()
        .expect("start anju serve");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client
            .get(format!("{}/livez", server.base))
            .send()
            .await
            .is_ok()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("anju serve did not come up on port {port}");
}

async fn occupancy(client: &reqwest::Client, server: &Server) -> (i64, i64) {
    let q = r#"{ indicators(scope: { areaCode: "522732" }, asOf: "2020-06-30") { occupancy { numerator denominator } } }"#;
    let body: Value = client
        .post(format!("{}/graphql", server.base))
        .json(&json!({ "query": q }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let o = &body["data"]["indicators"]["occupancy"];
    (
        o["numerator"].as_i64().unwrap_or(-1),
        o["denominator"].as_i64().unwrap_or(-1),
    )
}

#[tokio::test]
async fn a_cli_import_is_seen_at_once_by_every_replica() {
    let redis = TestRedis::start().await;
    let db = TestDb::new().await;
    anju::register::import_dir(&db.db, &fixture("indicators"))
        .await
        .expect("import fixture");
    let env = [
        ("DATABASE_URL", db.config.url.clone()),
        ("REDIS_URL", redis.url()),
        (
            "ANJU_CACHE_PREFIX",
            format!("anju-test-{}", uuid::Uuid::new_v4().simple()),
        ),
    ];
    let (one, two) = (serve(&env).await, serve(&env).await);
    let client = reqwest::Client::new();
    for _ in 0..2 {
        assert_eq!(occupancy(&client, &one).await, (6, 8));
        assert_eq!(occupancy(&client, &two).await, (6, 8));
    }

    let fix = fixture_copy("indicators");
    edit_csv(
        fix.path(),
        "households.csv",
        "522732102202,AZD002,2,true,,,",
        "522732102202,AZD002,2,true,2020-06-01,,",
    );
    let status = command(&env)
        .arg("import")
        .arg(fix.path())
        .status()
        .expect("run anju import");
    assert!(status.success(), "anju import failed");

    assert_eq!(occupancy(&client, &one).await, (7, 8));
    assert_eq!(occupancy(&client, &two).await, (7, 8));
}
