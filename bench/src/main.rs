//! `anju-bench`: load a generated data set, serve it in-process and measure a fixed query mix
//! under load (see the README's Benchmarks section).

use anju::config::{AuthConfig, CacheConfig, DatabaseConfig};
use anju_bench::BenchOptions;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// The server runs in this process: it gets the allocator `anju serve` has.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "anju-bench",
    version,
    about = "Load a generated data set, serve it in-process and measure a fixed query mix under load"
)]
struct Cli {
    #[command(flatten)]
    database: DatabaseConfig,
    #[command(flatten)]
    cache: CacheConfig,
    #[command(flatten)]
    auth: AuthConfig,
    /// A TOML file of settings, keyed by their environment variable names; the environment and
    /// flags override it (also `ANJU_CONFIG`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    bench: BenchOptions,
    /// Import this data set and exit: the benchmark's own child process.
    #[arg(long, value_name = "DIR", hide = true)]
    import_child: Option<PathBuf>,
}

fn main() -> ExitCode {
    // The configuration file fills in the environment before anything reads it, and before any
    // thread exists that could read the environment concurrently.
    if let Err(e) = anju::config::load_config_file() {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    anju::telemetry::init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match &cli.import_child {
            Some(dir) => anju_bench::import_child(&cli.database, &cli.cache, dir).await,
            None => anju_bench::run(cli.database, cli.cache, cli.auth, cli.bench).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
