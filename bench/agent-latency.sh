#!/usr/bin/env bash
# agent-latency.sh: from the SIP INVITE at callpop to the Notify the desktop
# agent sends on the rep's session bus.
#
#   bench/agent-latency.sh            (settings in the environment)
#
# Per run: starts a private dbus-daemon with a recording notification server
# (examples/notify_recorder.rs), `callpop serve` on a fresh database, and
# `callpop agent` for extension 201 on that bus; opens the same pop stream
# with bench/sse_latency.py to learn each call's rang_at; rings callpop with
# sipp and tests/sipp/ring-cancel.xml at RATE calls/s for DURATION seconds,
# each call from its own number and ringing RING_MS before the caller gives
# up.  Reports per run:
#
# - INVITE -> Notify: pop.rang_at (callpop's clock when it took the INVITE)
#   to the moment the notification server received the agent's Notify
#   (same machine, same clock), ms; matched by the caller's number, which
#   the summary names ("Call from (212) 200-0001").
# - INVITE -> pop on the stream, the same measure without the agent, for
#   comparison.
# - calls, Notify calls that opened a notification, CloseNotification calls,
#   and the agent's CPU time per call.
#
# A Markdown table goes to stdout; progress to stderr.
#
# Settings (environment):
#   RATE        calls per second                      (100)
#   DURATION    seconds of calls                      (10)
#   RING_MS     ringing before the CANCEL, ms         (1000)
#   RUNS        runs, each on a fresh daemon, agent and bus (3)
#   CALLPOP     the binary                            (target/release/callpop)
#   RECORDER    the recorder (target/release/examples/notify_recorder)
#   WEB_PORT    server.listen port on 127.0.0.1       (18080)
#   SIP_PORT    sip.listen port on 127.0.0.1          (15060)
#   KEEP        set to keep the work directory
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

rate=${RATE:-100}
duration=${DURATION:-10}
ring_ms=${RING_MS:-1000}
runs=${RUNS:-3}
callpop=${CALLPOP:-$root/target/release/callpop}
recorder=${RECORDER:-$root/target/release/examples/notify_recorder}
web_port=${WEB_PORT:-18080}
sip_port=${SIP_PORT:-15060}
scenario=$root/tests/sipp/ring-cancel.xml
token=bench-$$-$RANDOM
calls=$((rate * duration))

log() { printf '%s\n' "$*" >&2; }
die() { log "agent-latency.sh: $*"; exit 1; }

command -v sipp >/dev/null || die "sipp not found (Debian package sip-tester)"
command -v python3 >/dev/null || die "python3 not found"
command -v dbus-daemon >/dev/null || die "dbus-daemon not found (Debian package dbus)"
[[ -x $callpop ]] || die "no callpop binary at $callpop (cargo build --release)"
[[ -x $recorder ]] || die "no recorder at $recorder (cargo build --release --example notify_recorder)"

cpu_ticks() {
	local s rest
	local -a f
	{ s=$(<"/proc/$1/stat"); } 2>/dev/null || { echo 0; return; }
	rest=${s##*) }
	read -r -a f <<<"$rest"
	echo $((f[11] + f[12]))
}
clk_tck=$(getconf CLK_TCK)

# Waits up to 10 s for file $1 to contain $2; $3 is the pid that must live.
wait_for() {
	for _ in $(seq 100); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || { cat "$1" >&2; die "process $3 exited"; }
		sleep 0.1
	done
	cat "$1" >&2
	die "\"$2\" never showed in $1"
}

workdir=$(mktemp -d /tmp/agent-latency.XXXXXX)
pids=()
# Stops what was started, the last first: the agent takes its notifications
# down while the bus is still there.
stop_all() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	pids=()
}
cleanup() {
	stop_all
	if [[ -n ${KEEP:-} ]]; then log "work directory kept: $workdir"; else rm -rf "$workdir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$workdir"

callers=$workdir/callers.csv
awk -v n="$calls" 'BEGIN {
	print "SEQUENTIAL"
	for (i = 0; i < n; i++) printf "+1212%07d;Caller %d\n", 2000000 + i, i + 1
}' >"$callers"

log "agent-latency.sh: $runs runs, $rate calls/s for $duration s ($calls calls), ringing $ring_ms ms"
rows=()
all=$workdir/all-notify-ms.txt
all_stream=$workdir/all-stream-ms.txt
: >"$all"
: >"$all_stream"
failures=0
for run in $(seq "$runs"); do
	rundir=$workdir/run-$run
	mkdir -p "$rundir"
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	log "run $run: load average $load"

	# The bus and its notification server; the recorder stops when its
	# standard input (this FIFO) closes.
	mkfifo "$rundir/hold"
	"$recorder" "$rundir/notifies.tsv" <"$rundir/hold" >"$rundir/bus.txt" 2>"$rundir/recorder.log" &
	pids+=($!)
	recorder_pid=$!
	exec 7>"$rundir/hold"
	wait_for "$rundir/bus.txt" "unix:" "$recorder_pid"
	bus=$(head -1 "$rundir/bus.txt")

	CALLPOP_SERVER__LISTEN=127.0.0.1:$web_port \
		CALLPOP_SERVER__BASE_URL=http://127.0.0.1:$web_port \
		CALLPOP_SIP__LISTEN=127.0.0.1:$sip_port \
		CALLPOP_DATABASE__URL=sqlite://$rundir/callpop.db \
		CALLPOP_API__TOKEN=$token \
		"$callpop" serve >"$rundir/callpop.log" 2>&1 &
	pids+=($!)
	wait_for "$rundir/callpop.log" "web listening" "$!"

	DBUS_SESSION_BUS_ADDRESS=$bus XDG_CONFIG_HOME=$rundir/config \
		"$callpop" agent --server "http://127.0.0.1:$web_port" --token "$token" --extension 201 \
		>"$rundir/agent.out" 2>"$rundir/agent.log" &
	pids+=($!)
	agent_pid=$!
	wait_for "$rundir/agent.log" "pop stream connected" "$agent_pid"
	grep -q "desktop notifications on" "$rundir/agent.log" || die "the agent found no notification server"

	python3 "$here/sse_latency.py" \
		--url "http://127.0.0.1:$web_port/api/v1/pops?extension=201" --token "$token" \
		--expect "$calls" --idle 15 --deadline $((duration + ring_ms / 1000 + 120)) \
		--ready "$rundir/ready" --pops "$rundir/pops.tsv" --samples "$rundir/stream-ms.txt" \
		>"$rundir/sse.out" 2>&1 &
	reader_pid=$!
	for _ in $(seq 100); do [[ -e $rundir/ready ]] && break; sleep 0.1; done
	[[ -e $rundir/ready ]] || die "the SSE reader did not connect"

	cpu0=$(cpu_ticks "$agent_pid")
	limit=$((duration + ring_ms / 1000 + 20))
	(
		cd "$rundir"
		exec timeout --kill-after=5 $((limit + 10)) sipp "127.0.0.1:$sip_port" \
			-sf "$scenario" -s 201 -inf "$callers" -i 127.0.0.1 -t u1 -nostdin \
			-r "$rate" -m "$calls" -d "$ring_ms" -l $((rate * 5)) -recv_timeout 5000 \
			-timeout "${limit}s" -trace_stat -stf stats.csv
	) >"$rundir/sipp.out" 2>&1 || log "  sipp exited non-zero (see $rundir/sipp.out)"
	wait "$reader_pid" || log "  the SSE reader exited non-zero (see $rundir/sse.out)"

	# The agent's last closes follow the last withdraws: give them a moment.
	for _ in $(seq 50); do
		(($(grep -c '^close' "$rundir/notifies.tsv" || true) >= calls)) && break
		sleep 0.1
	done
	cpu1=$(cpu_ticks "$agent_pid")
	stop_all
	exec 7>&-

	read -r n50 n99 nmax nn shown closes missing < <(python3 - "$rundir" "$calls" <<'EOF'
import math, sys
rundir, calls = sys.argv[1], int(sys.argv[2])
rang = {}
for line in open(f"{rundir}/pops.tsv"):
    call_id, at, caller, _ = line.rstrip("\n").split("\t")
    rang[caller] = float(at)
first, closes = {}, 0
for line in open(f"{rundir}/notifies.tsv"):
    f = line.rstrip("\n").split("\t")
    if f[0] == "close":
        closes += 1
    elif f[3] == "0":
        caller = f[4].removeprefix("Call from ")
        first.setdefault(caller, int(f[1]) / 1e6)
ms = sorted((at - rang[c]) * 1000 for c, at in first.items() if c in rang)
with open(f"{rundir}/notify-ms.txt", "w") as out:
    out.writelines(f"{x:.3f}\n" for x in ms)
q = lambda p: ms[max(1, math.ceil(p * len(ms))) - 1] if ms else float("nan")
missing = sum(1 for c in rang if c not in first)
print(f"{q(0.5):.2f} {q(0.99):.2f} {ms[-1] if ms else float('nan'):.2f} {len(ms)} "
      f"{len(first)} {closes} {missing}")
EOF
	)
	cat "$rundir/notify-ms.txt" >>"$all"
	cat "$rundir/stream-ms.txt" >>"$all_stream"
	s50=$(sort -g "$rundir/stream-ms.txt" | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", v[int(NR * 0.5 + 0.999999)] }')
	s99=$(sort -g "$rundir/stream-ms.txt" | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", v[int(NR * 0.99 + 0.999999)] }')
	per_call=$(awk -v t=$((cpu1 - cpu0)) -v hz="$clk_tck" -v n="$calls" 'BEGIN { printf "%.0f", t * 1e6 / hz / n }')
	complete=yes
	if ((shown != calls || closes < calls || missing != 0)); then
		complete=NO
		failures=$((failures + 1))
	fi
	log "  notifications $shown, closes $closes, pops without a notification $missing;" \
		"INVITE→Notify p50 $n50 p99 $n99 max $nmax ms; INVITE→stream p50 $s50 p99 $s99 ms;" \
		"agent CPU $per_call µs/call"
	rows+=("| $run | $load | $calls | $shown | $closes | $n50 | $n99 | $nmax | $s50 / $s99 | $per_call | $complete |")
	sleep 2
done

summary() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (!NR) { print "- - -"; exit }
		printf "%.2f %.2f %.2f\n", v[int(NR * 0.50 + 0.999999)], v[int(NR * 0.99 + 0.999999)], v[NR] }'
}
read -r a50 a99 amax < <(summary "$all")
read -r b50 b99 bmax < <(summary "$all_stream")

cat <<EOF
$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(date -u +%Y-%m-%d).
\`callpop serve\` and \`callpop agent --extension 201\` (release), SIP over UDP; sipp \`ring-cancel.xml\` at
$rate calls/s for $duration s ($calls calls, each from its own number), ringing $ring_ms ms; a private
dbus-daemon with a recording notification server (body-markup, actions).

| run | load avg (1/5/15 min) | calls | notifications | closes | INVITE→Notify p50 (ms) | p99 | max | INVITE→stream p50 / p99 (ms) | agent CPU per call (µs) | complete |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|
EOF
printf '%s\n' "${rows[@]}"
echo
echo "All runs together: INVITE→Notify p50 $a50 ms, p99 $a99 ms, max $amax ms;" \
	"INVITE→stream p50 $b50 ms, p99 $b99 ms, max $bmax ms."
((failures == 0)) || { echo; echo "$failures run(s) incomplete: a pop without its notification or close."; exit 1; }
