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
    if !state.links.is_empty() {
        let statuses: Vec<_> = state.links.iter().map(|l| l.status()).collect();
        let _ = writeln!(
            out,
            "# HELP callpop_link_up Whether a PBX link is connected (1) or not (0)."
        );
        let _ = writeln!(out, "# TYPE callpop_link_up gauge");
        for s in &statuses {
            let up = u8::from(s.state == crate::telephony::ami::link::State::Connected);
            let _ = writeln!(
                out,
                "callpop_link_up{{link=\"{}\",kind=\"{}\"}} {up}",
                s.name, s.kind
            );
        }
        let _ = writeln!(
            out,
            "# HELP callpop_link_events_total Events a PBX link has read."
        );
        let _ = writeln!(out, "# TYPE callpop_link_events_total counter");
        for s in &statuses {
            let _ = writeln!(
                out,
                "callpop_link_events_total{{link=\"{}\"}} {}",
                s.name, s.events
            );
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}
