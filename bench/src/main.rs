//! `anju-bench`: load a generated data set, serve it in-process and measure a fixed query mix
//! under load (see the README's Benchmarks section).

use anju::config::{self, Scope};
use anju_bench::BenchOptions;
use clap::{CommandFactory, FromArgMatches, Parser};
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
    // The settings' own flags (database, cache, auth) are added from `config::SETTINGS`.
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
    let matches = Cli::command()
        .args(config::flag_args(Scope::Global))
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let config = match config::from_process(cli.config.as_deref(), &matches) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    anju::telemetry::init(&config.log);
    anju::startup::block_on(async {
        match &cli.import_child {
            Some(dir) => anju_bench::import_child(&config.database, &config.cache, dir).await,
            None => anju_bench::run(config.database, config.cache, config.auth, cli.bench).await,
        }
    })
}
