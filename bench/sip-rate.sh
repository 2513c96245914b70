#!/usr/bin/env bash
# sip-rate.sh: how many ringing calls per second a SIP endpoint handles.
#
#   bench/sip-rate.sh TARGET_HOST:PORT [PID...]
#
# Rings the endpoint with sipp and tests/sipp/ring-cancel.xml (INVITE,
# 100/180, ring RING_MS, CANCEL, 200 + 487, ACK) at increasing call rates,
# a fixed number of calls per rate, and writes a Markdown table to stdout:
# per rate, the calls made, successful and failed, the rate sipp actually
# achieved, and, when PIDs are given, the CPU time those processes (and all
# their descendants: Kamailio forks its workers) used during the run,
# divided by the number of calls; also sipp's own CPU and the CPU everything
# else on the machine used meanwhile, which should be about nothing for the
# figures to mean much.  Progress goes to stderr.
#
# ring-cancel.xml sets no retransmission timer, so sipp retransmits nothing:
# a datagram lost on the way is a failed call.
#
# The result is the highest rate with zero failed calls at which sipp kept
# up (achieved at least 90 % of the target rate with every call made); and
# the highest such rate at which 99 % of the 180s also came within 200 ms.
#
# Examples:
#   bench/sip-rate.sh 127.0.0.1:5060 "$(pgrep -o -f 'callpop serve')"
#   bench/kamailio.sh           # the Kamailio baseline, see RESULTS.md
#
# Settings (environment):
#   RATES          call rates to try, calls/s
#                  (100 200 500 1000 2000 3000 4000 5000 6000 8000)
#   STEP_SECONDS   seconds of calls per rate    (5)
#   MAX_CALLS      cap on calls per rate        (40000)
#   RING_MS        ringing time before CANCEL   (200)
#   TRANSPORT      sipp -t: u1 (UDP) or t1 (TCP) (u1)
#   SCENARIO       sipp scenario                (tests/sipp/ring-cancel.xml)
#   CALLERS        injection CSV                (tests/sipp/callers.csv)
#   SERVICE        extension rung               (201)
#   SIPP_PORT      sipp's local port            (sipp's choice)
#   BUDGET_SECONDS stop starting new rates after this long (140)
#
# Only loopback targets are accepted.
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
	exit 2
}

[[ $# -ge 1 ]] || usage
[[ $1 == -h || $1 == --help ]] && usage
target=$1
shift
pids=("$@")

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

read -r -a rates <<<"${RATES:-100 200 500 1000 2000 3000 4000 5000 6000 8000}"
step_seconds=${STEP_SECONDS:-5}
max_calls=${MAX_CALLS:-40000}
ring_ms=${RING_MS:-200}
transport=${TRANSPORT:-u1}
scenario=${SCENARIO:-$root/tests/sipp/ring-cancel.xml}
callers=${CALLERS:-$root/tests/sipp/callers.csv}
service=${SERVICE:-201}
budget=${BUDGET_SECONDS:-140}
# A call that has not had its answer within this long fails (ms).
recv_timeout_ms=5000

log() { printf '%s\n' "$*" >&2; }
die() { log "sip-rate.sh: $*"; exit 1; }

command -v sipp >/dev/null || die "sipp not found (Debian package sip-tester)"
[[ -r $scenario ]] || die "no scenario $scenario"
[[ -r $callers ]] || die "no injection file $callers"
scenario=$(realpath "$scenario")
callers=$(realpath "$callers")

# TARGET is HOST:PORT, or [V6]:PORT.  Refuse anything but loopback: this
# floods its target.
if [[ $target =~ ^\[([0-9a-fA-F:]+)\]:([0-9]+)$ ]]; then
	host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
elif [[ $target =~ ^([^:]+):([0-9]+)$ ]]; then
	host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
else
	die "TARGET must be HOST:PORT, e.g. 127.0.0.1:5060"
fi
case $host in
localhost) host=127.0.0.1 local_ip=127.0.0.1 remote=$host:$port ;;
127.*) local_ip=127.0.0.1 remote=$host:$port ;;
::1 | 0:0:0:0:0:0:0:1) local_ip=::1 remote="[$host]:$port" ;;
*) die "only loopback targets (127.0.0.0/8, ::1), not $host" ;;
esac

for pid in "${pids[@]}"; do
	[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/stat ]] || die "no process $pid"
done

clk_tck=$(getconf CLK_TCK)

# The given pids and all their descendants, once each.
expand_pids() {
	[[ $# -gt 0 ]] || return 0
	# ppid is the 2nd field after "pid (comm)"; comm may hold spaces, so
	# cut at the last ") ".
	local f s rest
	local -A parent=()
	for f in /proc/[0-9]*/stat; do
		# a process that ended since the glob reads as nothing, or fails
		{ s=$(<"$f"); } 2>/dev/null || continue
		[[ $s == [0-9]*') '* ]] || continue
		rest=${s##*) }
		read -r _ ppid _ <<<"$rest"
		parent[${s%% *}]=$ppid
	done
	local -A keep=()
	local p q
	for p in "$@"; do keep[$p]=1; done
	# Walk up from every process; keep it if a given pid is an ancestor.
	for p in "${!parent[@]}"; do
		q=$p
		while [[ -n ${parent[$q]:-} && $q != 0 && $q != 1 ]]; do
			if [[ -n ${keep[$q]:-} ]]; then keep[$p]=1; break; fi
			q=${parent[$q]}
		done
	done
	printf '%s\n' "${!keep[@]}"
}

# utime+stime, in clock ticks, summed over the processes given.  For a
# multi-threaded process (callpop) /proc/PID/stat already sums its threads.
cpu_ticks() {
	local total=0 s rest pid
	local -a f
	for pid in "$@"; do
		# a process gone since counts for nothing
		{ s=$(<"/proc/$pid/stat"); } 2>/dev/null || continue
		[[ $s == [0-9]*') '* ]] || continue
		rest=${s##*) }
		read -r -a f <<<"$rest"
		# fields 14 and 15 of stat; rest starts at field 3
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}

# Datagrams the kernel dropped for a full socket receive buffer, system
# wide (UDP over IPv4 and IPv6): on loopback, that is sipp or the target
# not reading fast enough.
udp_drops() {
	awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { for (i = 2; i <= NF; i++) v[i] = $i }
	     $1 == "Udp:" && $2 !~ /^[0-9]+$/ { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i }
	     END { n = c ? v[c] : 0 }
	     FILENAME ~ /snmp6/ && $1 == "Udp6RcvbufErrors" { n6 = $2 }
	     END { print n + n6 }' /proc/net/snmp /proc/net/snmp6 2>/dev/null || echo 0
}

# CPU time, in ms, of this shell's waited-for children (sipp, under
# timeout(1)), from the "times" builtin's second line ("0m1.230s 0m0.450s"),
# into REPLY.  Not to be called in $(...): a subshell has children of its
# own.
children_cpu_ms() {
	times >"$workdir/times"
	REPLY=$(awk 'NR == 2 {
		t = 0
		for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60000 + a[2] * 1000 }
		printf "%.0f", t }' "$workdir/times")
}

# Busy CPU time of the whole machine, in clock ticks (user, nice, system,
# irq, softirq, steal from /proc/stat): what neither sipp nor the target
# used during a rate is someone else's, and spoils the figures.
machine_busy_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

workdir=$(mktemp -d /tmp/sip-rate.XXXXXX)
sipp_pid=
cleanup() {
	# sipp normally ends by itself (-m, -timeout); this is for ^C.
	if [[ -n $sipp_pid ]] && kill -0 "$sipp_pid" 2>/dev/null; then
		kill "$sipp_pid" 2>/dev/null || true
	fi
	rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# sipp may leave files in its working directory; keep them out of the tree.
cd "$workdir"

sipp_common=(
	"$remote" -sf "$scenario" -s "$service" -inf "$callers"
	-i "$local_ip" -t "$transport" -nostdin
	# sipp's event loop handles at most 1000 messages per cycle by
	# default; raise it for the higher rates.
	-max_recv_loops 10000 -max_sched_loops 10000
	-buff_size 4194304
)
[[ -n ${SIPP_PORT:-} ]] && sipp_common+=(-p "$SIPP_PORT")

# Is anything answering?  One OPTIONS, 2 s.
if ! timeout 10 sipp "$remote" -sf "$root/tests/sipp/options.xml" -s "$service" \
	-i "$local_ip" -t "$transport" -nostdin -m 1 -recv_timeout 2000 \
	${SIPP_PORT:+-p "$SIPP_PORT"} >"$workdir/probe.out" 2>&1; then
	die "no answer to OPTIONS from $remote ($transport)"
fi

# Column $2 of the last line of sipp's statistics file $1 (by header name).
stat_col() {
	awk -F';' -v want="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next }
		{ last = $0 }
		END { if (!c) exit 1; split(last, v, ";"); print v[c] }' "$1"
}

# The bucket ("<1", "<2", ...) holding quantile $2 of the INVITE->180
# response times in sipp's statistics file $1.
rtd_quantile() {
	awk -F';' -v q="$2" '
		NR == 1 {
			for (i = 1; i <= NF; i++)
				if ($i ~ /^ResponseTimeRepartitioninvite_/) {
					c[++n] = i; name[n] = substr($i, 31)
				}
			next
		}
		{ last = $0 }
		END {
			if (!n) { print "-"; exit }
			split(last, v, ";")
			for (i = 1; i <= n; i++) total += v[c[i]]
			if (!total) { print "-"; exit }
			for (i = 1; i <= n; i++) {
				acc += v[c[i]]
				if (acc >= q * total) { print name[i]; exit }
			}
		}' "$1"
}

# Calls per second sipp actually placed: the calls made over the time until
# the last was made, from the statistics rows (every 200 ms).  sipp's own
# CallRate counts the whole run, the last calls' ringing and time-outs
# included.  CurrentTime's third tab-separated field is epoch seconds.
achieved_rate() {
	awk -F';' '
		NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "CurrentTime") ct = i; if ($i == "TotalCallCreated") tc = i }; next }
		{ split($ct, t, "\t"); if (NR == 2) start = t[3]; if ($tc > n) { n = $tc; at = t[3] } }
		END { d = at - start; if (n > 0 && d > 0) printf "%.0f", n / d; else print 0 }' "$1"
}

log "sip-rate.sh: $remote over $transport, ringing ${ring_ms} ms, ${step_seconds} s per rate"
# Figures from a busy machine mean little: say how busy it was.
load_at_start=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load_at_start" 'BEGIN { exit !(l > 0.5) }'; then
	log "warning: load average $load_at_start; other work on this machine will show in the figures"
fi
if [[ ${#pids[@]} -gt 0 ]]; then
	log "CPU of pids ${pids[*]} and their descendants"
fi

# What the processes burn doing nothing (timers, housekeeping), so that it
# can be told apart from the per-call cost at low rates.
idle_note=
if [[ ${#pids[@]} -gt 0 ]]; then
	mapfile -t cpu_pids < <(expand_pids "${pids[@]}")
	i0=$(cpu_ticks "${cpu_pids[@]}")
	sleep 3
	i1=$(cpu_ticks "${cpu_pids[@]}")
	idle_note=$(awk -v d=$((i1 - i0)) -v hz="$clk_tck" \
		'BEGIN { printf "Idle CPU of the measured processes: %.0f ms per second.", d * 1000 / hz / 3 }')
	log "$idle_note"
fi

rows=()
best=0
# The same, also with 99 % of the 180s within 200 ms: over TCP sipp never
# gives up on a call, so an overloaded target shows as late answers rather
# than failed calls (and a PBX on UDP would be retransmitting at 500 ms).
best_timely=0
failing_steps=0
started=$SECONDS
for rate in "${rates[@]}"; do
	if ((SECONDS - started > budget)); then
		log "time budget spent; not trying $rate calls/s and above"
		break
	fi
	calls=$((rate * step_seconds))
	((calls > max_calls)) && calls=$max_calls
	# Seconds the calls take to place plus ring, then room for the last
	# answers to time out.
	limit=$((calls / rate + ring_ms / 1000 + recv_timeout_ms / 1000 + 5))
	stats=$workdir/stats-$rate.csv

	cpu_pids=()
	if [[ ${#pids[@]} -gt 0 ]]; then
		mapfile -t cpu_pids < <(expand_pids "${pids[@]}")
		[[ ${#cpu_pids[@]} -gt 0 ]] || cpu_pids=("${pids[@]}")
	fi
	t0=$(cpu_ticks "${cpu_pids[@]}")
	drops0=$(udp_drops)
	children_cpu_ms
	sipp_cpu0=$REPLY
	busy0=$(machine_busy_ticks)

	log "  $rate calls/s, $calls calls ..."
	# -l: let up to 3 s of calls be open at once, so that a slow endpoint
	#     shows up as failed calls rather than sipp quietly slowing down.
	# -timeout: sipp gives up by itself; timeout(1) is the backstop.
	set +e
	timeout --kill-after=5 $((limit + 10)) sipp "${sipp_common[@]}" \
		-r "$rate" -m "$calls" -d "$ring_ms" -l $((rate * 3)) \
		-recv_timeout "$recv_timeout_ms" -timeout "${limit}s" \
		-trace_stat -stf "$stats" -fd 200ms \
		>"$workdir/sipp-$rate.out" 2>&1 &
	sipp_pid=$!
	wait "$sipp_pid"
	rc=$?
	set -e
	sipp_pid=

	busy1=$(machine_busy_ticks)
	t1=$(cpu_ticks "${cpu_pids[@]}")
	drops=$(($(udp_drops) - drops0))
	children_cpu_ms
	sipp_cpu=$((REPLY - sipp_cpu0))

	if [[ ! -s $stats ]] || ! created=$(stat_col "$stats" TotalCallCreated); then
		log "    sipp exited $rc without statistics:"
		tail -5 "$workdir/sipp-$rate.out" >&2 || true
		rows+=("| $rate | 0 | 0 | - | - | - | - | - | - | - | - | - |")
		failing_steps=$((failing_steps + 1))
		((failing_steps >= 2)) && break
		continue
	fi
	ok=$(stat_col "$stats" "SuccessfulCall(C)")
	retrans=$(stat_col "$stats" "Retransmissions(C)")
	# A call still open when sipp gave up counts as failed, and so does a
	# call never placed.
	failed=$((calls - ok))
	achieved=$(achieved_rate "$stats")
	p50=$(rtd_quantile "$stats" 0.50)
	p99=$(rtd_quantile "$stats" 0.99)

	# Everything else the machine did meanwhile (with no pids, the target
	# is in here too).
	other_ms=$(awk -v b=$((busy1 - busy0)) -v t=$((t1 - t0)) -v hz="$clk_tck" -v s="$sipp_cpu" \
		'BEGIN { o = (b - t) * 1000 / hz - s; if (o < 0) o = 0; printf "%.0f", o }')

	if [[ ${#pids[@]} -gt 0 ]]; then
		cpu_ms=$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" 'BEGIN { printf "%.0f", d * 1000 / hz }')
		per_call=$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v n="$created" \
			'BEGIN { if (n > 0) printf "%.0f", d * 1e6 / hz / n; else print "-" }')
	else
		cpu_ms=- per_call=-
	fi

	rows+=("| $rate | $created | $ok | $failed | $achieved | $retrans | $drops | $p50 / $p99 | $sipp_cpu | $other_ms | $cpu_ms | $per_call |")
	log "    ok $ok, failed $failed, achieved $achieved calls/s, sipp exit $rc"

	kept_up=$(awk -v a="$achieved" -v r="$rate" 'BEGIN { print (a >= 0.9 * r) ? 1 : 0 }')
	if ((failed == 0 && created == calls && kept_up == 1)); then
		best=$rate
		failing_steps=0
		case $p99 in
		"<1" | "<2" | "<5" | "<10" | "<20" | "<50" | "<100" | "<200")
			best_timely=$rate ;;
		esac
	else
		failing_steps=$((failing_steps + 1))
		# Two rates in a row that did not hold: higher ones will not.
		((failing_steps >= 2)) && break
	fi
	# Let the endpoint finish the last transactions before the next rate.
	sleep 2
done

cat <<EOF
$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), load average $load_at_start at the start.
Target \`$remote\` over $transport, \`$(basename "$scenario")\`, ringing $ring_ms ms,
up to $step_seconds s of calls per rate (at most $max_calls).

| rate (calls/s) | calls | successful | failed | achieved (calls/s) | retrans. | UDP drops | INVITE→180 p50 / p99 (ms) | sipp CPU (ms) | other CPU (ms) | CPU (ms) | CPU per call (µs) |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
printf '%s\n' "${rows[@]}"
echo
[[ -n $idle_note ]] && { echo "$idle_note"; echo; }
if ((best > 0)); then
	echo "Highest rate with zero failed calls: **$best calls/s**."
	if ((best_timely > 0)); then
		echo "Highest rate with zero failed calls and 99 % of 180s within 200 ms: **$best_timely calls/s**."
	else
		echo "No rate had zero failed calls and 99 % of 180s within 200 ms."
	fi
else
	echo "No rate completed with zero failed calls."
fi
