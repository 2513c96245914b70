#!/usr/bin/env python3
"""sse_latency.py: how long after a call rang its pop reached the SSE stream.

    bench/sse_latency.py --url http://127.0.0.1:8080/api/v1/pops?extension=201 \
        --token TOKEN [--expect N] [--ready FILE] [--json FILE] [--samples FILE] \
        [--pops FILE]

Connects to callpop's pop stream (server-sent events), stamps every event
with time.time() the moment its bytes are read from the socket, and for each
`pop` event takes latency = arrival - pop.rang_at (the time callpop received
the SIP INVITE, RFC 3339 UTC).  Counts `pop`, `withdraw` and other events and
the distinct call ids of each.

It stops when it has had EXPECT pops and EXPECT withdraws, when nothing came
for --idle seconds (after the first event), at --deadline, or on SIGTERM /
SIGINT; then it prints p50 / p90 / p99 / p99.9 / max of the latencies and the
counts, and writes them as JSON to --json.  --samples gets one latency (ms)
per line, in arrival order; --pops one line per pop: call id, rang_at (epoch
seconds), the caller as written, arrival, tab-separated.  --ready is created
once the stream's response headers have come, i.e. once the hub has the
subscription.

Only the Python 3 standard library; HTTP/1.1 is spoken directly over a
socket (chunked or plain body) so that a read timeout never loses data.
"""

import argparse
import json
import math
import signal
import socket
import sys
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit


def parse_rfc3339(text):
    """Seconds since the epoch (float) of an RFC 3339 time such as
    2025-01-02T03:04:05.123456789Z; keeps the fraction to the nanosecond,
    which datetime.fromisoformat would cut or refuse."""
    s = text.strip()
    offset = 0.0
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1]
    elif len(s) > 6 and s[-6] in "+-" and s[-3] == ":":
        sign = 1 if s[-6] == "+" else -1
        offset = sign * (int(s[-5:-3]) * 3600 + int(s[-2:]) * 60)
        s = s[:-6]
    frac = 0.0
    if "." in s:
        s, digits = s.split(".", 1)
        frac = int(digits) / (10 ** len(digits))
    whole = datetime.strptime(s, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return whole.timestamp() + frac - offset


def quantile(sorted_values, q):
    """Nearest-rank quantile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Stream:
    """A raw HTTP/1.1 GET whose body is read incrementally; yields
    (arrival_time, body_bytes) as data arrives."""

    def __init__(self, url, token, timeout):
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise SystemExit("only http:// URLs")
        self.host = parts.hostname
        self.port = parts.port or 80
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        self.sock = socket.create_connection((self.host, self.port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = (
            f"GET {target} HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\n"
            f"Authorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n"
            "Cache-Control: no-cache\r\n"
            "\r\n"
        )
        self.sock.sendall(request.encode())
        self.buf = b""
        self.cbuf, self.left, self.need_crlf, self.eof = b"", 0, False, False
        self._read_headers()
        self.sock.settimeout(timeout)

    def _read_headers(self):
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise SystemExit("connection closed before the response headers")
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "200":
            raise SystemExit(f"pop stream answered {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        # Body bytes already read along with the headers are handed out first.
        self.pending_arrival = time.time() if self.buf else None

    def read(self):
        """(arrival, body bytes) for whatever came next; (None, b"") on a
        read timeout; raises EOFError when the server closed."""
        if self.eof:
            raise EOFError
        if self.pending_arrival is not None:
            arrival, self.pending_arrival = self.pending_arrival, None
            raw, self.buf = self.buf, b""
        else:
            try:
                raw = self.sock.recv(262144)
            except socket.timeout:
                return None, b""
            arrival = time.time()
            if not raw:
                raise EOFError
        if not self.chunked:
            return arrival, raw
        return arrival, self._dechunk(raw)

    def _dechunk(self, raw):
        """The data of the chunks in raw (chunked transfer coding), keeping
        what belongs to a chunk not yet complete for the next call."""
        self.cbuf += raw
        out = []
        while True:
            if self.left > 0:
                take = self.cbuf[:self.left]
                out.append(take)
                self.cbuf = self.cbuf[len(take):]
                self.left -= len(take)
                if self.left > 0:
                    break
                self.need_crlf = True
            if self.need_crlf:
                if len(self.cbuf) < 2:
                    break
                self.cbuf = self.cbuf[2:]
                self.need_crlf = False
            nl = self.cbuf.find(b"\r\n")
            if nl < 0:
                break
            size = int(self.cbuf[:nl].split(b";", 1)[0].strip(), 16)
            self.cbuf = self.cbuf[nl + 2:]
            if size == 0:
                self.eof = True
                break
            self.left = size
        return b"".join(out)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--expect", type=int, default=0,
                    help="stop after this many pops and as many withdraws")
    ap.add_argument("--idle", type=float, default=15.0,
                    help="stop after this many seconds without an event")
    ap.add_argument("--deadline", type=float, default=600.0,
                    help="stop after this many seconds in all")
    ap.add_argument("--ready", help="file created once the stream is open")
    ap.add_argument("--json", help="write the summary here as JSON")
    ap.add_argument("--samples", help="write every latency (ms) here")
    ap.add_argument("--pops", help="write every pop (call id, rang_at, caller) here")
    args = ap.parse_args()

    stop = {"why": None}

    def on_signal(signum, _frame):
        stop["why"] = signal.Signals(signum).name

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    stream = Stream(args.url, args.token, timeout=0.5)
    started = time.time()
    if args.ready:
        with open(args.ready, "w") as f:
            f.write(f"{started}\n")

    latencies = []  # seconds, in arrival order
    pop_rows = []  # (call id, rang_at, caller, arrival)
    pop_ids, withdraw_ids = set(), set()
    counts = {"pop": 0, "withdraw": 0, "other": 0, "bad": 0}
    first_arrival = last_arrival = None
    text = ""
    event, data = "message", []

    def dispatch(arrival):
        nonlocal event, data
        if not data and event == "message":
            return
        body = "\n".join(data)
        kind = event
        event, data = "message", []
        if kind == "pop":
            counts["pop"] += 1
            try:
                obj = json.loads(body)
                rang = parse_rfc3339(obj["pop"]["rang_at"])
                latencies.append(arrival - rang)
                pop_ids.add(obj.get("call_id"))
                pop_rows.append((obj.get("call_id"), rang, obj["pop"]["caller"], arrival))
            except (ValueError, KeyError, TypeError):
                counts["bad"] += 1
        elif kind == "withdraw":
            counts["withdraw"] += 1
            try:
                withdraw_ids.add(json.loads(body).get("call_id"))
            except ValueError:
                counts["bad"] += 1
        else:
            counts["other"] += 1

    why = None
    while why is None:
        if stop["why"]:
            why = stop["why"]
            break
        now = time.time()
        if now - started > args.deadline:
            why = "deadline"
            break
        idle_since = last_arrival if last_arrival is not None else started
        if now - idle_since > args.idle:
            why = f"nothing for {args.idle:g} s"
            break
        try:
            arrival, body = stream.read()
        except EOFError:
            why = "stream closed"
            break
        if arrival is None:
            continue
        if not body:
            continue
        text += body.decode("utf-8", "replace")
        # SSE: lines end in \n, \r\n or \r; a blank line ends an event.
        *lines, text = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        got_event = False
        for line in lines:
            if line == "":
                before = counts["pop"] + counts["withdraw"] + counts["other"]
                dispatch(arrival)
                got_event |= counts["pop"] + counts["withdraw"] + counts["other"] > before
                continue
            if line.startswith(":"):
                continue  # comment (keep-alive)
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        if got_event:
            if first_arrival is None:
                first_arrival = arrival
            last_arrival = arrival
        if args.expect and counts["pop"] >= args.expect and counts["withdraw"] >= args.expect:
            why = "all expected events"

    ms = sorted(x * 1000 for x in latencies)
    summary = {
        "stopped": why,
        "pops": counts["pop"],
        "withdraws": counts["withdraw"],
        "other_events": counts["other"],
        "unreadable_events": counts["bad"],
        "distinct_pop_calls": len(pop_ids),
        "distinct_withdraw_calls": len(withdraw_ids),
        "pops_never_withdrawn": len(pop_ids - withdraw_ids),
        "withdraws_without_pop": len(withdraw_ids - pop_ids),
        "expected": args.expect,
        "latency_ms": {
            "min": ms[0] if ms else None,
            "p50": quantile(ms, 0.50),
            "p90": quantile(ms, 0.90),
            "p99": quantile(ms, 0.99),
            "p999": quantile(ms, 0.999),
            "max": ms[-1] if ms else None,
            "mean": sum(ms) / len(ms) if ms else None,
        },
        "first_event_at": first_arrival,
        "last_event_at": last_arrival,
    }
    if args.samples:
        with open(args.samples, "w") as f:
            for x in latencies:
                f.write(f"{x * 1000:.3f}\n")
    if args.pops:
        with open(args.pops, "w") as f:
            for call_id, rang, caller, arrival in pop_rows:
                f.write(f"{call_id}\t{rang:.6f}\t{caller}\t{arrival:.6f}\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)

    lat = summary["latency_ms"]

    def fmt(v):
        return "-" if v is None else f"{v:.2f}"

    print(f"stopped: {why}")
    print(f"pops {counts['pop']} ({len(pop_ids)} calls), withdraws {counts['withdraw']} "
          f"({len(withdraw_ids)} calls), other {counts['other']}, unreadable {counts['bad']}; "
          f"popped but never withdrawn {summary['pops_never_withdrawn']}")
    print("INVITE -> pop on the stream (ms): "
          f"min {fmt(lat['min'])}  p50 {fmt(lat['p50'])}  p90 {fmt(lat['p90'])}  "
          f"p99 {fmt(lat['p99'])}  p99.9 {fmt(lat['p999'])}  max {fmt(lat['max'])}")
    ok = args.expect == 0 or (
        len(pop_ids) >= args.expect and len(withdraw_ids) >= args.expect
        and counts["bad"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
