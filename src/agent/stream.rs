//! The pop stream as the agent reads it: `GET /api/v1/pops` with the
//! bearer token, connected again after any failure with a growing wait and
//! `Last-Event-ID`, so that the server replays what was missed. Only a
//! refused token ends it: retrying would not make the token good.

use std::pin::Pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{StatusCode, Url};
use tracing::{debug, info, warn};

use super::backoff::Backoff;
use super::sse::{Frame, Parser};
use super::AgentError;
use crate::config::Secret;
use crate::pop::hub::PopEvent;
use crate::pop::sse::Snapshot;

/// The server sends a keep-alive every 15 s: this long without a byte, the
/// connection is taken for dead (a laptop that slept, a dropped route).
const IDLE: Duration = Duration::from_secs(45);

/// What the stream brings.
#[derive(Debug)]
pub enum Incoming {
    /// A (re)connection opened: what shows at the extensions now.
    Snapshot(Snapshot),
    Event(PopEvent),
}

/// The response body as it arrives (axum re-exports the `Bytes` reqwest uses).
type Body = Pin<Box<dyn Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>;

pub struct PopStream {
    client: reqwest::Client,
    url: Url,
    token: Secret,
    /// The id of the last event read, sent as `Last-Event-ID`.
    last_id: Option<u64>,
    backoff: Backoff,
    body: Option<(Body, Parser)>,
    pending: std::collections::VecDeque<Frame>,
}

/// Why a connection ended or could not be made.
enum Failure {
    Refused(String),
    Retry(String),
}

impl PopStream {
    pub fn new(client: reqwest::Client, url: Url, token: Secret) -> PopStream {
        PopStream {
            client,
            url,
            token,
            last_id: None,
            backoff: Backoff::new(),
            body: None,
            pending: Default::default(),
        }
    }

    /// The next snapshot or event, connecting (again) as needed. Fails only
    /// when the server refuses the token.
    pub async fn next(&mut self) -> Result<Incoming, AgentError> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                if let Some(incoming) = self.decode(frame) {
                    return Ok(incoming);
                }
                continue;
            }
            match self.read().await {
                Ok(frames) => self.pending.extend(frames),
                Err(Failure::Refused(message)) => return Err(AgentError::Unauthorized(message)),
                Err(Failure::Retry(reason)) => self.pause(&reason).await,
            }
        }
    }

    /// The frames the next bytes complete, connecting first if need be.
    async fn read(&mut self) -> Result<Vec<Frame>, Failure> {
        let (body, parser) = match self.body.take() {
            Some(open) => open,
            None => (self.connect().await?, Parser::new()),
        };
        let open = self.body.insert((body, parser));

        let chunk = match tokio::time::timeout(IDLE, open.0.next()).await {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(Some(Err(e))) => return Err(self.dropped(error_chain(&e))),
            Ok(None) => return Err(self.dropped("the server closed it".into())),
            Err(_) => return Err(self.dropped(format!("nothing for {IDLE:?}"))),
        };
        match open.1.feed(&chunk) {
            Ok(frames) => Ok(frames),
            Err(e) => Err(self.dropped(e.to_string())),
        }
    }

    async fn connect(&mut self) -> Result<Body, Failure> {
        let mut request = self
            .client
            .get(self.url.clone())
            .header(AUTHORIZATION, bearer(&self.token))
            .header(ACCEPT, "text/event-stream");
        if let Some(id) = self.last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|e| Failure::Retry(format!("failed to connect: {}", error_chain(&e))))?;

        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Err(Failure::Refused(server_message(response).await));
        }
        if !status.is_success() {
            let message = server_message(response).await;
            return Err(Failure::Retry(format!(
                "server answered {status}: {message}"
            )));
        }
        info!(url = %self.url, last_event_id = ?self.last_id, "pop stream connected");
        Ok(Box::pin(response.bytes_stream()))
    }

    fn dropped(&mut self, reason: String) -> Failure {
        self.body = None;
        Failure::Retry(format!("pop stream dropped: {reason}"))
    }

    async fn pause(&mut self, reason: &str) {
        let wait = self.backoff.next_wait();
        warn!(url = %self.url, retry_in = ?wait, "{reason}");
        tokio::time::sleep(wait).await;
    }

    fn decode(&mut self, frame: Frame) -> Option<Incoming> {
        if let Some(id) = frame.id.as_deref().and_then(|id| id.trim().parse().ok()) {
            self.last_id = Some(id);
        }
        let decoded = match frame.event.as_str() {
            "snapshot" => serde_json::from_str(&frame.data).map(Incoming::Snapshot),
            "pop" | "answered" | "withdraw" => {
                serde_json::from_str(&frame.data).map(Incoming::Event)
            }
            other => {
                debug!(event = other, "unknown pop stream event ignored");
                return None;
            }
        };
        match decoded {
            Ok(incoming) => {
                // Something came through: the connection works.
                self.backoff.reset();
                Some(incoming)
            }
            Err(e) => {
                warn!(event = frame.event, error = %e, "unreadable pop stream event skipped");
                None
            }
        }
    }
}

fn bearer(token: &Secret) -> reqwest::header::HeaderValue {
    let value = format!("Bearer {}", token.expose());
    let mut value = reqwest::header::HeaderValue::from_str(&value)
        .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("Bearer -"));
    value.set_sensitive(true);
    value
}

/// The server's own words for a refusal: `{"error": "..."}`, or the start
/// of whatever it sent.
pub async fn server_message(response: reqwest::Response) -> String {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let error = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned));
    let message = error.unwrap_or_else(|| crate::pop::safe_text::clean_to(&text, 200));
    if message.is_empty() {
        status.to_string()
    } else {
        message
    }
}

/// An error with its causes, which say why a connection failed.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
