//! `anju-faults`: faults under load through the local topology (see `anju_bench::faults`).

use anju_bench::faults::{self, FaultOptions};
use clap::Parser;

fn main() -> std::process::ExitCode {
    let options = FaultOptions::parse();
    anju::startup::block_on(faults::run(options))
}
