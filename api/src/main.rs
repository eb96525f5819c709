//! `anju`: serve the register over GraphQL, and manage it from the command line.

use anju::auth::{apikey, jwt, Role};
use anju::cache::Cache;
use anju::config::{self, Config, Scope};
use anju::domain::scope::Scope as ScopeOf;
use anju::{db, register, startup, telemetry};
use anju_demo as demo;
use anju_mirror as mirror;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// A general-purpose allocator made for many threads allocating small objects at once, as a
/// GraphQL server answering nested lists does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "anju",
    version,
    about = "Anju (安居): the relocation register and its indicators over GraphQL"
)]
struct Cli {
    // The settings' own flags are added from `config::SETTINGS` (see `main`).
    /// A TOML file of settings, keyed by their environment variable names; the environment and
    /// flags override it (also `ANJU_CONFIG`).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the GraphQL API (the default when no command is given).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Import a CSV data set (one folder of seven files) in one transaction.
    Import { dir: PathBuf },
    /// Export the register as a CSV data set into a folder: the whole of it, or what one area's
    /// (or one site's) credentials see of it.
    Export {
        dir: PathBuf,
        /// Only what a principal of this area sees (CONTRACT §4): its subtree, the names of
        /// its ancestors, the households sited or originating in it, and theirs.
        #[arg(long)]
        area: Option<String>,
        /// Only what a site manager of this site (in `--area`) sees.
        #[arg(long, requires = "area")]
        site: Option<String>,
    },
    /// Keep a copy of what an API key sees of the register, as a CSV data set in a folder,
    /// from the change feed of a running server.
    Mirror {
        /// The server: its base URL or its `/graphql` endpoint.
        #[arg(long)]
        url: String,
        /// The API key (also `ANJU_MIRROR_KEY`); its role needs the personal-data grant for
        /// unmasked files.
        #[arg(long, env = "ANJU_MIRROR_KEY", hide_env_values = true)]
        key: String,
        /// Folder of the seven files and the mirror's state (`.mirror.json`).
        dir: PathBuf,
        /// Keep following the feed until interrupted (otherwise catch up and exit).
        #[arg(long)]
        follow: bool,
        /// Seconds between polls of the feed when following.
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
        /// Changes per page of the feed (1–1000).
        #[arg(long, default_value_t = 200)]
        page_size: u32,
    },
    /// Write a generated demo data set shaped like Yushe county as CSV.
    Demo {
        /// Folder to write the seven CSV files into.
        #[arg(long, default_value = "demo")]
        out: PathBuf,
        /// Households to generate (4,029 is Yushe itself).
        #[arg(long, default_value_t = 4029)]
        households: usize,
        /// People in all, one to eight per household [default: Yushe's 9,614 per 4,029
        /// households].
        #[arg(long)]
        people: Option<usize>,
        /// Resettlement sites in all, at least one per county [default: one per ~200
        /// households].
        #[arg(long)]
        sites: Option<usize>,
        /// Random seed; the same seed and size always give the same data set.
        #[arg(long, default_value_t = demo::DemoOptions::default().seed)]
        seed: u64,
    },
    /// Print the GraphQL schema (SDL), as committed in `schema.graphql`.
    Schema,
    /// Mint a bearer token for development (signed with ANJU_JWT_SECRET, or with the
    /// database's development secret when none is configured).
    Token {
        /// The role: admin, officer, site_manager, viewer or integration.
        #[arg(long)]
        role: Role,
        /// The area code whose subtree the token sees.
        #[arg(long)]
        area: String,
        /// The site, for a site manager.
        #[arg(long)]
        site: Option<String>,
        /// Who the token is for (`sub`).
        #[arg(long, default_value = "developer")]
        subject: String,
        /// Hours the token is valid.
        #[arg(long, default_value_t = 8)]
        hours: u64,
    },
    /// Manage API keys for machines.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Create a key and print it (it is shown only this once).
    Create {
        /// What the key is for, e.g. `provincial big-data system`.
        #[arg(long)]
        name: String,
        /// The role (usually `integration`).
        #[arg(long, default_value = "integration")]
        role: Role,
        /// The area code whose subtree the key sees.
        #[arg(long)]
        area: String,
        /// The site, for a site manager.
        #[arg(long)]
        site: Option<String>,
    },
    /// Revoke a key by id; it stops working at once.
    Revoke { id: String },
    /// List keys (never their secrets).
    List,
}

fn main() -> ExitCode {
    let matches = Cli::command()
        .args(config::flag_args(Scope::Global))
        .mut_subcommand("serve", |serve| serve.args(config::flag_args(Scope::Serve)))
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let config = match config::from_process(cli.config.as_deref(), &matches) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(&config.log);
    startup::block_on(run(cli, config))
}

async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    let Config {
        database,
        cache,
        auth,
        mut serve,
        log: _,
    } = config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            serve.cache = cache;
            serve.auth = auth;
            let app = startup::Application::build(database, serve).await?;
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let (conn, _) = db::connect(&database).await?;
            anju::startup::migrate(&conn).await?;
            println!("migrations applied");
        }
        Command::Import { dir } => {
            let (conn, _) = db::connect(&database).await?;
            anju::startup::migrate(&conn).await?;
            let started = std::time::Instant::now();
            let summary = register::import_dir(&conn, &dir).await?;
            println!("imported {summary:?} in {:.2?}", started.elapsed());
            // Tell every API replica at once: mirror the raised generation into the shared cache.
            // Were Redis unreachable now, the replicas' reconcilers catch up within a second.
            // Live subscriptions hear of it through a hint; those that miss it (no Redis) find
            // it at their server's next sweep.
            if cache.redis_url.is_some() {
                let cache = Cache::open(conn.clone(), &cache).await?;
                cache
                    .wait_connected(std::time::Duration::from_secs(2))
                    .await;
                cache.publish_generations().await?;
                cache.hints().announce().await;
            }
        }
        Command::Export { dir, area, site } => {
            let (conn, _) = db::connect(&database).await?;
            anju::startup::migrate(&conn).await?;
            let summary = match (area, site) {
                (None, _) => register::export_dir(&conn, &dir).await?,
                (Some(area), None) => {
                    register::export_scope(&conn, &dir, &ScopeOf::subtree(area)).await?
                }
                (Some(area), Some(site)) => {
                    register::export_scope(&conn, &dir, &ScopeOf::site(area, site)).await?
                }
            };
            println!("exported {summary:?} to {}", dir.display());
        }
        Command::Mirror {
            url,
            key,
            dir,
            follow,
            interval,
            page_size,
        } => {
            let options = mirror::Options {
                url,
                key,
                dir: dir.clone(),
                follow,
                interval: std::time::Duration::from_secs_f64(interval.max(0.01)),
                page_size,
            };
            let interrupted = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            let report = mirror::run(&options, interrupted).await?;
            println!("mirrored {report:?} into {}", dir.display());
        }
        Command::Demo {
            out,
            households,
            people,
            sites,
            seed,
        } => {
            let opts = demo::DemoOptions {
                households,
                seed,
                persons: people,
                sites,
            };
            let summary = demo::write_csv(&opts, &out)?;
            println!("wrote {summary:?} to {}", out.display());
        }
        Command::Schema => print!("{}", anju::graphql::sdl()),
        Command::Token {
            role,
            area,
            site,
            subject,
            hours,
        } => {
            let (conn, _) = db::connect(&database).await?;
            anju::startup::migrate(&conn).await?;
            let verifier = jwt::Verifier::from_config(&conn, &auth, false)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no token key is configured"))?;
            let ttl = std::time::Duration::from_secs(hours.saturating_mul(3600));
            println!(
                "{}",
                verifier.mint(&subject, role, &area, site.as_deref(), ttl)?
            );
        }
        Command::Apikey { command } => {
            let (conn, _) = db::connect(&database).await?;
            anju::startup::migrate(&conn).await?;
            match command {
                ApikeyCommand::Create {
                    name,
                    role,
                    area,
                    site,
                } => {
                    if role == Role::SiteManager && site.is_none() {
                        anyhow::bail!("a site manager's key needs --site");
                    }
                    let (key, secret) =
                        apikey::create(&conn, &name, role, &area, site.as_deref()).await?;
                    eprintln!(
                        "created API key {} ({}, {} of {}); store it now, it is not shown again:",
                        key.id, key.name, key.role, key.area_code
                    );
                    println!("{secret}");
                }
                ApikeyCommand::Revoke { id } => {
                    if !apikey::revoke(&conn, &id).await? {
                        anyhow::bail!("no live API key `{id}`");
                    }
                    println!("revoked {id}");
                }
                ApikeyCommand::List => {
                    println!("id\tname\trole\tarea\tsite\tcreated\trevoked");
                    for k in apikey::list(&conn).await? {
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                            k.id,
                            k.name,
                            k.role,
                            k.area_code,
                            k.site_code.unwrap_or_default(),
                            k.created_at.to_rfc3339(),
                            k.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
