//! `callpop agent`: the desktop agent, its login, and its start at login.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use reqwest::StatusCode;

use crate::agent::{self, config as saved, install, Settings};
use crate::config::Secret;
use crate::pop::notify::{DesktopNotifier, XdgOpen};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    what: Option<AgentCommand>,
    /// The callpop server, e.g. https://callpop.example.com (default: the
    /// one `agent login` saved).
    #[arg(long)]
    server: Option<String>,
    /// An API token (default: the one `agent login` saved, which keeps it
    /// out of the process list).
    #[arg(long, value_parser = secret)]
    token: Option<Secret>,
    /// Follow this extension; repeat for several (default: your own).
    #[arg(long = "extension", value_name = "EXTENSION")]
    extensions: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum AgentCommand {
    /// Save the server and an API token read from standard input.
    Login {
        /// The callpop server, e.g. https://callpop.example.com.
        #[arg(long)]
        server: String,
    },
    /// Start the desktop agent when you log in to your desktop.
    Install {
        /// Follow this extension; repeat for several (default: your own).
        #[arg(long = "extension", value_name = "EXTENSION")]
        extensions: Vec<String>,
    },
    /// Stop starting the desktop agent at login.
    Uninstall,
}

fn secret(text: &str) -> Result<Secret, String> {
    Ok(Secret::new(text))
}

pub async fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        Some(AgentCommand::Login { server }) => login(&server).await,
        Some(AgentCommand::Install { extensions }) => install(&extensions),
        Some(AgentCommand::Uninstall) => uninstall(),
        None => follow(args.server, args.token, args.extensions).await,
    }
}

async fn follow(
    server: Option<String>,
    token: Option<Secret>,
    extensions: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let path = saved::default_path()?;
    let saved = match (&server, &token) {
        (Some(_), Some(_)) => None,
        _ => saved::load(&path)?,
    };
    let (server, token) = match (server, token, saved) {
        (Some(server), Some(token), _) => (server, token),
        (server, token, Some(saved)) => {
            (server.unwrap_or(saved.server), token.unwrap_or(saved.token))
        }
        (_, _, None) => anyhow::bail!(
            "no server and token: pass --server URL --token TOKEN, or save them once \
             with `callpop agent login --server URL` (nothing saved at {})",
            path.display()
        ),
    };
    let settings = Settings::new(&server, token, extensions)?;

    let stop = super::signal()?;
    let notifier = DesktopNotifier::new(XdgOpen);
    agent::run(settings, notifier, std::io::stdout(), stop).await?;
    Ok(ExitCode::SUCCESS)
}

/// Reads a token, checks it with the server, and saves both.
async fn login(server: &str) -> anyhow::Result<ExitCode> {
    let token = read_token()?;
    let settings = Settings::new(server, token, Vec::new())?;
    let who = check_token(&settings).await?;

    let path = saved::default_path()?;
    saved::save(&path, settings.server.as_str(), &settings.token)?;
    println!(
        "signed in to {} {who}; saved to {}",
        settings.server,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read_token() -> anyhow::Result<Secret> {
    let token = if std::io::stdin().is_terminal() {
        eprint!("API token (from your account page in callpop): ");
        rpassword::read_password().context("failed to read the token")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("failed to read the token from standard input")?;
        line
    };
    let token = token.trim();
    anyhow::ensure!(!token.is_empty(), "no token on standard input");
    Ok(Secret::new(token))
}

/// Who the token stands for, from `GET /api/v1/me`, in words.
async fn check_token(settings: &Settings) -> anyhow::Result<String> {
    let url = settings.endpoint("api/v1/me");
    let response = agent::client()?
        .get(url.clone())
        .bearer_auth(settings.token.expose())
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("failed to reach {url}: {}", agent::error_chain(&e)))?;

    let status = response.status();
    if status == StatusCode::UNAUTHORIZED {
        let message = agent::server_message(response).await;
        anyhow::bail!("the server refused this token (401: {message}); nothing saved");
    }
    if !status.is_success() {
        let message = agent::server_message(response).await;
        anyhow::bail!("failed to check the token at {url}: {status}: {message}; nothing saved");
    }
    let me: serde_json::Value = response
        .json()
        .await
        .with_context(|| format!("failed to read the answer of {url}"))?;
    Ok(describe(&me))
}

fn describe(me: &serde_json::Value) -> String {
    // The server's own `api.token` stands for no user, and has no id.
    let name = ["name", "username"]
        .iter()
        .find_map(|key| me[key].as_str().filter(|s| !s.is_empty()))
        .filter(|_| !me["id"].is_null());
    let extensions: Vec<&str> = me["extensions"]
        .as_array()
        .map(|xs| xs.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    match (name, extensions.as_slice()) {
        (None, _) => "with the server's own API token (every extension)".to_owned(),
        (Some(name), []) => format!("as {name} (no extension yet: an admin adds them)"),
        (Some(name), xs) => format!("as {name} (extensions {})", xs.join(", ")),
    }
}

fn install(extensions: &[String]) -> anyhow::Result<ExitCode> {
    let login = saved::default_path()?;
    if saved::load(&login)?.is_none() {
        anyhow::bail!(
            "nothing saved at {}: run `callpop agent login --server URL` first, \
             the agent started at login reads the server and token from there",
            login.display()
        );
    }
    let exe = std::env::current_exe().context("failed to find this program's path")?;

    let path = install::default_path()?;
    install::install(&path, &exe, extensions)?;
    println!(
        "the desktop agent starts at your next login ({}); to start it now: {} agent",
        path.display(),
        exe.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn uninstall() -> anyhow::Result<ExitCode> {
    let path = install::default_path()?;
    if install::uninstall(&path)? {
        println!(
            "removed {}: the desktop agent no longer starts at login",
            path.display()
        );
    } else {
        println!(
            "nothing to remove: no autostart entry at {}",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
