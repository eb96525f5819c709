//! Builds the application: database, migrations, demo data, schema, router and listener.

use crate::cache::Cache;
use crate::config::{DatabaseConfig, ServeConfig};
use crate::db;
use crate::http::AppState;
use crate::{graphql, http};
use anju_demo as demo;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::net::TcpListener;

/// Applies every pending migration. When that adds the indicator rollups to a register that
/// already holds data, they are computed at once (in one transaction, which also retires every
/// cached aggregate), so no indicator is ever read from empty rollups.
pub async fn migrate(conn: &DatabaseConnection) -> Result<(), DbErr> {
    if db::migrate(conn).await? == db::Migrated::AddedRollups {
        use sea_orm::TransactionTrait;
        let txn = conn.begin().await?;
        crate::domain::indicators::rollup::refresh_all(&txn).await?;
        txn.commit().await?;
    }
    Ok(())
}

/// Runs a command's `work` on a multi-threaded runtime, and says how it ended: what a binary's
/// `main` returns, with the error (and its causes) printed.
pub fn block_on(
    work: impl std::future::Future<Output = anyhow::Result<()>>,
) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A server bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown_grace: std::time::Duration,
    limits: http::serve::EdgeLimits,
    /// The cache's reconciler, stopped with the server.
    reconciler: Option<tokio::task::JoinHandle<()>>,
    /// The change log's keeper (epochs, pruning), stopped with the server.
    keeper: tokio::task::JoinHandle<()>,
    /// The webhooks' dispatcher and sender, stopped with the server (or when it is dropped).
    webhooks: [AbortOnDrop; 2],
}

/// A background task that stops when its handle goes: a server whose future is dropped
/// mid-run stops sending webhooks too.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Application {
    /// Connects, migrates, loads the demo county if asked, the register is empty and this is not
    /// production, and binds.
    pub async fn build(
        mut db_config: DatabaseConfig,
        serve: ServeConfig,
    ) -> anyhow::Result<Application> {
        // A request that times out must not leave its SQL running.
        db_config.statement_timeout =
            Some(std::time::Duration::from_millis(serve.request_timeout_ms));
        db::read::ReadRouter::check(&db_config)?;
        let (conn, statements) = db::connect(&db_config).await?;
        migrate(&conn).await?;
        // Demo data is for trying the service out: production never gets it, whatever
        // `demo_if_empty` says.
        if serve.demo_if_empty
            && !serve.production
            && crate::domain::unscoped::register_is_empty(&conn).await?
        {
            tracing::info!("the register is empty: loading the demo county");
            let dir = tempfile::tempdir()?;
            demo::write_csv(&demo::DemoOptions::default(), dir.path())?;
            let summary = crate::register::import_dir(&conn, dir.path())
                .await
                .map_err(|e| anyhow::anyhow!("demo import failed: {e}"))?;
            tracing::info!(?summary, "demo county loaded");
        }
        let cache = Cache::open(conn.clone(), &serve.cache).await?;
        // The mirror is read only once it is reconciled: give Redis a moment to connect, so
        // that happens now rather than at the first tick.
        cache
            .wait_connected(std::time::Duration::from_secs(2))
            .await;
        cache.publish_generations().await?;
        let reconciler = cache.spawn_reconciler(std::time::Duration::from_secs(1));
        crate::domain::changes::check_epoch(&conn).await?;
        // Housekeeping (the change log's keeper, the webhooks' dispatcher and sender, which poll
        // several times a second, and the feed's lag in `/metrics`) runs on a small pool of its
        // own: it neither takes connections from requests nor shows in the requests' statement
        // counts.
        let housekeeping = {
            let mut config = db_config.clone();
            config.max_connections = 3;
            db::connect(&config).await?.0
        };
        let keeper = spawn_change_keeper(
            housekeeping.clone(),
            chrono::Duration::days(i64::from(serve.change_retention_days.max(1))),
        );
        let sealer = crate::auth::opaque::Sealer::load(&conn).await?;
        let webhooks = spawn_webhooks(&housekeeping, &serve, sealer.clone())?;
        let watch = crate::domain::watch::WatchSettings {
            low_income_line_yuan: serve.low_income_line_yuan,
        };
        let engine = graphql::build_schema(
            conn.clone(),
            cache.clone(),
            crate::graphql::limits::Limits::from(&serve),
            serve.production,
            sealer,
            crate::graphql::types::webhook::WebhookSettings {
                allow_private: serve.webhook_allow_private,
            },
            watch,
        );
        let auth =
            crate::auth::Authenticator::new(conn.clone(), &serve.auth, serve.production).await?;
        let response_keys = crate::http::response_cache::ResponseKeys::new(
            &engine.schema().sdl(),
            &crate::graphql::limits::Limits::from(&serve),
            serve.production,
        );
        let limiter = std::sync::Arc::new(crate::ratelimit::Limiter::new(
            crate::ratelimit::RateLimits::parse(&serve.rate_limits)
                .map_err(|e| anyhow::anyhow!("ANJU_RATE_LIMITS: {e}"))?,
            &cache,
        ));
        let limits = crate::http::serve::EdgeLimits::try_from(&serve)?;
        let responses = crate::http::response_store::ResponseStore::new(&cache, &serve.cache);
        let persisted = crate::http::persisted::PersistedStore::new(&cache);
        let listener = TcpListener::bind(serve.listen).await?;
        let reads = db::read::ReadRouter::open(conn.clone(), &db_config).await?;
        let last_writes = std::sync::Arc::new(crate::http::read_route::LastWrites::new(
            &cache,
            std::time::Duration::from_secs(db_config.read_your_writes_secs.max(1)),
        ));
        let state = AppState {
            db: conn,
            reads,
            last_writes,
            housekeeping,
            watch,
            engine,
            statements,
            cache,
            auth,
            graphiql: serve.graphiql && !serve.production,
            metrics: std::sync::Arc::new(crate::http::metrics::RequestMetrics::new()?),
            shutting_down: Default::default(),
            in_flight: Default::default(),
            allow_list: match &serve.persisted_queries {
                Some(path) => crate::http::persisted::AllowList::from_file(path)?,
                None => crate::http::persisted::AllowList::open(),
            },
            request_timeout: std::time::Duration::from_millis(serve.request_timeout_ms),
            loader_delay: std::time::Duration::from_millis(serve.loader_delay_ms),
            standings: Default::default(),
            response_keys,
            responses,
            persisted,
            limiter,
            body_read_timeout: limits.body_read_timeout,
            connections: std::sync::Arc::new(http::serve::Connections::new(limits.max_connections)),
            ws: http::ws::WsSettings {
                max_sockets: serve.ws_max_sockets.max(1),
                max_subscriptions: serve.ws_max_subscriptions.max(1),
                init_timeout: std::time::Duration::from_millis(serve.ws_init_timeout_ms),
                ping: std::time::Duration::from_millis(serve.ws_ping_ms.max(100)),
            },
            sockets: Default::default(),
        };
        Ok(Application {
            listener,
            state,
            shutdown_grace: std::time::Duration::from_millis(serve.shutdown_grace_ms),
            limits,
            reconciler,
            keeper,
            webhooks,
        })
    }

    /// The port the server listens on (useful when it was asked for port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The shared state (tests read the statement counter from it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM (see [`run_until`](Self::run_until)).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes; then readiness turns 503 and every response closes its
    /// connection, the server keeps serving for the shutdown grace period (so load balancers
    /// stop sending, and move off their kept-alive connections), stops accepting, closes the
    /// idle connections and lets in-flight requests finish.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = self.listener.local_addr()?;
        tracing::info!(%addr, "Anju is listening; GraphiQL at http://{addr}/");
        let flag = self.state.shutting_down.clone();
        let grace = self.shutdown_grace;
        let drained = async move {
            stop.await;
            flag.store(true, std::sync::atomic::Ordering::Release);
            tracing::info!(
                ?grace,
                "shutting down: readiness is off; finishing in-flight requests"
            );
            tokio::time::sleep(grace).await;
        };
        let connections = self.state.connections.clone();
        let served = http::serve::serve(
            self.listener,
            http::router(self.state),
            self.limits,
            connections,
            drained,
        )
        .await;
        // A server that has stopped no longer mirrors its database's generations into Redis:
        // another process may serve another state of it by now (a restored backup).
        self.keeper.abort();
        drop(self.webhooks);
        if let Some(reconciler) = self.reconciler {
            reconciler.abort();
        }
        served
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Keeps the change log: starts a new epoch should the database turn out to be a restored copy,
/// and deletes changes older than `retention`, once a minute (replicas doing the same at once
/// only repeat a delete that finds nothing).
fn spawn_change_keeper(
    db: DatabaseConnection,
    retention: chrono::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Startup checked the epoch already; the first round is a minute away.
        let every = std::time::Duration::from_secs(60);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            if let Err(e) = crate::domain::changes::check_epoch(&db).await {
                tracing::warn!(error = %e, "change log: epoch check failed");
            }
            match crate::domain::changes::prune(&db, retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "change log pruned past its retention"),
                Err(e) => tracing::warn!(error = %e, "change log: pruning failed"),
            }
        }
    })
}

/// Starts the webhooks' dispatcher (notices commits and enqueues notifications) and sender
/// (sends what is due), each every `webhook_poll_ms`.
fn spawn_webhooks(
    db: &DatabaseConnection,
    serve: &ServeConfig,
    sealer: crate::auth::opaque::Sealer,
) -> anyhow::Result<[AbortOnDrop; 2]> {
    use crate::domain::webhooks::deliver;
    let schedule = deliver::parse_schedule(&serve.webhook_retry_schedule)
        .map_err(|e| anyhow::anyhow!("ANJU_WEBHOOK_RETRY_SCHEDULE: {e}"))?;
    let sender = deliver::Sender {
        seal: std::sync::Arc::new(sealer),
        schedule,
        allow_private: serve.webhook_allow_private,
    };
    let every = std::time::Duration::from_millis(serve.webhook_poll_ms.max(10));
    let ticker = move || {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    };
    let dispatcher = {
        let db = db.clone();
        let mut tick = ticker();
        tokio::spawn(async move {
            loop {
                tick.tick().await;
                if let Err(e) = deliver::dispatch(&db).await {
                    tracing::warn!(error = %e, "webhooks: dispatching failed");
                }
            }
        })
    };
    let sending = {
        let db = db.clone();
        let mut tick = ticker();
        tokio::spawn(async move {
            loop {
                tick.tick().await;
                if let Err(e) = deliver::send_due(&db, &sender).await {
                    tracing::warn!(error = %e, "webhooks: sending failed");
                }
            }
        })
    };
    Ok([AbortOnDrop(dispatcher), AbortOnDrop(sending)])
}
