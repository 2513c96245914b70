//! The desktop agent, `callpop agent`: runs on a rep's computer, follows
//! the pops of the rep's extensions on a callpop server's event stream and
//! shows each as a desktop notification, printing them instead where the
//! desktop has no notification service.
//!
//! [`run`] takes its settings, the notifier (with the opener for "Log call")
//! and where to print, so tests run it in-process against a test server.

mod backoff;
pub mod config;
mod follow;
pub mod install;
mod sse;
mod stream;

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use reqwest::Url;
use tracing::info;

pub use stream::{error_chain, server_message};

use crate::config::Secret;
use crate::pop::notify::DesktopNotifier;
use follow::Follower;
use stream::PopStream;

/// How long connecting to the server may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the agent follows, and as whom.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The server's base URL, ending in `/`.
    pub server: Url,
    pub token: Secret,
    /// Extensions named on the command line; none means the token user's own.
    pub extensions: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "the server refused the token (401 Unauthorized: {0}); \
         create a new one and run `callpop agent login --server URL`"
    )]
    Unauthorized(String),
    #[error(
        "not a server URL: {0:?} (want http:// or https://, e.g. https://callpop.example.com)"
    )]
    BadServer(String),
    #[error("failed to set up the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

impl Settings {
    /// Settings for `server`, checked.
    pub fn new(
        server: &str,
        token: Secret,
        extensions: Vec<String>,
    ) -> Result<Settings, AgentError> {
        Ok(Settings {
            server: server_url(server)?,
            token,
            extensions,
        })
    }

    /// `GET /api/v1/pops`, with `extension=` for each one named.
    pub fn pops_url(&self) -> Url {
        let mut url = self.endpoint("api/v1/pops");
        if !self.extensions.is_empty() {
            let mut query = url.query_pairs_mut();
            for extension in &self.extensions {
                query.append_pair("extension", extension);
            }
        }
        url
    }

    /// A path under the server's base URL.
    pub fn endpoint(&self, path: &str) -> Url {
        // The base ends in `/` (see `server_url`), so joining keeps its path.
        self.server
            .join(path)
            .unwrap_or_else(|_| self.server.clone())
    }
}

/// Reads a server URL: http or https, its path ending in `/` so that the API
/// paths go under it (a server behind a proxy at `/callpop/`).
pub fn server_url(text: &str) -> Result<Url, AgentError> {
    let bad = || AgentError::BadServer(text.to_owned());
    let mut url = Url::parse(text.trim()).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad());
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The HTTP client the agent talks to the server with. https trusts the
/// system's certificate store, so a company's own CA works.
pub fn client() -> Result<reqwest::Client, AgentError> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("callpop-agent/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(AgentError::Client)
}

/// Follows the pops until `shutdown` completes, or until the server refuses
/// the token. Every other failure is retried; the notifications it shows
/// are taken down when it stops.
pub async fn run(
    settings: Settings,
    notifier: DesktopNotifier,
    terminal: impl Write,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let url = settings.pops_url();
    info!(server = %settings.server, extensions = ?settings.extensions, "desktop agent started");
    let mut stream = PopStream::new(client()?, url, settings.token);
    let mut follower = Follower::new(notifier, terminal).await;
    tokio::pin!(shutdown);

    let result = loop {
        let incoming = tokio::select! {
            incoming = stream.next() => incoming,
            _ = &mut shutdown => break Ok(()),
        };
        match incoming {
            Ok(incoming) => follower.take(incoming).await,
            Err(e) => break Err(e),
        }
    };
    follower.stop().await;
    info!("desktop agent stopped");
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(server: &str, extensions: &[&str]) -> Settings {
        let extensions = extensions.iter().map(|x| x.to_string()).collect();
        Settings::new(server, Secret::new("t"), extensions).unwrap()
    }

    #[test]
    fn the_pop_stream_url_keeps_the_servers_path() {
        let plain = settings("https://callpop.example.com", &[]);
        assert_eq!(
            plain.pops_url().as_str(),
            "https://callpop.example.com/api/v1/pops"
        );

        let proxied = settings("http://10.0.0.2:8080/callpop?x=1#y", &["201", "2 02"]);
        assert_eq!(
            proxied.pops_url().as_str(),
            "http://10.0.0.2:8080/callpop/api/v1/pops?extension=201&extension=2+02"
        );
    }

    #[test]
    fn only_web_servers_are_taken() {
        for bad in [
            "callpop.example.com",
            "ftp://x/",
            "file:///etc/passwd",
            "http://",
        ] {
            let err = server_url(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("not a server URL"),
                "{bad}: {err}"
            );
        }
    }
}
