# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One MPTCP transfer, measured: `receive` on the server, `send` on the client.
The mptcp_verify role's program, run on the managed hosts.

Both ends open IPPROTO_MPTCP sockets themselves (no LD_PRELOAD), so with
net.mptcp.enabled=0 the socket call fails. Each end prints one JSON line
(and writes it to --report) with the bytes moved, the time, the rate, the
highest number of additional subflows the kernel reported for the
connection (MPTCP_INFO), whether it fell back to plain TCP, and what changed
on this host during the transfer: the MPTcpExt counters (MPJoin...) and
the bytes each interface received and sent. It reads them with ``_diag``,
as mptcp_info does; the role copies both (and what they import) to the host.

  python3 -m ansible_collections.mptcp.multipath.plugins.module_utils._transfer receive --bind 0.0.0.0 --port 5201
  python3 -m ansible_collections.mptcp.multipath.plugins.module_utils._transfer send --connect 192.0.2.1 --bytes 16M
(with PYTHONPATH naming the directory that holds ansible_collections)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import socket
import sys
import time

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._diag import (
    IPPROTO_MPTCP,
    counters as mptcp_counters,
    interface_bytes,
    parse_mptcp_info,
)

SOL_MPTCP = 284
MPTCP_INFO = 1
CHUNK = 64 * 1024


def size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def mptcp_socket(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return socket.socket(family, socket.SOCK_STREAM, IPPROTO_MPTCP)


def subflow_info(sock):
    """(additional subflows, fell back to TCP) from struct mptcp_info."""
    try:
        info = parse_mptcp_info(sock.getsockopt(SOL_MPTCP, MPTCP_INFO, 64))
    except OSError:
        return 0, True  # a fallen-back socket has no MPTCP_INFO
    return info.get("subflows", 0), info.get("fallback", False)


def host_counters():
    """MPTcpExt counters and per-interface bytes of this network namespace."""
    return mptcp_counters(), interface_bytes()


def _say(line):
    """One line on stdout, at once (the role reads it when the program ends)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Meter(object):
    """Counts bytes, keeps the most subflows seen and the host's counters."""

    def __init__(self, sock):
        self.sock = sock
        self.total = 0
        self.subflows = 0
        self.fallback = False
        self.started = time.monotonic()
        self.last_sample = 0.0
        self.counters_before = host_counters()

    def add(self, count):
        self.total += count
        now = time.monotonic()
        if now - self.last_sample > 0.05:  # sampling every chunk would cost more than the transfer
            self.sample()
            self.last_sample = now

    def sample(self):
        subflows, fallback = subflow_info(self.sock)
        self.subflows = max(self.subflows, subflows)
        self.fallback = self.fallback or fallback

    def report(self, role, path=None):
        seconds = max(time.monotonic() - self.started, 1e-9)
        (mptcp_before, interfaces_before), (mptcp_after, interfaces_after) = self.counters_before, host_counters()
        counters = dict((name, value - mptcp_before.get(name, 0)) for name, value in mptcp_after.items()
                        if value != mptcp_before.get(name, 0))
        interfaces = dict((name, dict((key, value - interfaces_before.get(name, {}).get(key, 0))
                                      for key, value in values.items()))
                          for name, values in interfaces_after.items())
        text = json.dumps({"role": role, "bytes": self.total, "seconds": round(seconds, 3),
                           "mbit_per_s": round(self.total * 8 / seconds / 1e6, 2),
                           "max_additional_subflows": self.subflows, "fallback": self.fallback,
                           "counters": counters, "interfaces": interfaces})
        if path:
            with open(path, "w") as report:
                report.write(text + "\n")
        _say(text)


def receive(args):
    listener = mptcp_socket(args.bind)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.bind, args.port))
    listener.listen(1)
    listener.settimeout(args.timeout)
    if args.ready_file:
        with open(args.ready_file, "w") as ready:
            ready.write("listening\n")
    meter = Meter(None)  # counters from before the connection: joins may come right after accept
    connection = listener.accept()[0]
    connection.settimeout(args.timeout)
    meter.sock, meter.started = connection, time.monotonic()
    while True:
        data = connection.recv(CHUNK)
        if not data:
            break
        meter.add(len(data))
    meter.report("receiver", args.report)
    connection.close()
    listener.close()


def send(args):
    connection = mptcp_socket(args.connect)
    connection.settimeout(args.timeout)
    meter = Meter(connection)  # counters from before the connection: the joins follow right after it
    connection.connect((args.connect, args.port))
    meter.started = time.monotonic()
    # Subflows join after the first data; a short pause lets them come up,
    # so that the transfer is spread over every path from the start.
    connection.sendall(b"\0")
    meter.add(1)
    time.sleep(args.join_wait)
    meter.started += args.join_wait  # the pause is not transfer time
    block = b"\x5a" * CHUNK
    while meter.total < args.bytes:
        meter.add(connection.send(block[:min(CHUNK, args.bytes - meter.total)]))
    meter.sample()
    time.sleep(args.linger)  # keep the connection open for observers (ss, mptcp_info)
    meter.started += args.linger  # the pause is not transfer time
    connection.shutdown(socket.SHUT_WR)
    connection.recv(1)  # returns when the receiver closes: everything was delivered
    meter.report("sender", args.report)
    connection.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # required= as a keyword needs Python 3.7 (RHEL 8 has 3.6)
    verbs = parser.add_subparsers(dest="verb")
    verbs.required = True
    receiver = verbs.add_parser("receive")
    receiver.add_argument("--bind", default="0.0.0.0")
    receiver.add_argument("--port", type=int, default=5201)
    receiver.add_argument("--ready-file", help="written once the socket listens")
    receiver.add_argument("--report", help="also write the JSON result to this file")
    receiver.add_argument("--timeout", type=float, default=120)
    sender = verbs.add_parser("send")
    sender.add_argument("--connect", required=True)
    sender.add_argument("--port", type=int, default=5201)
    sender.add_argument("--bytes", type=size, default=size("8M"))
    sender.add_argument("--join-wait", type=float, default=0.5)
    sender.add_argument("--linger", type=float, default=0)
    sender.add_argument("--report", help="also write the JSON result to this file")
    sender.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args(argv)
    try:
        if args.verb == "receive":
            receive(args)
        else:
            send(args)
    except (OSError, MptcpError) as exc:
        _say(json.dumps({"role": args.verb, "error": str(exc)}))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())  # a program run with python -m, not a module: no exit_json
