#!/usr/bin/env python3
"""A UDP relay with seeded, bounded impairments for end-to-end tests.

It listens on LISTEN_ADDR at each --port and forwards every datagram to --target at the
same port, from one upstream socket per client address (so the target sees the relay's
address, as behind a NAT), and relays the replies back. Each forwarded datagram, in
either direction, may be dropped, duplicated, delayed or held back so that the next one
overtakes it. Randomness comes from --seed, so a run can be repeated; the relay exits by
itself after --duration seconds and prints its counters as JSON on exit.
"""

import argparse
import heapq
import json
import random
import selectors
import signal
import socket
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", required=True, help="address to listen on")
    p.add_argument("--target", required=True, help="address to forward to")
    p.add_argument("--port", type=int, action="append", required=True,
                   help="UDP port relayed to the same target port (repeatable)")
    p.add_argument("--loss", type=float, default=0.0, help="drop probability, 0..1")
    p.add_argument("--dup", type=float, default=0.0, help="duplication probability, 0..1")
    p.add_argument("--reorder", type=float, default=0.0,
                   help="probability that a datagram is held until the next one has gone")
    p.add_argument("--delay-ms", type=float, default=0.0, help="fixed one-way delay in ms")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="uniform extra delay 0..N ms")
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("--duration", type=float, required=True, help="exit after N seconds")
    p.add_argument("--max-hold-ms", type=float, default=50.0,
                   help="a held (reordered) datagram leaves after at most this many ms")
    args = p.parse_args(argv)
    for name in ("loss", "dup", "reorder"):
        v = getattr(args, name)
        if not 0.0 <= v <= 1.0:
            p.error(f"--{name} must be between 0 and 1, got {v}")
    if args.duration <= 0:
        p.error("--duration must be positive")
    return args


class Stop(Exception):
    """Raised by the SIGTERM/SIGINT handler to leave the event loop at once."""


def raise_stop(*_):
    raise Stop()


class Relay:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.sel = selectors.DefaultSelector()
        self.queue = []  # heap of (due time, sequence, socket, datagram, destination)
        self.seq = 0
        self.held = {}  # direction key -> (socket, datagram, destination, deadline)
        self.upstream = {}  # (client address, port) -> upstream socket
        self.listeners = {}  # port -> listening socket
        self.counters = {"received": 0, "sent": 0, "dropped": 0, "duplicated": 0,
                         "reordered": 0}
        for port in args.port:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((args.listen, port))
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, ("listen", port))
            self.listeners[port] = s

    def upstream_for(self, client, port):
        key = (client, port)
        s = self.upstream.get(key)
        if s is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((self.args.listen, 0))
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, ("upstream", key))
            self.upstream[key] = s
        return s

    def schedule(self, sock, data, dest, now):
        delay = self.args.delay_ms + self.rng.uniform(0.0, self.args.jitter_ms)
        self.seq += 1
        heapq.heappush(self.queue, (now + delay / 1000.0, self.seq, sock, data, dest))

    def impair(self, direction, sock, data, dest, now):
        """Apply loss, reordering and duplication to one datagram."""
        self.counters["received"] += 1
        if self.rng.random() < self.args.loss:
            self.counters["dropped"] += 1
            return
        held = self.held.pop(direction, None)
        if held is None and self.rng.random() < self.args.reorder:
            self.counters["reordered"] += 1
            self.held[direction] = (sock, data, dest, now + self.args.max_hold_ms / 1000.0)
            return
        copies = 2 if self.rng.random() < self.args.dup else 1
        self.counters["duplicated"] += copies - 1
        for _ in range(copies):
            self.schedule(sock, data, dest, now)
        if held is not None:
            # The held datagram leaves after the one that overtook it.
            self.schedule(held[0], held[1], held[2], now + 1e-6)

    def on_readable(self, sock, tag, now):
        kind, info = tag
        while True:
            try:
                data, src = sock.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError as e:
                print(f"udp-relay: receive failed on {tag}: {e}", file=sys.stderr)
                return
            if kind == "listen":
                port = info
                up = self.upstream_for(src, port)
                self.impair(("out", src, port), up, data, (self.args.target, port), now)
            else:
                client, port = info
                self.impair(("in", client, port), self.listeners[port], data, client, now)

    def flush(self, now):
        while self.queue and self.queue[0][0] <= now:
            _, _, sock, data, dest = heapq.heappop(self.queue)
            try:
                sock.sendto(data, dest)
                self.counters["sent"] += 1
            except OSError as e:
                print(f"udp-relay: send to {dest} failed: {e}", file=sys.stderr)
        for key, (sock, data, dest, deadline) in list(self.held.items()):
            if deadline <= now:
                del self.held[key]
                self.schedule(sock, data, dest, now)

    def run(self):
        end = time.monotonic() + self.args.duration
        signal.signal(signal.SIGTERM, raise_stop)
        signal.signal(signal.SIGINT, raise_stop)
        try:
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                timeout = end - now
                if self.queue:
                    timeout = min(timeout, max(0.0, self.queue[0][0] - now))
                if self.held:
                    timeout = min(timeout, 0.005)
                for key, _ in self.sel.select(timeout):
                    self.on_readable(key.fileobj, key.data, time.monotonic())
                self.flush(time.monotonic())
        except Stop:
            pass
        print(json.dumps(self.counters), flush=True)


def main(argv):
    Relay(parse_args(argv)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
