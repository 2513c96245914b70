//! A private D-Bus session bus with a notification server on it that notes
//! when each Notify and CloseNotification arrives, for
//! `bench/agent-latency.sh`:
//!
//!     cargo build --release --example notify_recorder
//!     target/release/examples/notify_recorder OUT.tsv
//!
//! Prints the bus's address as its first line, then writes to OUT.tsv one
//! line per Notify (`notify`, arrival in Unix µs, id, replaced id, summary)
//! and per close (`close`, id), tab-separated. Stops, and stops the bus,
//! when its standard input closes or on SIGTERM / SIGINT.

#[path = "../tests/it/notify_server.rs"]
mod notify_server;

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use notify_server::{PrivateBus, Server};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: OUT.tsv"))?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&out)?);
    let bus = PrivateBus::start()
        .await
        .ok_or_else(|| anyhow::anyhow!("dbus-daemon is missing (Debian package dbus)"))?;
    let server = Server::start(&bus, &["body", "body-markup", "actions"]).await;
    println!("{}", bus.address());
    std::io::stdout().flush()?;

    let stop = stopped();
    tokio::pin!(stop);
    let (mut notified, mut closed) = (0, 0);
    loop {
        let more = server.wait_for_notifies(notified + 1, Duration::from_millis(100));
        tokio::select! {
            _ = more => {}
            _ = &mut stop => break,
        }
        let notifies = server.notifies();
        for n in &notifies[notified..] {
            let at = n.at.duration_since(UNIX_EPOCH)?.as_micros();
            let (id, replaces, summary) = (n.id, n.replaces_id, &n.summary);
            writeln!(out, "notify\t{at}\t{id}\t{replaces}\t{summary}")?;
        }
        notified = notifies.len();
        let closes = server.closes();
        for id in &closes[closed..] {
            writeln!(out, "close\t{id}")?;
        }
        closed = closes.len();
        out.flush()?;
    }
    out.flush()?;
    bus.stop().await;
    // The thread reading standard input may still wait on it: leave now.
    std::process::exit(0)
}

/// Completes when standard input closes or a stop signal comes.
async fn stopped() {
    let eof = tokio::task::spawn_blocking(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("failed to install the SIGTERM handler");
    tokio::select! {
        _ = eof => {}
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
