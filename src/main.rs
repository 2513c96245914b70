//! The `callpop` command: parse the command line, load the config, start
//! logging, and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

use callpop::cli::{self, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_tracing();
    match cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("callpop: {e:#}");
            ExitCode::FAILURE
        }
    }
}
