//! `anju-bench`: a reproducible measurement of the API under load.
//!
//! It generates the demo data set at a chosen size (deterministic for a seed), imports it into
//! the configured database in a child process (this program again, doing what `anju import`
//! does), starts the real server in this process on a free loopback port, and drives each query
//! of a fixed mix (`queries`) with concurrent keep-alive connections for a fixed time. The server
//! runs in-process so that its resident set and its SQL statement counter can be read directly;
//! the load generator shares the process and the machine's cores with it, which is worth
//! remembering when comparing with a server measured from another host.
//!
//! It is a tool beside the service, not part of it: it depends on the service library (`anju`)
//! and the demo generator (`anju-demo`), and brings its HTTP client and histograms with it.

pub mod faults;
mod load;
mod peer;
mod queries;
mod report;
pub mod sql;
mod subscribe;

use anju::config::{AuthConfig, CacheConfig, DatabaseConfig, ServeConfig};
use anju::{db, startup};
use anju_demo as demo;
use anyhow::{bail, ensure, Context};
use clap::Args;
use entity::enums::AreaLevel;
use queries::Drive;
use report::Row;
use sea_orm::{EntityTrait, PaginatorTrait};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How `anju-bench` runs.
#[derive(Debug, Clone, Args)]
pub struct BenchOptions {
    /// Households to generate (170,000 is about a province).
    #[arg(long, default_value_t = 170_000)]
    pub households: usize,
    /// People in all [default: the province's 560,000 per 170,000 households].
    #[arg(long)]
    pub people: Option<usize>,
    /// Resettlement sites in all [default: the province's 1,900 per 170,000 households].
    #[arg(long)]
    pub sites: Option<usize>,
    /// Random seed of the data set; the same seed and size always give the same data.
    #[arg(long, default_value_t = demo::DemoOptions::default().seed)]
    pub seed: u64,
    /// Seconds each query is measured for (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Concurrent connections, each sending its next request as soon as it has an answer
    /// (Q3 uses at most 16).
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Measure the database as it is, without generating or importing anything.
    #[arg(long)]
    pub skip_import: bool,
    /// Run only these queries, comma-separated (`Q1` is `Q1a` and `Q1b`).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Print the query texts and exit.
    #[arg(long)]
    pub list: bool,
    /// Also measure PostGraphile 5 serving the same database (PostgreSQL only) with the same
    /// requests in its names, for the rows that have a peer text, and print the ratios
    /// (installs it with npm on first use).
    #[arg(long)]
    pub peer: bool,
    /// Where the peer's package is [default: the `postgraphile` folder of the bench crate].
    #[arg(long, value_name = "DIR")]
    pub peer_dir: Option<std::path::PathBuf>,
}

/// Shanxi's relocation, the province the default data set is shaped like: 560,000 people in
/// about 170,000 households, on about 1,900 sites.
const PROVINCE_HOUSEHOLDS: usize = 170_000;
const PROVINCE_PEOPLE: usize = 560_000;
const PROVINCE_SITES: usize = 1_900;

/// `per_province` scaled from the province's households to `households`, rounded.
fn province_share(households: usize, per_province: usize) -> usize {
    let scaled = (households as u128 * per_province as u128 + PROVINCE_HOUSEHOLDS as u128 / 2)
        / PROVINCE_HOUSEHOLDS as u128;
    usize::try_from(scaled).unwrap_or(usize::MAX)
}

/// The name of the server's threads, whose CPU time is the server's.
const SERVER_THREADS: &str = "anju-server";

/// Sent before each measured window and not counted.
const WARMUP: Duration = Duration::from_secs(1);

/// Runs the benchmark and prints its report to stdout (progress goes to stderr).
pub async fn run(
    database: DatabaseConfig,
    cache: CacheConfig,
    auth: AuthConfig,
    opts: BenchOptions,
) -> anyhow::Result<()> {
    if opts.list {
        print!("{}", queries::listing());
        return Ok(());
    }
    let selected = queries::select(&opts.only)?;
    ensure!(opts.duration > 0, "--duration must be at least 1 second");
    ensure!(opts.connections > 0, "--connections must be at least 1");
    let backend = if database.url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };

    // Personal data is granted to admins only, whatever the configuration says, so that Q3x
    // (an admin: unmasked and audited) and Q3m (an officer: masked) measure the two ways a page
    // of households is served.
    let auth = AuthConfig {
        pii_roles: "admin".into(),
        ..auth
    };
    let data = prepare(&database, &opts).await?;
    let after_import = report::memory();
    let peak_was_reset = report::reset_peak();

    // The server runs on a runtime of its own, as it would in a process of its own: its threads
    // are not the load generator's, and their CPU time is the server's alone.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(SERVER_THREADS)
        .build()
        .context("cannot start the server's runtime")?;
    let config = ServeConfig {
        demo_if_empty: false,
        cache: cache.clone(),
        auth: auth.clone(),
        // Q8's subscribers are one principal's.
        ws_max_sockets: subscribe::SUBSCRIBERS * 2,
        ..ServeConfig::ephemeral()
    };
    let app = server_runtime
        .spawn(startup::Application::build(database.clone(), config))
        .await
        .context("the server's runtime failed")?
        .context("cannot start the server")?;
    let callers = Callers {
        admin: format!("Bearer {}", admin_token(&app.state().db, &auth).await?),
        officer: format!(
            "Bearer {}",
            officer_token(&app.state().db, &auth, AreaLevel::Province).await?
        ),
        county_officer: format!(
            "Bearer {}",
            officer_token(&app.state().db, &auth, AreaLevel::County).await?
        ),
    };
    let url = format!("http://127.0.0.1:{}/graphql", app.port());
    let statements = app.state().statements.clone();
    let server = server_runtime.spawn(app.run_until_stopped());
    let at_start = report::memory();

    let peer = if opts.peer && selected.iter().any(|q| q.peer.is_some()) {
        let dir = opts.peer_dir.clone().unwrap_or_else(peer::default_dir);
        Some(peer::Peer::start(&dir, &database.url, database.max_connections).await?)
    } else {
        None
    };
    let outcome = measure(
        &database,
        &url,
        &callers,
        peer.as_ref(),
        &statements,
        &selected,
        &opts,
    )
    .await;
    server.abort();
    server_runtime.shutdown_background();
    let peer_name = peer.as_ref().map(|p| p.name.clone());
    if let Some(peer) = peer {
        peer.stop().await;
    }
    let measured = outcome?;

    let mut out = String::new();
    out.push_str(&format!(
        "Anju bench: {backend}, {}; {} s per query after {} s warm-up\n\n",
        data.describe(),
        opts.duration,
        WARMUP.as_secs()
    ));
    out.push_str(&format!("- generate: {}\n", data.generate));
    out.push_str(&format!("- import: {}\n", data.import));
    for cold in &measured.cold {
        out.push_str(&format!("- cold {cold}\n"));
    }
    if let Some(m) = after_import {
        out.push_str(&format!(
            "- RSS before the server starts: {:.0} MB (peak so far {:.0} MB)\n",
            m.rss_mb, m.peak_mb
        ));
    }
    if let Some(m) = at_start {
        out.push_str(&format!(
            "- RSS with the server started: {:.0} MB\n",
            m.rss_mb
        ));
    }
    if let Some(m) = report::memory() {
        let since = if peak_was_reset {
            "since the server started"
        } else {
            "since the process started"
        };
        out.push_str(&format!(
            "- peak RSS (VmHWM) {since}: {:.0} MB\n",
            m.peak_mb
        ));
    }
    out.push('\n');
    out.push_str(&report::markdown_table(&measured.rows));
    if let Some(name) = peer_name {
        out.push_str(&format!(
            "\nAgainst {name} over the same database, with the same connections, each row right \
             after Anju's (both answers checked to hold the same records first):\n\n"
        ));
        out.push_str(&report::peer_table(&measured.peer_rows, &name));
    }
    for note in &measured.notes {
        out.push_str(&format!("\n{note}\n"));
    }
    print!("{out}");
    for (query, error) in &measured.first_errors {
        eprintln!("{query}: first error: {error}");
    }
    Ok(())
}

/// How the data came to be in the database.
struct Data {
    households: u64,
    seed: Option<u64>,
    generate: String,
    import: String,
}

impl Data {
    fn describe(&self) -> String {
        match self.seed {
            Some(seed) => format!("{} households (seed {seed})", self.households),
            None => format!("{} households (the database as it was)", self.households),
        }
    }
}

/// Generates and imports the data set, or checks that `--skip-import` has something to measure.
async fn prepare(database: &DatabaseConfig, opts: &BenchOptions) -> anyhow::Result<Data> {
    let (conn, _) = db::connect(database)
        .await
        .context("cannot connect to the database")?;
    startup::migrate(&conn)
        .await
        .context("cannot migrate the database")?;
    let existing = entity::household::Entity::find().count(&conn).await?;
    if opts.skip_import {
        ensure!(
            existing > 0,
            "the database holds no households: run without --skip-import to generate and import \
             the data set"
        );
        conn.close().await?;
        return Ok(Data {
            households: existing,
            seed: None,
            generate: "skipped (--skip-import)".into(),
            import: "skipped (--skip-import)".into(),
        });
    }
    if existing > 0 {
        bail!(
            "the database already holds {existing} households; the benchmark imports into an empty \
             database only. Pass --skip-import to measure it as it is, or point --database-url at \
             an empty database"
        );
    }

    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let demo_opts = demo::DemoOptions {
        households: opts.households,
        seed: opts.seed,
        persons: Some(
            opts.people
                .unwrap_or(province_share(opts.households, PROVINCE_PEOPLE)),
        ),
        sites: Some(
            opts.sites
                .unwrap_or(province_share(opts.households, PROVINCE_SITES).max(1)),
        ),
    };
    eprintln!("generating {} households…", opts.households);
    let started = Instant::now();
    let generated = demo::write_csv(&demo_opts, dir.path()).context("cannot write the data set")?;
    let generate = started.elapsed();
    eprintln!("importing…");
    let started = Instant::now();
    import_in_child(database, dir.path()).await?;
    let import = started.elapsed();
    let members = entity::member::Entity::find().count(&conn).await?;
    let employments = entity::employment::Entity::find().count(&conn).await?;
    let homesteads = entity::homestead::Entity::find().count(&conn).await?;
    conn.close().await?;
    Ok(Data {
        households: generated.households as u64,
        seed: Some(opts.seed),
        generate: format!(
            "{:.2} s ({} areas, {} sites, {} households, {} people)",
            generate.as_secs_f64(),
            generated.areas,
            generated.sites,
            generated.households,
            generated.persons
        ),
        import: format!(
            "{:.2} s ({} members, {} employments, {} homesteads)",
            import.as_secs_f64(),
            members,
            employments,
            homesteads
        ),
    })
}

/// Imports `dir` in a child process, as an operator would run `anju import`: the import's
/// memory stays out of the server's resident set, which the benchmark measures in this process.
/// The child is this program again, started with the hidden `--import-child DIR`
/// (see [`import_child`]).
async fn import_in_child(database: &DatabaseConfig, dir: &std::path::Path) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the anju-bench executable")?;
    let output = tokio::process::Command::new(exe)
        .arg("--database-url")
        .arg(&database.url)
        .arg("--import-child")
        .arg(dir)
        .output()
        .await
        .context("cannot start the import")?;
    if !output.status.success() {
        bail!(
            "the import failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// The child's side of `import_in_child`: what `anju import` does. It migrates the database,
/// imports `dir` in one transaction and, when Redis is configured, mirrors the raised cache
/// generations there.
pub async fn import_child(
    database: &DatabaseConfig,
    cache: &CacheConfig,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let (conn, _) = db::connect(database).await?;
    startup::migrate(&conn).await?;
    anju::register::import_dir(&conn, dir).await?;
    if cache.redis_url.is_some() {
        let cache = anju::cache::Cache::open(conn.clone(), cache).await?;
        cache.wait_connected(Duration::from_secs(2)).await;
        cache.publish_generations().await?;
    }
    Ok(())
}

/// The tokens the benchmark's callers send (see [`queries::Caller`]).
struct Callers {
    admin: String,
    officer: String,
    county_officer: String,
}

impl Callers {
    fn of(&self, caller: queries::Caller) -> &str {
        match caller {
            queries::Caller::Admin => &self.admin,
            queries::Caller::Officer => &self.officer,
            queries::Caller::CountyOfficer => &self.county_officer,
        }
    }
}

/// Everything measured against the running server.
struct Measured {
    cold: Vec<String>,
    /// Figures beside the table.
    notes: Vec<String>,
    rows: Vec<Row>,
    /// Anju's row and the peer's, for the rows measured against the peer.
    peer_rows: Vec<(Row, Row)>,
    first_errors: Vec<(&'static str, String)>,
}

/// The areas scoped queries run against, and where the feed's reader starts.
struct Areas {
    county: String,
    province: String,
    feed_start: String,
}

async fn measure(
    database: &DatabaseConfig,
    url: &str,
    callers: &Callers,
    peer: Option<&peer::Peer>,
    statements: &db::StatementCounter,
    selected: &[queries::BenchQuery],
    opts: &BenchOptions,
) -> anyhow::Result<Measured> {
    let client = load::client()?;
    let authorization = callers.of(queries::Caller::Admin);
    let authorization_of = |q: &queries::BenchQuery| callers.of(q.caller);
    let areas = discover(&client, url, authorization, database).await?;
    let body_of = |q: &queries::BenchQuery| {
        let variables = match q.scope {
            queries::Scope::None => None,
            queries::Scope::County => Some(serde_json::json!({ "area": areas.county })),
            queries::Scope::Province => Some(serde_json::json!({ "area": areas.province })),
            queries::Scope::Feed | queries::Scope::CountyFeed => {
                Some(serde_json::json!({ "after": areas.feed_start }))
            }
        };
        let mut body = serde_json::json!({ "query": q.text });
        if let Some(variables) = variables {
            body["variables"] = variables;
        }
        body.to_string()
    };

    // Cold: the first call of each, one at a time, before any load warms anything.
    let mut cold = Vec::new();
    for q in selected.iter().filter(|q| q.cold) {
        let started = Instant::now();
        let outcome = load::send(&client, url, authorization_of(q), &body_of(q), false).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let area = match q.scope {
            queries::Scope::Province => &areas.province,
            _ => &areas.county,
        };
        cold.push(match outcome {
            Ok(_) => format!("{} ({area}): {} ms", q.id, report::format_ms(ms)),
            Err(e) => format!(
                "{} ({area}): failed after {} ms: {e}",
                q.id,
                report::format_ms(ms)
            ),
        });
    }
    let works = if selected.iter().any(|q| q.drive == Drive::WithWrites) {
        works(&client, url, authorization).await?
    } else {
        Vec::new()
    };
    // Both servers must answer the peer rows with the same records, or the ratio means nothing.
    if let Some(peer) = peer {
        for q in selected {
            if let Some(text) = q.peer {
                same_records(&client, url, authorization_of(q), &body_of(q), peer, text)
                    .await
                    .with_context(|| format!("{}: Anju and {} disagree", q.id, peer.name))?;
            }
        }
    }
    drop(client);
    // Q3sql's own pool, as large as its connections, so that no request waits for another's.
    let sql = match selected.iter().find(|q| q.drive == Drive::Sql) {
        Some(q) => {
            let config = DatabaseConfig {
                max_connections: u32::try_from(q.connections(opts.connections)).unwrap_or(u32::MAX),
                ..database.clone()
            };
            let (conn, counter) = db::connect(&config)
                .await
                .context("cannot connect to the database for Q3sql")?;
            Some((Arc::new(sql::PageSql::new(conn, &areas.province)), counter))
        }
        None => None,
    };

    let mut rows = Vec::new();
    let mut peer_rows = Vec::new();
    let mut notes = Vec::new();
    let mut first_errors = Vec::new();
    for q in selected {
        if q.drive == Drive::Subscribe {
            eprintln!(
                "{}: {} subscribers, {} writes…",
                q.id,
                subscribe::SUBSCRIBERS,
                opts.duration
            );
            let statements_before = statements.get();
            let sampler = RssSampler::start();
            let delivered = subscribe::drive(
                url,
                authorization,
                &areas.province,
                usize::try_from(opts.duration).unwrap_or(usize::MAX),
            )
            .await?;
            let rss_mb = sampler.stop().await;
            let values = delivered.latencies.len();
            let ms = |q: f64| {
                report::percentile_ms(&delivered.from_request, q)
                    .map_or("-".to_owned(), report::format_ms)
            };
            notes.push(format!(
                "{}: from each write's request (not its response) to each value: p50 {} ms, \
                 p99 {} ms, max {} ms",
                q.id,
                ms(0.50),
                ms(0.99),
                ms(1.0)
            ));
            rows.push(Row {
                query: q.id.to_string(),
                connections: subscribe::SUBSCRIBERS,
                requests_per_sec: delivered.per_second,
                p50_ms: report::percentile_ms(&delivered.latencies, 0.50),
                p99_ms: report::percentile_ms(&delivered.latencies, 0.99),
                errors: delivered.missed,
                statements_per_request: (values > 0).then(|| {
                    statements.get().saturating_sub(statements_before) as f64 / values as f64
                }),
                rss_mb,
                whole_run: false,
                cpu_ms_per_request: None,
            });
            if let Some(e) = delivered.first_error {
                first_errors.push((q.id, e));
            }
            continue;
        }
        let connections = q.connections(opts.connections);
        eprintln!(
            "{}: {connections} connections, {} s…",
            q.id,
            WARMUP.as_secs() + opts.duration
        );
        let spec = load::LoadSpec {
            url: url.to_string(),
            body: body_of(q),
            authorization: authorization_of(q).to_string(),
            writes: (q.drive == Drive::WithWrites).then(|| load::Writes {
                every: queries::WRITE_EVERY,
                works: works.clone(),
            }),
            fresh: q.drive == Drive::Fresh,
            sql: sql
                .as_ref()
                .filter(|_| q.drive == Drive::Sql)
                .map(|(page, _)| page.clone()),
            connections,
            warmup: WARMUP,
            duration: Duration::from_secs(opts.duration),
        };
        // Q3sql's statements are its own pool's; every other query's are the server's.
        let counter = match &sql {
            Some((_, own)) if q.drive == Drive::Sql => own,
            _ => statements,
        };
        let statements_before = counter.get();
        let cpu_before = report::threads_cpu_ms(SERVER_THREADS);
        let sampler = RssSampler::start();
        let result = load::drive(&spec).await?;
        let rss_mb = sampler.stop().await;
        let statements_run = counter.get().saturating_sub(statements_before);
        let mut row = row_of(q.id, connections, &result, Some(statements_run), rss_mb);
        row.cpu_ms_per_request =
            cpu_per_request(cpu_before, report::threads_cpu_ms(SERVER_THREADS), &result);
        if let Some(e) = result.first_error {
            first_errors.push((q.id, e));
        }
        if let (Some(peer), Some(text)) = (peer, q.peer) {
            eprintln!(
                "{} on {}: {connections} connections, {} s…",
                q.id,
                peer.name,
                WARMUP.as_secs() + opts.duration
            );
            let peer_spec = load::LoadSpec {
                url: peer.url.clone(),
                body: serde_json::json!({ "query": text.text }).to_string(),
                writes: None,
                sql: None,
                ..spec
            };
            let cpu_before = report::process_cpu_ms(peer.pid);
            let result = load::drive(&peer_spec).await?;
            let cpu_after = report::process_cpu_ms(peer.pid);
            if let Some(e) = &result.first_error {
                first_errors.push((q.id, format!("{}: {e}", peer.name)));
            }
            let mut peer_row = row_of(q.id, connections, &result, None, None);
            peer_row.cpu_ms_per_request = cpu_per_request(cpu_before, cpu_after, &result);
            peer_rows.push((row.clone(), peer_row));
        }
        rows.push(row);
    }
    Ok(Measured {
        cold,
        notes,
        rows,
        peer_rows,
        first_errors,
    })
}

/// CPU milliseconds per completed request between two readings.
fn cpu_per_request(
    before: Option<f64>,
    after: Option<f64>,
    result: &load::LoadResult,
) -> Option<f64> {
    let completed = result.completed();
    Some((after? - before?) / completed as f64).filter(|_| completed > 0)
}

/// A table row from a load run; `statements` is None where they were not counted (the peer).
fn row_of(
    id: &str,
    connections: usize,
    result: &load::LoadResult,
    statements: Option<u64>,
    rss_mb: Option<f64>,
) -> Row {
    // Fewer answers than connections: most requests outlasted the window.
    let (sample, whole_run) = result.representative(connections as u64);
    let completed = result.completed();
    Row {
        query: id.to_string(),
        connections,
        requests_per_sec: sample.rate(),
        p50_ms: report::percentile_ms(&sample.latencies, 0.50),
        p99_ms: report::percentile_ms(&sample.latencies, 0.99),
        errors: result.errors,
        statements_per_request: statements
            .filter(|_| completed > 0)
            .map(|run| run as f64 / completed as f64),
        rss_mb,
        whole_run,
        cpu_ms_per_request: None,
    }
}

/// Sends a peer row's request once to each server and checks that the answers hold the same
/// records.
async fn same_records(
    client: &reqwest::Client,
    url: &str,
    authorization: &str,
    body: &str,
    peer: &peer::Peer,
    text: queries::PeerText,
) -> anyhow::Result<()> {
    let ours = load::send(client, url, authorization, body, true)
        .await
        .map_err(|e| anyhow::anyhow!("Anju: {e}"))?;
    let peer_body = serde_json::json!({ "query": text.text }).to_string();
    let theirs = load::send(client, &peer.url, authorization, &peer_body, true)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", peer.name))?;
    let ours = text
        .shape
        .project(&serde_json::from_slice(ours.as_ref())?, false)?;
    let theirs = text
        .shape
        .project(&serde_json::from_slice(theirs.as_ref())?, true)?;
    if let Some(difference) = peer::first_difference(&ours, &theirs) {
        bail!("Anju against {}: {difference}", peer.name);
    }
    ensure!(ours == theirs, "the answers differ");
    Ok(())
}

/// A token for an admin of the root area, signed as `anju token` signs it (every request sends
/// it: households are read only with credentials).
async fn admin_token(
    db: &sea_orm::DatabaseConnection,
    auth: &AuthConfig,
) -> anyhow::Result<String> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let verifier = anju::auth::jwt::Verifier::from_config(db, auth, false)
        .await?
        .context("no token key: the benchmark signs its own admin token")?;
    let root = entity::area::Entity::find()
        .filter(entity::area::Column::ParentCode.is_null())
        .order_by_asc(entity::area::Column::Code)
        .one(db)
        .await?
        .context("the register has no root area")?;
    verifier.mint(
        "bench",
        anju::auth::Role::Admin,
        &root.code,
        None,
        Duration::from_secs(24 * 3600),
    )
}

/// A token for an officer of the first area of `level`, by code (the province: the root; the
/// county: the county the county rows query). Officers hold no personal-data grant unless the
/// configuration gives them one.
async fn officer_token(
    db: &sea_orm::DatabaseConnection,
    auth: &AuthConfig,
    level: AreaLevel,
) -> anyhow::Result<String> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let verifier = anju::auth::jwt::Verifier::from_config(db, auth, false)
        .await?
        .context("no token key: the benchmark signs its own officer token")?;
    let area = entity::area::Entity::find()
        .filter(entity::area::Column::Level.eq(level))
        .order_by_asc(entity::area::Column::Code)
        .one(db)
        .await?
        .with_context(|| format!("the register has no area of level {level:?}"))?;
    verifier.mint(
        "bench-officer",
        anju::auth::Role::Officer,
        &area.code,
        None,
        Duration::from_secs(24 * 3600),
    )
}

/// The works Q5 toggles, with their current versions.
async fn works(
    client: &reqwest::Client,
    url: &str,
    authorization: &str,
) -> anyhow::Result<Vec<(String, i64)>> {
    let body = serde_json::json!({ "query": queries::WORKS }).to_string();
    let bytes = load::send(client, url, authorization, &body, false)
        .await
        .map_err(|e| anyhow::anyhow!("cannot list the works to write: {e}"))?;
    let value: serde_json::Value = serde_json::from_slice(bytes.as_ref())?;
    let mut works = Vec::new();
    for site in value["data"]["sites"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for work in site["works"]["nodes"].as_array().into_iter().flatten() {
            if let (Some(code), Some(version)) = (work["code"].as_str(), work["version"].as_i64()) {
                works.push((code.to_owned(), version));
            }
        }
    }
    Ok(works)
}

/// Finds the first county and the province of the data set, and the oldest change the log
/// keeps.
async fn discover(
    client: &reqwest::Client,
    url: &str,
    authorization: &str,
    database: &DatabaseConfig,
) -> anyhow::Result<Areas> {
    let (conn, _) = db::connect(database).await?;
    let feed_start = anju::domain::changes::oldest(&conn).await?;
    let body = serde_json::json!({ "query": queries::DISCOVER }).to_string();
    let bytes = load::send(client, url, authorization, &body, false)
        .await
        .map_err(|e| anyhow::anyhow!("cannot find the areas to query: {e}"))?;
    let value: serde_json::Value = serde_json::from_slice(bytes.as_ref())?;
    let code = |alias: &str| -> anyhow::Result<String> {
        value["data"][alias]["nodes"][0]["code"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("the data set has no {alias}"))
    };
    Ok(Areas {
        county: code("county")?,
        province: code("province")?,
        feed_start,
    })
}

/// Samples this process's resident set while a query runs, keeping the largest value.
struct RssSampler {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Option<f64>>,
}

impl RssSampler {
    fn start() -> Self {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut largest: Option<f64> = None;
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                if let Some(m) = report::memory() {
                    largest = Some(largest.map_or(m.rss_mb, |l| l.max(m.rss_mb)));
                }
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = &mut stopped => break,
                }
            }
            match report::memory() {
                Some(m) => Some(largest.map_or(m.rss_mb, |l| l.max(m.rss_mb))),
                None => largest,
            }
        });
        Self { stop, task }
    }

    /// The largest resident set seen, in MB (sampled once more now).
    async fn stop(self) -> Option<f64> {
        let _ = self.stop.send(());
        self.task.await.ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_data_set_scales_the_provinces_people_and_sites() {
        assert_eq!(province_share(170_000, PROVINCE_PEOPLE), 560_000);
        assert_eq!(province_share(170_000, PROVINCE_SITES), 1_900);
        // The nation the brief cites: 2.9 million households, about 9.6 million people.
        assert_eq!(province_share(2_900_000, PROVINCE_PEOPLE), 9_552_941);
        assert_eq!(province_share(4_029, PROVINCE_SITES), 45);
        assert_eq!(province_share(0, PROVINCE_SITES), 0);
    }
}
