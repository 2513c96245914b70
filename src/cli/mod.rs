//! The command line: what each `callpop` command does, in terms of the
//! library.

mod agent;
mod healthcheck;
mod users;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::app::{self, Listeners};
use crate::config::Config;
use crate::lookup::Normalizer;
use crate::store::Store;
use crate::telephony::sip::trial::{self, TrialCall};

#[derive(Parser, Debug)]
#[command(
    name = "callpop",
    version,
    about = "Screen pops and call records beside your phone system"
)]
pub struct Cli {
    /// A config file read over the built-in defaults.
    #[arg(long, global = true, env = "CALLPOP_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon: web, links, pops.
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Load records from a file.
    Import {
        #[command(subcommand)]
        what: Import,
    },
    /// Ring a running daemon with a real SIP call, to try it out.
    Call {
        /// The extension to ring.
        #[arg(long)]
        to: String,
        /// The caller's number.
        #[arg(long)]
        from: String,
        /// The caller's display name.
        #[arg(long)]
        name: Option<String>,
        /// The daemon's SIP address (default: sip.listen from the config).
        #[arg(long)]
        sip: Option<SocketAddr>,
        /// How long it rings before it is cancelled, e.g. 3s or 500ms.
        #[arg(long, default_value = "3s", value_parser = parse_duration)]
        cancel_after: Duration,
        /// Cancel as "completed elsewhere": the rep's phone answered.
        #[arg(long)]
        answered: bool,
    },
    /// Users: add, list, set a password.
    User {
        #[command(subcommand)]
        what: users::UserCommand,
    },
    /// API tokens for the desktop agent and scripts.
    Token {
        #[command(subcommand)]
        what: users::TokenCommand,
    },
    /// The desktop agent: pops from a callpop server on this desktop.
    Agent(agent::AgentArgs),
    /// Exit 0 when the daemon answers on server.listen.
    Healthcheck,
}

#[derive(Subcommand, Debug)]
enum Import {
    /// Customers, contacts and numbers from a CSV file (see examples/customers.csv).
    Customers { file: PathBuf },
}

/// Logs go to standard error; RUST_LOG changes the level (default info).
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            Store::connect(config.database.url.expose())
                .await?
                .close()
                .await;
            println!("database is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            what: Import::Customers { file },
        } => import(&config, &file).await,
        Command::Call {
            to,
            from,
            name,
            sip,
            cancel_after,
            answered,
        } => {
            let sip = sip.unwrap_or(config.sip.listen);
            let call = TrialCall {
                to,
                from,
                name,
                sip,
                cancel_after,
                answered,
            };
            trial::place(&call).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User { what } => {
            with_store(&config, async |store| users::user(store, what).await).await
        }
        Command::Token { what } => {
            with_store(&config, async |store| users::token(store, what).await).await
        }
        Command::Agent(args) => agent::run(args).await,
        Command::Healthcheck => healthcheck::check(config.server.listen).await,
    }
}

/// Opens the store, runs `work` on it, and closes it whatever happened.
async fn with_store(
    config: &Config,
    work: impl AsyncFnOnce(&Store) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    let store = Store::connect(config.database.url.expose()).await?;
    let result = work(&store).await;
    store.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    // Handlers first: a signal that comes once the log says "listening"
    // must stop the daemon cleanly, not kill it.
    let stop = signal()?;
    let listeners = Listeners::bind(&config).await?;
    app::run(config, listeners, stop).await?;
    Ok(ExitCode::SUCCESS)
}

async fn import(config: &Config, file: &Path) -> anyhow::Result<ExitCode> {
    let reader =
        std::fs::File::open(file).with_context(|| format!("failed to open {}", file.display()))?;
    let store = Store::connect(config.database.url.expose()).await?;
    let normalizer = Normalizer::new(&config.phone.home_region)?;
    let result = crate::crm::import::import_customers(&store, &normalizer, reader).await;
    store.close().await;
    match result {
        Ok(report) => {
            println!(
                "imported {} customers, {} contacts, {} numbers",
                report.customers, report.contacts, report.numbers
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let e = anyhow::Error::new(e);
            eprintln!("callpop: nothing imported from {}: {e:#}", file.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Installs the SIGINT and SIGTERM handlers now and returns a future that
/// completes on either.
#[cfg(unix)]
fn signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt =
        signal(SignalKind::interrupt()).context("failed to install the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("failed to install the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Returns a future that completes on Ctrl-C.
#[cfg(not(unix))]
fn signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Reads `3s`, `500ms` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.strip_suffix("ms") {
        Some(n) => (n, 0.001),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("not a duration: {text:?}"))?;
    if !(0.0..=3600.0).contains(&value) {
        return Err(format!("duration out of range: {text:?}"));
    }
    Ok(Duration::from_secs_f64(value * unit))
}
