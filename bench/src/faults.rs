//! `anju-faults`: a steady load of queries and mutations through the balancer of the local
//! topology (`ops/topology up`), one fault injected partway (a replica killed, a Redis master
//! killed, the read standby stopped) and undone later, and what the clients saw: requests sent
//! and failed, latency percentiles, and how long the fault disturbed them.
//!
//! A request fails when it gets no HTTP answer, a status other than 200, a GraphQL error, or (a
//! mutation) a user error. Mutations rename sites, each worker its own, with the version it
//! last read and an `idempotencyKey`: the balancer may send one again to another replica.

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Fault {
    /// No fault: the baseline.
    None,
    /// `kill -9` replica 2, started again when the fault is undone.
    Replica,
    /// `kill -9` the Redis master of slot 0 (its replica takes over), started again as a
    /// replica when the fault is undone.
    RedisMaster,
    /// Stop the read standby (reads fall back to the primary), started again when undone.
    Standby,
}

/// How `anju-faults` runs.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "anju-faults",
    about = "A steady load through the topology's balancer, one fault injected and undone, and what clients saw"
)]
pub struct FaultOptions {
    /// The balancer's base URL.
    #[arg(long, default_value = "http://127.0.0.1:18080")]
    pub url: String,
    /// The topology script, which injects and undoes the fault (and mints the token).
    #[arg(long, default_value = "ops/topology")]
    pub topology: PathBuf,
    /// The fault.
    #[arg(long, value_enum)]
    pub fault: Fault,
    /// Length of the whole run, in seconds (at most 60).
    #[arg(long, default_value_t = 40)]
    pub seconds: u64,
    /// When the fault is injected, in seconds from the start.
    #[arg(long, default_value_t = 10)]
    pub fault_at: u64,
    /// When the fault is undone, in seconds from the start.
    #[arg(long, default_value_t = 25)]
    pub undo_at: u64,
    /// Concurrent clients, each with its own keep-alive connection and its own site to rename.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// One request in this many is a mutation.
    #[arg(long, default_value_t = 4)]
    pub mutation_every: u64,
}

/// One request as a client saw it.
#[derive(Debug, Clone)]
struct Outcome {
    started: Duration,
    latency: Duration,
    mutation: bool,
    failed: Option<String>,
}

/// Runs the drill and prints its figures.
pub async fn run(options: FaultOptions) -> anyhow::Result<()> {
    if options.seconds > 60 || options.fault_at >= options.seconds {
        bail!("--seconds must be at most 60 and --fault-at before its end");
    }
    let token = topology(&options, &["token", "faults"]).await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()?;
    let endpoint = format!("{}/graphql", options.url.trim_end_matches('/'));
    let sites = post(
        &client,
        &endpoint,
        &token,
        json!({ "query": format!("{{ sites(first: {}) {{ nodes {{ code version }} }} }}", options.workers) }),
    )
    .await
    .context("listing the sites the workers rename")?;
    let sites: Vec<(String, i64)> = sites["data"]["sites"]["nodes"]
        .as_array()
        .context("no sites in the register")?
        .iter()
        .filter_map(|n| Some((n["code"].as_str()?.to_owned(), n["version"].as_i64()?)))
        .collect();
    if sites.len() < options.workers {
        bail!(
            "the register has {} sites, fewer than the workers",
            sites.len()
        );
    }
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let start = Instant::now();
    let end = start + Duration::from_secs(options.seconds);
    let mut workers = Vec::new();
    for (i, (code, version)) in sites.into_iter().enumerate() {
        // A principal of its own: each worker is a client, with its own rate-limit budget.
        let token = topology(&options, &["token", &format!("faults-{i}")]).await?;
        let (client, endpoint) = (client.clone(), endpoint.clone());
        let outcomes = outcomes.clone();
        let every = options.mutation_every.max(1);
        workers.push(tokio::spawn(async move {
            let mut version = version;
            let mut n: u64 = 0;
            let mut mine = Vec::new();
            while Instant::now() < end {
                n += 1;
                let mutation = n.is_multiple_of(every);
                let body = if mutation {
                    json!({
                        "query": "mutation($input: UpdateSiteInput!) { updateSite(input: $input) { site { version } userErrors { code message } } }",
                        "variables": { "input": {
                            "idempotencyKey": uuid::Uuid::new_v4().simple().to_string(),
                            "code": code, "version": version, "name": format!("安置点 {i}-{n}") } }
                    })
                } else {
                    read_body(i as u64 + n, &code)
                };
                let sent = Instant::now();
                let answer = post(&client, &endpoint, &token, body).await;
                let latency = sent.elapsed();
                let failed = match answer {
                    Err(e) => Some(format!("{e:#}")),
                    Ok(v) if v.get("errors").is_some() => Some(v["errors"].to_string()),
                    Ok(v) if mutation => {
                        let payload = &v["data"]["updateSite"];
                        match payload["userErrors"].as_array() {
                            Some(errors) if errors.is_empty() => {
                                version = payload["site"]["version"].as_i64().unwrap_or(version);
                                None
                            }
                            _ => Some(payload.to_string()),
                        }
                    }
                    Ok(_) => None,
                };
                mine.push(Outcome {
                    started: sent - start,
                    latency,
                    mutation,
                    failed,
                });
            }
            outcomes.lock().await.extend(mine);
        }));
    }
    // The fault, and its undoing, on schedule.
    let at = |s: u64| tokio::time::Instant::from_std(start + Duration::from_secs(s));
    let mut injected = None;
    if options.fault != Fault::None {
        tokio::time::sleep_until(at(options.fault_at)).await;
        // The fault's time is when it starts being injected (stopping a server takes a while).
        injected = Some(start.elapsed());
        let what = inject(&options).await?;
        eprintln!(
            "faults: injected {:?} ({what}) from {:.1}s to {:.1}s",
            options.fault,
            injected.unwrap_or_default().as_secs_f64(),
            start.elapsed().as_secs_f64()
        );
        if options.undo_at < options.seconds {
            tokio::time::sleep_until(at(options.undo_at)).await;
            undo(&options, &what).await?;
            eprintln!("faults: undone at {:.1}s", start.elapsed().as_secs_f64());
        }
    }
    for w in workers {
        w.await?;
    }
    let outcomes = outcomes.lock().await.clone();
    report(&options, &outcomes, injected)
}

/// A query of the mix: indicators of a site at one of a few dates, the site's households, or
/// a page of sites; a few shapes and dates, so the caches both hit and miss.
fn read_body(k: u64, site: &str) -> Value {
    let as_of = ["2019-12-31", "2020-06-30", "2020-12-31", "2021-06-30"][(k % 4) as usize];
    match k % 3 {
        0 => json!({ "query": format!(
            "{{ site(code: \"{site}\") {{ indicators(asOf: \"{as_of}\") {{ occupancy {{ rate }} employment {{ rate }} }} }} }}") }),
        1 => json!({ "query": format!(
            "{{ site(code: \"{site}\") {{ name version households(first: 5) {{ nodes {{ code persons movedInOn }} }} }} }}") }),
        _ => json!({ "query": "{ sites(first: 20) { nodes { code name version } } }" }),
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let resp = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    if status != reqwest::StatusCode::OK {
        bail!(
            "HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        );
    }
    Ok(serde_json::from_str(&text)?)
}

async fn topology(options: &FaultOptions, args: &[&str]) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(&options.topology)
        .args(args)
        .output()
        .await
        .with_context(|| format!("running {}", options.topology.display()))?;
    if !out.status.success() {
        bail!(
            "{} {args:?} failed: {}",
            options.topology.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

async fn inject(options: &FaultOptions) -> anyhow::Result<String> {
    match options.fault {
        Fault::None => Ok(String::new()),
        Fault::Replica => topology(options, &["kill-replica", "2"])
            .await
            .map(|_| "replica 2".into()),
        Fault::RedisMaster => topology(options, &["kill-redis-master"])
            .await
            .map(|p| format!("Redis :{p}")),
        Fault::Standby => topology(options, &["stop-standby"])
            .await
            .map(|_| "standby".into()),
    }
}

async fn undo(options: &FaultOptions, what: &str) -> anyhow::Result<()> {
    match options.fault {
        Fault::None => {}
        Fault::Replica => {
            topology(options, &["start-replica", "2"]).await?;
        }
        Fault::RedisMaster => {
            let port = what.trim_start_matches("Redis :");
            topology(options, &["restart-redis", port]).await?;
        }
        Fault::Standby => {
            topology(options, &["start-standby"]).await?;
        }
    }
    Ok(())
}

fn report(
    options: &FaultOptions,
    outcomes: &[Outcome],
    injected: Option<Duration>,
) -> anyhow::Result<()> {
    println!(
        "fault: {:?}; {} s, {} workers, fault at {} s, undone at {} s",
        options.fault, options.seconds, options.workers, options.fault_at, options.undo_at
    );
    println!("| requests | sent | failed | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (label, mutation) in [("queries", false), ("mutations", true)] {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let mut failed = 0;
        let mut sent = 0;
        for o in outcomes.iter().filter(|o| o.mutation == mutation) {
            sent += 1;
            failed += usize::from(o.failed.is_some());
            h.saturating_record(o.latency.as_micros() as u64);
        }
        println!(
            "| {label} | {sent} | {failed} | {:.1} | {:.1} | {:.1} |",
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
            h.max() as f64 / 1000.0
        );
    }
    for o in outcomes.iter().filter(|o| o.failed.is_some()).take(10) {
        println!(
            "failed at {:.2}s ({}): {}",
            o.started.as_secs_f64(),
            if o.mutation { "mutation" } else { "query" },
            o.failed.as_deref().unwrap_or_default()
        );
    }
    if let Some(at) = injected {
        // The clients' view of recovery: from the fault to the end of the last request that
        // failed or took longer than three times the p99 its kind had before the fault.
        let mut slow = [Duration::ZERO; 2];
        for mutation in [false, true] {
            let mut before = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            for o in outcomes
                .iter()
                .filter(|o| o.started < at && o.mutation == mutation)
            {
                before.saturating_record(o.latency.as_micros() as u64);
            }
            slow[usize::from(mutation)] = Duration::from_micros(before.value_at_quantile(0.99) * 3);
        }
        println!(
            "slow: over {} ms for a query, {} ms for a mutation (3 × p99 before the fault)",
            slow[0].as_millis(),
            slow[1].as_millis()
        );
        let undo = Duration::from_secs(options.undo_at);
        let last = |from: Duration, to: Duration| {
            let hit: Vec<&Outcome> = outcomes
                .iter()
                .filter(|o| o.started >= from && o.started < to)
                .filter(|o| o.failed.is_some() || o.latency > slow[usize::from(o.mutation)])
                .collect();
            (hit.len(), hit.iter().map(|o| o.started + o.latency).max())
        };
        match last(at, undo) {
            (n, Some(t)) => println!(
                "after the fault: {n} requests failed or slow, the last ending {:.2} s after it",
                (t - at).as_secs_f64()
            ),
            _ => println!("after the fault: no request failed or was slow"),
        }
        match last(undo, Duration::from_secs(options.seconds + 30)) {
            (n, Some(t)) => println!(
                "after the undoing: {n} requests failed or slow, the last ending {:.2} s after it",
                (t - undo).as_secs_f64()
            ),
            _ => println!("after the undoing: no request failed or was slow"),
        }
    }
    Ok(())
}
