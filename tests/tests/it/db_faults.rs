//! The database losing connections under the server (a PostgreSQL restart, a killed backend):
//! the audit of an unmasked read is retried on a fresh connection, and a query whose connection
//! died answers 503 with `Retry-After`, never `INTERNAL`. PostgreSQL only: these faults are
//! made by terminating the server's backends.

use crate::support::TestApp;
use anju::auth::Role;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Whether the test can run: these faults need PostgreSQL.
fn on_postgres(app: &TestApp) -> bool {
    if !app.db.is_postgres() {
        eprintln!("skipped: needs ANJU_TEST_DATABASE_URL (PostgreSQL)");
    }
    app.db.is_postgres()
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let row = app
        .db
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            sql,
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn an_audit_insert_on_a_killed_connection_is_retried_on_a_fresh_one() {
    let app = TestApp::with_fixture("indicators").await;
    if !on_postgres(&app) {
        return;
    }
    // The first audit row inserted kills the connection inserting it, as a database restart
    // would in the middle of the statement (a sequence, unlike a table, survives the rollback).
    app.db
        .db
        .execute_unprepared(
            "CREATE SEQUENCE audit_kills; \
             CREATE FUNCTION kill_first_audit() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN \
               IF nextval('audit_kills') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; \
               RETURN NEW; \
             END $$; \
             CREATE TRIGGER kill_first_audit BEFORE INSERT ON audit_log \
               FOR EACH ROW EXECUTE FUNCTION kill_first_audit();",
        )
        .await
        .unwrap();
    let officer = app.token(Role::Officer, "522732", None).await;
    let q = r#"{ household(code: "H02") { headName headIdNumber members(first: 10) { nodes { name idNumber } } } }"#;
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&officer)
        .header("Anju-Purpose", "relocation follow-up visit")
        .json(&json!({ "query": q }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body:#}");
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(
        body["data"]["household"]["headIdNumber"],
        "522732198201050215"
    );
    assert!(
        scalar(&app, "SELECT last_value FROM audit_kills").await >= 2,
        "the first insert was attempted and killed"
    );
    // The household and its members: one row each, written by the retry.
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'read_unmasked' \
             AND purpose = 'relocation follow-up visit'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn an_audit_that_cannot_be_written_withholds_the_response_with_503() {
    let app = TestApp::with_fixture("indicators").await;
    if !on_postgres(&app) {
        return;
    }
    // Every audit insert kills its connection: the retry fails too.
    app.db
        .db
        .execute_unprepared(
            "CREATE FUNCTION kill_every_audit() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$; \
             CREATE TRIGGER kill_every_audit BEFORE INSERT ON audit_log \
               FOR EACH ROW EXECUTE FUNCTION kill_every_audit();",
        )
        .await
        .unwrap();
    let officer = app.token(Role::Officer, "522732", None).await;
    let q = r#"{ household(code: "H02") { headIdNumber } }"#;
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&officer)
        .json(&json!({ "query": q }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert!(
        body.get("data").is_none(),
        "the response is withheld: {body:#}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "DATABASE_UNAVAILABLE"
    );
    assert!(!body.to_string().contains("522732198201050215"));
}

#[tokio::test]
async fn a_statement_on_a_killed_connection_answers_503_not_internal() {
    let app = TestApp::with_fixture("indicators").await;
    if !on_postgres(&app) {
        return;
    }
    let admin = app.admin_token().await;
    // Writes take turns on an advisory lock: holding it parks the server's write on its
    // connection, which is then terminated with every other backend of the database.
    let holder = app.db.db.begin().await.unwrap();
    holder
        .execute_unprepared("SELECT pg_advisory_xact_lock(2637010401)")
        .await
        .unwrap();
    let mutation = "mutation($input: RecordWorkCompletionInput!) { recordWorkCompletion(input: $input) { work { version } userErrors { code } } }";
    let input = |key: &str| json!({ "input": { "idempotencyKey": key, "code": "AZD001-W5", "version": 1, "completedOn": "2020-06-30" } });
    let request = {
        let (client, base, admin, vars) = (
            app.client.clone(),
            app.base.clone(),
            admin.clone(),
            input("killed"),
        );
        tokio::spawn(async move {
            let resp = client
                .post(format!("{base}/graphql"))
                .bearer_auth(&admin)
                .json(&json!({ "query": mutation, "variables": vars }))
                .send()
                .await
                .unwrap();
            let (status, retry_after) = (resp.status(), resp.headers().get("retry-after").cloned());
            (status, retry_after, resp.json::<Value>().await.unwrap())
        })
    };
    let waiting = Instant::now();
    loop {
        let parked = holder
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        if parked > 0 {
            break;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the write never waited on the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    holder
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap();
    holder.rollback().await.unwrap();

    let (status, retry_after, body) = request.await.unwrap();
    assert_eq!(status, 503, "{body:#}");
    assert!(retry_after.is_some(), "503 without Retry-After");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "DATABASE_UNAVAILABLE",
        "{body:#}"
    );
    assert!(body["errors"][0]["extensions"]["requestId"].is_string());
    assert!(
        !body.to_string().contains("terminating"),
        "the cause stays on the server: {body:#}"
    );

    // The pool replaces its dead connections: the write goes through when sent again.
    let body = app.query_as(Some(&admin), mutation, input("again")).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(body["data"]["recordWorkCompletion"]["work"]["version"], 2);
}
