#!/usr/bin/env bash
# kamailio.sh: the Kamailio baseline for callpop's SIP benchmark.
#
#   bench/kamailio.sh [sip-rate.sh settings in the environment]
#
# Starts Kamailio with bench/kamailio/kamailio.cfg (a tm endpoint that
# answers like callpop's SIP listener: 100 + 180, never answered, CANCEL ->
# 200 + 487) in the foreground of a background job, waits until it answers
# OPTIONS, runs bench/sip-rate.sh against it with the CPU of all its
# processes summed, and stops it.  The Markdown table from sip-rate.sh goes
# to stdout.
#
# Settings (environment), besides those of sip-rate.sh:
#   KAMAILIO_PORT      UDP/TCP port on 127.0.0.1  (5090; callpop uses 5060)
#   KAMAILIO_CHILDREN  UDP and TCP workers        (4)
#   KAMAILIO_SHM_MB    shared memory, MB          (512: every ringing call
#                      and every ended one for tm's wait timer is a
#                      transaction in shared memory)
#   KAMAILIO_LOG       Kamailio's stderr          (a temporary file)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${KAMAILIO_PORT:-5090}
children=${KAMAILIO_CHILDREN:-4}
shm=${KAMAILIO_SHM_MB:-512}

log() { printf '%s\n' "$*" >&2; }
die() { log "kamailio.sh: $*"; exit 1; }

command -v kamailio >/dev/null || die "kamailio not found (Debian package kamailio)"
command -v sipp >/dev/null || die "sipp not found (Debian package sip-tester)"

# Kamailio's runtime directory (its default, /run/kamailio, belongs to the
# system service); nothing in the cfg needs it, but Kamailio wants one.
rundir=$(mktemp -d /tmp/kamailio-bench.XXXXXX)
klog=${KAMAILIO_LOG:-$rundir/kamailio.log}

kpid=
stop_kamailio() {
	[[ -n $kpid ]] || return 0
	if kill -0 "$kpid" 2>/dev/null; then
		# SIGTERM to the main process: it stops its workers itself.
		kill -TERM "$kpid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$kpid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	# Any worker left over: by pid, the ones recorded at start.
	local p
	for p in "${kpids[@]:-}"; do
		[[ -n $p ]] && kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
	done
	wait "$kpid" 2>/dev/null || true
	kpid=
}
cleanup() {
	stop_kamailio
	rm -rf "$rundir"
}
kpids=()
trap cleanup EXIT
trap 'exit 130' INT TERM

# setsid: Kamailio and its workers get a process group of their own, so
# that the workers can be listed by group; -DD keeps the main process in
# the foreground of this job, -E logs to stderr.
setsid kamailio -f "$here/kamailio/kamailio.cfg" -DD -E -Y "$rundir" \
	-m "$shm" -M 16 -A "SIP_PORT=$port" -A "CHILDREN=$children" \
	>"$klog" 2>&1 &
kpid=$!

# Wait until it answers OPTIONS (at most ~10 s).
ready=
for _ in $(seq 20); do
	kill -0 "$kpid" 2>/dev/null || { cat "$klog" >&2; die "kamailio exited"; }
	if timeout 5 sipp "127.0.0.1:$port" -sf "$here/../tests/sipp/options.xml" \
		-s 201 -i 127.0.0.1 -nostdin -m 1 -recv_timeout 500 \
		>/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.5
done
[[ -n $ready ]] || { cat "$klog" >&2; die "kamailio does not answer on 127.0.0.1:$port"; }

# The main process and every worker (all in its process group).
mapfile -t kpids < <(pgrep -g "$kpid")
[[ ${#kpids[@]} -gt 1 ]] || die "no kamailio workers found"
log "kamailio $(kamailio -v | awk 'NR==1 {print $3}') on 127.0.0.1:$port," \
	"$children UDP + $children TCP workers, ${#kpids[@]} processes: ${kpids[*]}"

"$here/sip-rate.sh" "127.0.0.1:$port" "${kpids[@]}"

if grep -E 'ERROR|CRITICAL' "$klog" >/dev/null; then
	log "kamailio logged errors:"
	grep -E 'ERROR|CRITICAL' "$klog" | head -20 >&2
fi
