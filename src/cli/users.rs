//! `callpop user` and `callpop token`: users and their API tokens, written
//! straight to the database, with or without the daemon running.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use clap::Subcommand;

use crate::auth::{check_username, parse_extensions, password, secret, Role};
use crate::store::users::{NewUser, User};
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user. The password is asked for on the terminal, or read
    /// as one line from standard input with --password-stdin.
    Add {
        username: String,
        /// rep, manager or admin.
        #[arg(long)]
        role: Role,
        /// An extension the user answers; repeat for several. The first
        /// is where click-to-dial rings.
        #[arg(long = "extension", value_name = "EXTENSION")]
        extensions: Vec<String>,
        /// The name others see, e.g. "Alice Agent".
        #[arg(long)]
        name: Option<String>,
        /// Read the password as one line from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// No password: the user works with API tokens only, until one is set.
        #[arg(long, conflicts_with = "password_stdin")]
        no_password: bool,
    },
    /// List every user.
    List,
    /// Set a user's password; they are signed out everywhere.
    Passwd {
        username: String,
        /// Read the password as one line from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make an API token for a user and print it. It is shown this once.
    Create {
        /// What the token is for, e.g. "laptop agent".
        name: String,
        /// Whose token: it acts as this user, with their role.
        #[arg(long)]
        user: String,
    },
    /// List a user's API tokens (never the tokens themselves).
    List {
        #[arg(long)]
        user: String,
    },
    /// Revoke one of a user's API tokens by its id, as `token list` shows.
    Revoke {
        id: i64,
        #[arg(long)]
        user: String,
    },
}

pub async fn user(store: &Store, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            username,
            role,
            extensions,
            name,
            password_stdin,
            no_password,
        } => {
            check_username(&username).map_err(anyhow::Error::msg)?;
            let extensions = parse_extensions(&extensions.join(",")).map_err(anyhow::Error::msg)?;
            let password_hash = match no_password {
                true => None,
                false => Some(new_password(&username, password_stdin).await?),
            };
            let user = NewUser {
                username: username.clone(),
                display_name: name.unwrap_or_default(),
                role,
                password_hash,
                extensions,
            };
            store
                .create_user(&user)
                .await
                .with_context(|| format!("failed to add user {username}"))?;
            println!(
                "added {}",
                describe(
                    &store
                        .user_by_username(&username)
                        .await?
                        .context("the new user is missing")?
                )
            );
        }
        UserCommand::List => {
            let users = store.users().await?;
            if users.is_empty() {
                println!("no users yet");
            }
            for user in users {
                println!("{}", describe(&user));
            }
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let user = find(store, &username).await?;
            let hash = new_password(&user.username, password_stdin).await?;
            store.set_password(user.id, Some(&hash), None).await?;
            println!(
                "password set for {}; their sessions were ended",
                user.username
            );
        }
    }
    Ok(())
}

pub async fn token(store: &Store, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name, user } => {
            let user = find(store, &user).await?;
            let name = name.trim();
            crate::web::check_token_name(name).map_err(anyhow::Error::msg)?;
            let token = secret::new_api_token()?;
            store
                .create_api_token(user.id, name, &secret::digest(&token))
                .await?;
            eprintln!(
                "api token {name:?} for {} ({}); it is shown only now, keep it safe:",
                user.username, user.role
            );
            println!("{token}");
        }
        TokenCommand::List { user } => {
            let user = find(store, &user).await?;
            let tokens = store.api_tokens(user.id).await?;
            if tokens.is_empty() {
                println!("{} has no api tokens", user.username);
            }
            for t in tokens {
                let used = t
                    .last_used_at
                    .map(|at| at.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "never".into());
                let made = t.created_at.format("%Y-%m-%d %H:%M");
                println!("{}\t{}\tmade {made}\tlast used {used}", t.id, t.name);
            }
        }
        TokenCommand::Revoke { id, user } => {
            let user = find(store, &user).await?;
            if !store.revoke_api_token(user.id, id).await? {
                bail!("{} has no api token {id}", user.username);
            }
            println!("revoked api token {id} of {}", user.username);
        }
    }
    Ok(())
}

async fn find(store: &Store, username: &str) -> anyhow::Result<User> {
    store
        .user_by_username(username)
        .await?
        .with_context(|| format!("no user is named {username:?}"))
}

/// One line about a user, for `add` and `list`.
fn describe(user: &User) -> String {
    let mut line = format!("{} ({})", user.username, user.role);
    if !user.display_name.is_empty() {
        line.push_str(&format!(" {:?}", user.display_name));
    }
    match user.extensions.is_empty() {
        true => line.push_str(", no extension"),
        false => line.push_str(&format!(", extensions {}", user.extensions.join(" "))),
    }
    if !user.has_password {
        line.push_str(", no password");
    }
    if !user.active {
        line.push_str(", inactive");
    }
    line
}

/// Reads a new password, checks it and returns its hash.
async fn new_password(username: &str, from_stdin: bool) -> anyhow::Result<String> {
    let password = match from_stdin {
        true => read_stdin_line()?,
        false => ask_twice(username)?,
    };
    password::check_new(&password).map_err(anyhow::Error::msg)?;
    password::hash_blocking(password).await
}

fn read_stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("failed to read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn ask_twice(username: &str) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for the password: pipe it in with --password-stdin");
    }
    let first = rpassword::prompt_password(format!("password for {username}: "))
        .context("failed to read the password")?;
    let again = rpassword::prompt_password("again: ").context("failed to read the password")?;
    if first != again {
        bail!("the two passwords differ");
    }
    Ok(first)
}
