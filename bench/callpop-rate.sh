#!/usr/bin/env bash
# callpop-rate.sh: bench/sip-rate.sh against callpop, one fresh daemon per
# rate, with the call records checked.
#
#   bench/callpop-rate.sh           (settings in the environment)
#
# For each rate: starts `callpop serve` on a fresh SQLite database, runs
# bench/sip-rate.sh at that one rate with callpop's pid (so its CPU is
# measured), waits until every call callpop saw is closed in the database
# (or DRAIN_SECONDS pass), and reads the records, then stops callpop.
# Besides sip-rate.sh's columns, per rate:
#
# - rows / closed: rows in the calls table, and those with an outcome.
# - lost: successful sipp calls without a closed row (successful - closed;
#   0 when every call sipp completed was recorded to its end).
# - INVITE→recorded p50 / p99 / max (ms): per call, from `started_at` (the
#   time callpop took the INVITE) to the timestamp of callpop's own "call
#   ringing" log line, written once the row is committed, just before the
#   pop is published.  The SIP side
#   answers on its own; this is how far the call tracker (lookup, SQLite
#   writes, pops: one event at a time) is behind it.
# - CANCEL→closed max (ms): the same for the end of the call ("call
#   ended", after the row got its outcome), the largest over the calls.
# - context switches per call, over all of callpop's threads, and how its
#   CPU divides between the tokio workers (SIP, tracker, web), sqlx's
#   SQLite connection threads, and the rest.
#
# A Markdown table goes to stdout, progress to stderr.
#
# Settings (environment):
#   RATES          rates to try, calls/s  (100 200 500 1000 2000 3000 4000 5000 6000 8000)
#   STEP_SECONDS   seconds of calls per rate                (5)
#   RING_MS        ringing before the CANCEL, ms            (200)
#   TRANSPORT      u1 or t1                                 (u1)
#   CALLPOP        the binary              (target/release/callpop)
#   WEB_PORT, SIP_PORT  callpop's ports on 127.0.0.1        (18080, 15060)
#   SIPP_PORT      sipp's own port                          (sipp's choice)
#   DRAIN_SECONDS  longest wait for the records to be closed (120)
#   STOP_AFTER     stop after this many rates in a row that fail (2)
#   KEEP           set to keep the work directory
#   RUST_LOG       callpop's log level; the INVITE→recorded columns need the
#                  tracker's info lines                     (info)
# The callers are distinct made-up numbers (one per call), so that no two
# calls share a caller.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

read -r -a rates <<<"${RATES:-100 200 500 1000 2000 3000 4000 5000 6000 8000}"
step_seconds=${STEP_SECONDS:-5}
ring_ms=${RING_MS:-200}
transport=${TRANSPORT:-u1}
callpop=${CALLPOP:-$root/target/release/callpop}
web_port=${WEB_PORT:-18080}
sip_port=${SIP_PORT:-15060}
sipp_port=${SIPP_PORT:-}
drain_seconds=${DRAIN_SECONDS:-120}
stop_after=${STOP_AFTER:-2}

log() { printf '%s\n' "$*" >&2; }
die() { log "callpop-rate.sh: $*"; exit 1; }

[[ -x $callpop ]] || die "no callpop binary at $callpop (cargo build --release)"
callpop=$(realpath "$callpop")

for p in "$web_port" "$sip_port" ${sipp_port:+"$sipp_port"}; do
	[[ -z $(ss -Htuln "sport = :$p" 2>/dev/null) ]] || die "127.0.0.1:$p is taken (WEB_PORT, SIP_PORT, SIPP_PORT)"
done

workdir=$(mktemp -d /tmp/callpop-rate.XXXXXX)
callpop_pid=
stop_callpop() {
	[[ -n $callpop_pid ]] || return 0
	if kill -0 "$callpop_pid" 2>/dev/null; then
		kill -TERM "$callpop_pid" 2>/dev/null || true
		for _ in $(seq 300); do
			kill -0 "$callpop_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$callpop_pid" 2>/dev/null && kill -KILL "$callpop_pid" 2>/dev/null
	fi
	wait "$callpop_pid" 2>/dev/null || true
	callpop_pid=
}
cleanup() {
	stop_callpop
	if [[ -n ${KEEP:-} ]]; then log "work directory kept: $workdir"; else rm -rf "$workdir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Distinct callers, enough for the largest rate (sip-rate.sh caps calls at 40000).
callers=$workdir/callers.csv
awk 'BEGIN { print "SEQUENTIAL"; for (i = 0; i < 40000; i++) printf "+1212%07d;Caller %d\n", 2000000 + i, i + 1 }' >"$callers"

# rows;closed of the calls table.
count_rows() {
	python3 - "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
print(";".join(str(v) for v in db.execute(
    "SELECT COUNT(*), COUNT(outcome) FROM calls").fetchone()))
EOF
}

# From the db's started_at (INVITE taken) and ended_at (CANCEL taken) to the
# timestamps of callpop's "call ringing" and "call ended" log lines (logged
# once the row is written): "p50 p99 max" of the first, in ms, then the max
# of the second.
recorded_lag() {
	python3 - "$1" "$2" <<'EOF2'
import math, re, sqlite3, sys
from datetime import datetime, timezone
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
times = {i: (s, e) for i, s, e in db.execute("SELECT id, started_at, ended_at FROM calls")}
line = re.compile(r"^(\S+)\s+INFO\s+\S+: call (ringing|ended) call_id=(\d+)")
ansi = re.compile(r"\x1b\[[0-9;]*m")
rang, ended = [], []
for text in open(sys.argv[2], errors="replace"):
    m = line.match(ansi.sub("", text))
    if not m or int(m.group(3)) not in times:
        continue
    stamp, frac = m.group(1).rstrip("Z"), 0.0
    if "." in stamp:
        stamp, digits = stamp.split(".")
        frac = int(digits) / 10 ** len(digits)
    t = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp() + frac
    start, end = times[int(m.group(3))]
    if m.group(2) == "ringing":
        rang.append(t * 1000 - start)
    elif end is not None:
        ended.append(t * 1000 - end)
rang.sort()
q = lambda p: rang[min(len(rang), max(1, math.ceil(p * len(rang)))) - 1]
print(f"{q(0.5):.1f} {q(0.99):.1f} {rang[-1]:.1f}" if rang else "- - -",
      f"{max(ended):.0f}" if ended else "-")
EOF2
}

# Over all of callpop's threads: context switches (voluntary + not), and
# CPU ticks of the tokio workers, of sqlx's SQLite connection threads and
# of the rest: "switches tokio sqlite other".
thread_stats() {
	local t comm s rest sw=0 tokio=0 sqlite=0 other=0
	local -a f
	for t in /proc/"$1"/task/*; do
		{ comm=$(<"$t/comm"); s=$(<"$t/stat"); } 2>/dev/null || continue
		rest=${s##*) }
		read -r -a f <<<"$rest"
		case $comm in
		tokio-rt-worker*) tokio=$((tokio + f[11] + f[12])) ;;
		sqlx-sqlite*) sqlite=$((sqlite + f[11] + f[12])) ;;
		*) other=$((other + f[11] + f[12])) ;;
		esac
		sw=$((sw + $(awk '/ctxt_switches/ { n += $2 } END { print n + 0 }' "$t/status" 2>/dev/null || echo 0)))
	done
	echo "$sw $tokio $sqlite $other"
}

rows=()
best=0
failing=0
idle_notes=()
log "callpop-rate.sh: $callpop, rates ${rates[*]}, $step_seconds s per rate, ringing $ring_ms ms, $transport"
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
for rate in "${rates[@]}"; do
	dir=$workdir/rate-$rate
	mkdir -p "$dir"
	db=$dir/callpop.db
	CALLPOP_SERVER__LISTEN=127.0.0.1:$web_port \
		CALLPOP_SIP__LISTEN=127.0.0.1:$sip_port \
		CALLPOP_DATABASE__URL=sqlite://$db \
		CALLPOP_API__TOKEN=bench-$$ \
		RUST_LOG=${RUST_LOG:-info} \
		"$callpop" serve >"$dir/callpop.log" 2>&1 &
	callpop_pid=$!
	up=
	for _ in $(seq 100); do
		kill -0 "$callpop_pid" 2>/dev/null || { cat "$dir/callpop.log" >&2; die "callpop exited"; }
		if (exec 3<>"/dev/tcp/127.0.0.1/$web_port") 2>/dev/null; then up=1; break; fi
		sleep 0.1
	done
	[[ -n $up ]] || die "callpop does not listen on 127.0.0.1:$web_port"

	log "rate $rate: load average $(cut -d' ' -f1-3 /proc/loadavg)"
	read -r sw0 tk0 sq0 ot0 < <(thread_stats "$callpop_pid")
	set +e
	RATES=$rate STEP_SECONDS=$step_seconds RING_MS=$ring_ms TRANSPORT=$transport \
		CALLERS=$callers SIPP_PORT=$sipp_port \
		"$here/sip-rate.sh" "127.0.0.1:$sip_port" "$callpop_pid" >"$dir/sip-rate.md" 2>"$dir/sip-rate.err"
	set -e
	sipp_end=$(date +%s.%N)
	read -r sw1 tk1 sq1 ot1 < <(thread_stats "$callpop_pid")
	line=$(grep -E "^\| $rate \|" "$dir/sip-rate.md" || true)
	[[ -n $line ]] || { cat "$dir/sip-rate.err" >&2; die "no result from sip-rate.sh at $rate"; }
	idle_notes+=("$(grep -E '^Idle CPU' "$dir/sip-rate.md" || true)")

	# sip-rate.sh sleeps 2 s after the rate; the records may take longer.
	# Wait until every row is closed, or until no row has been closed for
	# 5 s (calls whose CANCEL never arrived stay open until callpop's stale
	# sweep), or DRAIN_SECONDS.
	drain=- last_closed=-1 still=0
	for _ in $(seq $((drain_seconds * 5))); do
		IFS=';' read -r n_rows n_closed < <(count_rows "$db")
		if ((n_rows == n_closed)); then
			drain=$(awk -v a="$sipp_end" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
			break
		fi
		if ((n_closed == last_closed)); then
			still=$((still + 1))
			((still >= 25)) && break
		else
			still=0 last_closed=$n_closed
		fi
		sleep 0.2
	done
	[[ $drain == - ]] && drain="never ($((n_rows - n_closed)) rows left open)"
	read -r lag50 lag99 lagmax endlag < <(recorded_lag "$db" "$dir/callpop.log")
	stop_callpop

	IFS='|' read -r -a cell <<<"$line"
	# cells: 1 rate, 2 calls, 3 successful, 4 failed, 5 achieved ...
	ok=${cell[3]// /} failed=${cell[4]// /}
	[[ $ok =~ ^[0-9]+$ ]] || ok=0
	lost=$((ok - n_closed))
	((lost < 0)) && lost=0
	calls_made=${cell[2]// /}
	split=$(awk -v a=$((tk1 - tk0)) -v b=$((sq1 - sq0)) -v c=$((ot1 - ot0)) -v sw=$((sw1 - sw0)) -v n="$calls_made" \
		'BEGIN { t = a + b + c; if (t == 0 || n + 0 == 0) { print "- | -"; exit }
		         printf "%.0f | %.0f / %.0f / %.0f\n", sw / n, 100 * a / t, 100 * b / t, 100 * c / t }')
	rows+=("${line% |} | $n_rows / $n_closed | $lost | $lag50 / $lag99 / $lagmax | $endlag | $split |")
	log "  ok $ok, failed $failed; rows $n_rows, closed $n_closed, lost $lost, drained in $drain s;" \
		"INVITE->recorded p50 $lag50 p99 $lag99 max $lagmax ms, CANCEL->closed max $endlag ms"
	if grep -q 'Highest rate with zero failed calls' "$dir/sip-rate.md" && ((lost == 0 && n_rows >= ok)); then
		best=$rate
		failing=0
	else
		failing=$((failing + 1))
		((failing >= stop_after)) && break
	fi
	sleep 2
done

cat <<EOF
$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), load average $load_at_start at the start.
\`callpop serve\` ($(basename "$callpop")), SIP over $transport, fresh database per rate; \`ring-cancel.xml\`, ringing $ring_ms ms,
$step_seconds s of calls per rate (at most 40000), each from its own number.

| rate (calls/s) | calls | successful | failed | achieved (calls/s) | retrans. | UDP drops | INVITE→180 p50 / p99 (ms) | sipp CPU (ms) | other CPU (ms) | CPU (ms) | CPU per call (µs) | rows / closed | lost | INVITE→recorded p50 / p99 / max (ms) | CANCEL→closed max (ms) | context switches per call | CPU tokio / sqlite / other threads (%) |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
printf '%s\n' "${rows[@]}"
echo
printf '%s\n' "${idle_notes[@]}" | sort -u | sed '/^$/d'
echo
if ((best > 0)); then
	echo "Highest rate with zero failed calls and zero lost records: **$best calls/s**."
else
	echo "No rate had zero failed calls and zero lost records."
fi
