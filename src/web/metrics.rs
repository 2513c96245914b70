//! `/metrics` in Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;

pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    gauge(
        &mut out,
        "callpop_pops_showing",
        "Pops showing now.",
        state.hub.showing_count() as u64,
    );
    if let Some(sip) = &state.sip {
        let c = &sip.counters;
        let rows = [
            ("received", c.received.load(Ordering::Relaxed)),
            ("refused", c.refused.load(Ordering::Relaxed)),
            ("malformed", c.malformed.load(Ordering::Relaxed)),
            ("retransmission", c.retransmissions.load(Ordering::Relaxed)),
        ];
        let _ = writeln!(
            out,
            "# HELP callpop_sip_messages_total SIP messages by what became of them."
        );
        let _ = writeln!(out, "# TYPE callpop_sip_messages_total counter");
        for (kind, n) in rows {
            let _ = writeln!(out, "callpop_sip_messages_total{{kind=\"{kind}\"}} {n}");
        }
        gauge(
            &mut out,
            "callpop_sip_transactions",
            "INVITE transactions remembered.",
            sip.transactions() as u64,
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}
