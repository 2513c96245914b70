#!/usr/bin/env bash
# pop-latency.sh: from the SIP INVITE to the pop on the rep's event stream.
#
#   bench/pop-latency.sh            (settings in the environment)
#
# Per run: starts `callpop serve` on a fresh database, opens the pop stream
# of extension 201 with bench/sse_latency.py, rings callpop with sipp and
# tests/sipp/ring-cancel.xml at RATE calls/s for DURATION seconds, each
# call from its own caller number and ringing RING_MS before the caller
# gives up, then checks that every call got a pop, a withdraw and a call
# record with its outcome, and stops callpop.  Reports per run:
#
# - INVITE -> pop: pop.rang_at (callpop's clock when it took the INVITE)
#   to the moment the reader had the event's bytes (time.time()), ms.
# - INVITE -> 180 as sipp saw it (-trace_rtt: every call's response time,
#   sipp's clock, ms resolution).
# - calls made / successful / failed (sipp), pops, withdraws, rows in the
#   calls table and how many of them are closed with an outcome.
# - callpop's CPU time over the run per call, the load average, and the
#   CPU everything else on the machine used meanwhile (besides callpop,
#   sipp and the reader), which should be about 0 for the figures to hold.
#
# A Markdown table goes to stdout; progress to stderr.
#
# Settings (environment):
#   RATE        calls per second                      (500)
#   DURATION    seconds of calls                      (10)
#   RING_MS     ringing before the CANCEL, ms         (1000)
#   RUNS        runs, each on a fresh daemon and db   (3)
#   CALLPOP     the binary                            (target/release/callpop)
#   WEB_PORT    server.listen port on 127.0.0.1       (18080)
#   SIP_PORT    sip.listen port on 127.0.0.1          (15060)
#   SIPP_PORT   sipp's own port                       (sipp's choice)
#   TRANSPORT   sipp -t: u1 (UDP) or t1 (TCP)         (u1)
#   DIRECTORY   a callpop SQLite database to start from (its customers are
#               the directory callers are looked up in; the callers are then
#               numbers drawn from it, so every call matches a customer).
#               Empty: a fresh database, no caller matches anyone.
#   KEEP        set to keep the work directory (logs, samples, sipp files)
#   RUST_LOG    callpop's log level                   (its default, info)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

rate=${RATE:-500}
duration=${DURATION:-10}
ring_ms=${RING_MS:-1000}
runs=${RUNS:-3}
callpop=${CALLPOP:-$root/target/release/callpop}
web_port=${WEB_PORT:-18080}
sip_port=${SIP_PORT:-15060}
sipp_port=${SIPP_PORT:-}
transport=${TRANSPORT:-u1}
directory=${DIRECTORY:-}
scenario=$root/tests/sipp/ring-cancel.xml
token=bench-$$-$RANDOM
calls=$((rate * duration))
recv_timeout_ms=5000

log() { printf '%s\n' "$*" >&2; }
die() { log "pop-latency.sh: $*"; exit 1; }

command -v sipp >/dev/null || die "sipp not found (Debian package sip-tester)"
command -v python3 >/dev/null || die "python3 not found"
[[ -x $callpop ]] || die "no callpop binary at $callpop (cargo build --release)"
[[ -z $directory || -r $directory ]] || die "no database $directory"
callpop=$(realpath "$callpop")
[[ -n $directory ]] && directory=$(realpath "$directory")

# Python with its sqlite3 module reads the database; the sqlite3 CLI is
# not needed.
sql() {
	python3 - "$1" "$2" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
for row in db.execute(sys.argv[2]):
    print(";".join("" if v is None else str(v) for v in row))
EOF
}

# Nothing bound to port $1, UDP or TCP.
port_free() {
	[[ -z $(ss -Htuln "sport = :$1" 2>/dev/null) ]]
}

cpu_ticks() {
	local s rest
	local -a f
	{ s=$(<"/proc/$1/stat"); } 2>/dev/null || { echo 0; return; }
	rest=${s##*) }
	read -r -a f <<<"$rest"
	echo $((f[11] + f[12]))
}
machine_busy_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}
clk_tck=$(getconf CLK_TCK)
# CPU time, in ms, of this shell's waited-for children (sipp, the reader),
# from the "times" builtin, into REPLY.  Not to be called in $(...).
children_cpu_ms() {
	times >"$workdir/times"
	REPLY=$(awk 'NR == 2 {
		t = 0
		for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60000 + a[2] * 1000 }
		printf "%.0f", t }' "$workdir/times")
}

workdir=$(mktemp -d /tmp/pop-latency.XXXXXX)
callpop_pid= reader_pid= sipp_pid=
stop_callpop() {
	[[ -n $callpop_pid ]] || return 0
	if kill -0 "$callpop_pid" 2>/dev/null; then
		kill -TERM "$callpop_pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$callpop_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$callpop_pid" 2>/dev/null && kill -KILL "$callpop_pid" 2>/dev/null
	fi
	wait "$callpop_pid" 2>/dev/null || true
	callpop_pid=
}
cleanup() {
	local p
	for p in "$sipp_pid" "$reader_pid"; do
		[[ -n $p ]] && kill "$p" 2>/dev/null || true
	done
	stop_callpop
	if [[ -n ${KEEP:-} ]]; then
		log "work directory kept: $workdir"
	else
		rm -rf "$workdir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$workdir"

for p in "$web_port" "$sip_port"; do
	port_free "$p" || die "127.0.0.1:$p is taken (WEB_PORT, SIP_PORT)"
done

# The callers: one number each, distinct.  From the directory when given
# (numbers its customers have), else made up (NANP 212-2xx-xxxx).
callers=$workdir/callers.csv
if [[ -n $directory ]]; then
	{
		echo SEQUENTIAL
		sql "$directory" "SELECT DISTINCT e164 FROM phone_numbers WHERE e164 LIKE '+1%' \
			ORDER BY random() LIMIT $calls" | awk '{ printf "%s;Caller %d\n", $1, NR }'
	} >"$callers"
else
	awk -v n="$calls" 'BEGIN {
		print "SEQUENTIAL"
		for (i = 0; i < n; i++) printf "+1212%07d;Caller %d\n", 2000000 + i, i + 1
	}' >"$callers"
fi
(($(wc -l <"$callers") - 1 == calls)) || die "could not draw $calls distinct callers"

# A quantile (nearest rank) and the max of a file of numbers, one a line.
summarise() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (!NR) { print "- - - -"; exit }
		q50 = v[int(NR * 0.50 + 0.999999)]; q99 = v[int(NR * 0.99 + 0.999999)]
		printf "%s %s %s %d\n", q50, q99, v[NR], NR }'
}

log "pop-latency.sh: $runs runs, $rate calls/s for $duration s ($calls calls), ringing $ring_ms ms," \
	"$transport, directory: ${directory:-none}"
log "callpop: $callpop"

rows=()
all_pop_samples=$workdir/all-pop.txt
all_rtt_samples=$workdir/all-rtt.txt
: >"$all_pop_samples"
: >"$all_rtt_samples"
failures=0
for run in $(seq "$runs"); do
	rundir=$workdir/run-$run
	mkdir -p "$rundir"
	db=$rundir/callpop.db
	[[ -n $directory ]] && cp "$directory" "$db"

	load=$(cut -d' ' -f1-3 /proc/loadavg)
	log "run $run: load average $load"

	CALLPOP_SERVER__LISTEN=127.0.0.1:$web_port \
		CALLPOP_SERVER__BASE_URL=http://127.0.0.1:$web_port \
		CALLPOP_SIP__LISTEN=127.0.0.1:$sip_port \
		CALLPOP_DATABASE__URL=sqlite://$db \
		CALLPOP_API__TOKEN=$token \
		"$callpop" serve >"$rundir/callpop.log" 2>&1 &
	callpop_pid=$!
	up=
	for _ in $(seq 100); do
		kill -0 "$callpop_pid" 2>/dev/null || { cat "$rundir/callpop.log" >&2; die "callpop exited"; }
		if (exec 3<>"/dev/tcp/127.0.0.1/$web_port") 2>/dev/null; then up=1; break; fi
		sleep 0.1
	done
	[[ -n $up ]] || die "callpop does not listen on 127.0.0.1:$web_port"

	python3 "$here/sse_latency.py" \
		--url "http://127.0.0.1:$web_port/api/v1/pops?extension=201" --token "$token" \
		--expect "$calls" --idle 15 --deadline $((duration + ring_ms / 1000 + 120)) \
		--ready "$rundir/ready" --json "$rundir/sse.json" --samples "$rundir/pop-ms.txt" \
		>"$rundir/sse.out" 2>&1 &
	reader_pid=$!
	for _ in $(seq 100); do
		[[ -e $rundir/ready ]] && break
		kill -0 "$reader_pid" 2>/dev/null || { cat "$rundir/sse.out" >&2; die "the SSE reader exited"; }
		sleep 0.1
	done
	[[ -e $rundir/ready ]] || die "the SSE reader did not connect"

	cpu0=$(cpu_ticks "$callpop_pid")
	busy0=$(machine_busy_ticks)
	children_cpu_ms
	ours0=$REPLY
	limit=$((duration + ring_ms / 1000 + recv_timeout_ms / 1000 + 10))
	(
		cd "$rundir"
		exec timeout --kill-after=5 $((limit + 10)) sipp "127.0.0.1:$sip_port" \
			-sf "$scenario" -s 201 -inf "$callers" -i 127.0.0.1 ${sipp_port:+-p "$sipp_port"} \
			-t "$transport" -nostdin -r "$rate" -m "$calls" -d "$ring_ms" -l $((rate * 5)) \
			-recv_timeout "$recv_timeout_ms" -timeout "${limit}s" \
			-max_recv_loops 10000 -max_sched_loops 10000 -buff_size 4194304 \
			-trace_stat -stf stats.csv -fd 1 -trace_rtt -rtt_freq 100
	) >"$rundir/sipp.out" 2>&1 &
	sipp_pid=$!
	set +e
	wait "$sipp_pid"
	sipp_rc=$?
	set -e
	sipp_pid=

	# The last withdraws follow the last CANCELs at once; give the reader
	# its idle time at most.
	set +e
	wait "$reader_pid"
	reader_rc=$?
	set -e
	reader_pid=
	cpu1=$(cpu_ticks "$callpop_pid")
	busy1=$(machine_busy_ticks)
	children_cpu_ms
	ours_ms=$((REPLY - ours0))

	# Records, read while callpop still runs: stopping it would close any
	# call left open as interrupted and hide it.
	IFS=';' read -r n_rows n_closed n_abandoned n_legs_closed n_callers < <(sql "$db" \
		"SELECT (SELECT COUNT(*) FROM calls), (SELECT COUNT(*) FROM calls WHERE outcome IS NOT NULL),
		        (SELECT COUNT(*) FROM calls WHERE outcome = 'abandoned'),
		        (SELECT COUNT(*) FROM call_legs WHERE outcome IS NOT NULL),
		        (SELECT COUNT(DISTINCT remote_raw) FROM calls)")
	n_matched=$(sql "$db" "SELECT COUNT(DISTINCT call_id) FROM call_matches")
	stop_callpop

	stats=$rundir/stats.csv
	col() {
		awk -F';' -v want="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next }
			{ last = $0 } END { split(last, v, ";"); print (c ? v[c] : "-") }' "$stats"
	}
	if [[ -s $stats ]]; then
		created=$(col TotalCallCreated)
		ok=$(col 'SuccessfulCall(C)')
		failed=$((calls - ok))
	else
		created=0 ok=0 failed=$calls
	fi

	# sipp's RTT file: date_ms;response_time_ms;rtd_no, one row per call.
	rtt_file=$(ls "$rundir"/*_rtt.csv 2>/dev/null | head -1 || true)
	if [[ -n $rtt_file ]]; then
		awk -F';' 'NR > 1 && $2 != "" { print $2 }' "$rtt_file" >"$rundir/rtt-ms.txt"
	else
		: >"$rundir/rtt-ms.txt"
	fi
	read -r r50 r99 rmax rn < <(summarise "$rundir/rtt-ms.txt")
	read -r p50 p99 pmax pn < <(summarise "$rundir/pop-ms.txt")
	cat "$rundir/pop-ms.txt" >>"$all_pop_samples"
	cat "$rundir/rtt-ms.txt" >>"$all_rtt_samples"
	read -r pops withdraws pop_calls withdraw_calls < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["pops"], s["withdraws"], s["distinct_pop_calls"], s["distinct_withdraw_calls"])' "$rundir/sse.json")

	cpu_ms=$(((cpu1 - cpu0) * 1000 / clk_tck))
	per_call=$(awk -v t=$((cpu1 - cpu0)) -v hz="$clk_tck" -v n="$created" \
		'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "-" }')
	# What the rest of the machine did meanwhile: busy time less callpop,
	# sipp and the reader.  Far from 0, the run was disturbed.
	other_ms=$(((busy1 - busy0) * 1000 / clk_tck - cpu_ms - ours_ms))
	((other_ms < 0)) && other_ms=0

	complete=yes
	if ((failed != 0 || ok != calls || pop_calls != calls || withdraw_calls != calls ||
		n_rows != calls || n_closed != calls || n_callers != calls)); then
		complete=NO
		failures=$((failures + 1))
	fi
	log "  sipp: created $created, successful $ok, failed $failed (exit $sipp_rc);" \
		"pops $pops, withdraws $withdraws (reader exit $reader_rc); rows $n_rows, closed $n_closed," \
		"matched $n_matched; pop p50 $p50 p99 $p99 max $pmax ms; 180 p50 $r50 p99 $r99 max $rmax ms;" \
		"callpop CPU $cpu_ms ms ($per_call µs/call), sipp + reader $ours_ms ms, other $other_ms ms"
	fmt() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else if (v < 10) printf "%.2f", v; else printf "%.1f", v }'; }
	rows+=("| $run | $load | $created | $ok | $failed | $pops / $withdraws | $n_rows / $n_closed | $n_matched | $(fmt "$p50") | $(fmt "$p99") | $(fmt "$pmax") | $r50 / $r99 / $rmax | $cpu_ms | $per_call | $ours_ms | $other_ms | $complete |")
	sleep 2
done

read -r ap50 ap99 apmax apn < <(summarise "$all_pop_samples")
read -r ar50 ar99 armax arn < <(summarise "$all_rtt_samples")

cat <<EOF
$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(date -u +%Y-%m-%d).
callpop \`serve\`, SIP over $transport; sipp \`ring-cancel.xml\` at $rate calls/s for $duration s ($calls calls,
each from its own number), ringing $ring_ms ms; directory: ${directory:+$(basename "$directory")}${directory:-none (no caller matches)}.

| run | load avg (1/5/15 min) | calls | successful | failed | pops / withdraws | rows / closed | rows matched | INVITE→pop p50 (ms) | p99 | max | INVITE→180 p50 / p99 / max (ms) | callpop CPU (ms) | CPU per call (µs) | sipp + reader CPU (ms) | other CPU (ms) | complete |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
EOF
printf '%s\n' "${rows[@]}"
echo
echo "All runs together: INVITE→pop p50 $(fmt "$ap50") ms, p99 $(fmt "$ap99") ms, max $(fmt "$apmax") ms ($apn pops);" \
	"INVITE→180 p50 $ar50 ms, p99 $ar99 ms, max $armax ms ($arn calls)."
((failures == 0)) || { echo; echo "$failures run(s) incomplete: a call without its pop, withdraw or closed record, or a failed call."; exit 1; }
