"""One measured transfer for the benchmarks, run in a lab host's network
namespace (nsenter --net) with the controller's Python.

  flow.py receive --port 5301 --ready FILE [--proto mptcp|tcp] [--interval 0.1]
  flow.py send --connect 192.0.2.1 --port 5301 --bytes 16M [--proto mptcp|tcp]

The sender sends a deterministic pseudo-random stream and prints one JSON
line with its sha256; the receiver hashes what arrives and prints one JSON
line with the byte count, the hash, the longest gap between two reads that
brought data (the stall), and samples of the bytes every interface of its
namespace received (/proc/net/dev), for rates per link over time, with the
bytes read so far ("read"). Times are
CLOCK_MONOTONIC, which all namespaces of this machine share.
"""

import argparse
import hashlib
import json
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

# the collection as make deps links it: what mptcp_verify's transfer program and mptcp_info use
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".build" / "collections"))
from ansible_collections.mptcp.multipath.plugins.module_utils._diag import interface_bytes  # noqa: E402
from ansible_collections.mptcp.multipath.plugins.module_utils._transfer import (  # noqa: E402
    CHUNK,
    IPPROTO_MPTCP,
    MPTCP_INFO,
    SOL_MPTCP,
    size,
)


def open_socket(proto):
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP if proto == "mptcp" else 0)


def rx_bytes():
    return dict((name, counts["rx_bytes"]) for name, counts in interface_bytes().items() if name != "lo")


def subflow_paths(port):
    """The TCP connections (MPTCP subflows) to the receiver's port, as
    "local -> peer"; a subflow bound to a device shows it as address%dev."""
    try:
        output = subprocess.run(["ss", "-Htn", "state", "established", "( dport = :%d )" % port],
                                capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted("%s -> %s" % tuple(line.split()[2:4]) for line in output.splitlines() if len(line.split()) >= 4)


def receive(args):
    listener = open_socket(args.proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", args.port))
    listener.listen(1)
    listener.settimeout(60)
    samples = []
    done = threading.Event()

    read = [0]

    def sample():
        # The kernel's counters, not the reads: a sample costs the same at any
        # rate; beside them, "read": the bytes the application has read so far.
        while not done.is_set():
            samples.append((time.monotonic(), dict(rx_bytes(), read=read[0])))
            done.wait(args.interval)

    with open(args.ready, "w") as ready:
        ready.write("listening\n")
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    connection = listener.accept()[0]
    connection.settimeout(120)
    digest = hashlib.sha256()
    total = 0
    started = last = time.monotonic()
    stall, stall_at = 0.0, started
    while True:
        data = connection.recv(CHUNK)
        now = time.monotonic()
        if not data:
            break
        if now - last > stall:
            stall, stall_at = now - last, last
        last = now
        total += len(data)
        read[0] = total
        digest.update(data)
    done.set()
    sampler.join()
    samples.append((time.monotonic(), dict(rx_bytes(), read=total)))
    print(json.dumps({"bytes": total, "sha256": digest.hexdigest(), "started": started, "ended": last,
                      "stall": stall, "stall_at": stall_at, "samples": samples}), flush=True)


def send(args):
    total = size(args.bytes)
    # 1 MiB of seeded noise, read at a shifting offset, so that no two MiB
    # of the stream are equal and a misplaced block changes the hash.
    block = random.Random(args.seed).randbytes(1 << 20)
    doubled = memoryview(block + block)
    digest = hashlib.sha256()
    connection = open_socket(args.proto)
    if args.cc:
        # Per socket: a namespace other than the first may only default to
        # the "allowed" algorithms; root may choose any for its socket (MPTCP
        # passes it on to every subflow).
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, args.cc.encode())
    connection.settimeout(120)
    connecting = time.monotonic()
    connection.connect((args.connect, args.port))
    started = time.monotonic()
    sent, subflows, position, paths = 0, 0, 0, None
    while sent < total:
        offset = position % len(block)
        chunk = doubled[offset:offset + min(CHUNK, total - sent)]
        connection.sendall(chunk)
        digest.update(chunk)
        sent += len(chunk)
        position += len(chunk) + 7
        if paths is None and sent >= total // 2:
            paths = subflow_paths(args.port)
        if args.proto == "mptcp" and sent % (1 << 20) < CHUNK:
            try:
                subflows = max(subflows, connection.getsockopt(SOL_MPTCP, MPTCP_INFO, 64)[0])
            except OSError:
                pass
    connection.shutdown(socket.SHUT_WR)
    connection.recv(1)  # the receiver closes after reading everything
    connection.close()
    print(json.dumps({"bytes": sent, "sha256": digest.hexdigest(), "connecting": connecting, "started": started,
                      "ended": time.monotonic(), "max_additional_subflows": subflows,
                      "paths": paths or []}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    rx = verbs.add_parser("receive")
    rx.add_argument("--port", type=int, default=5301)
    rx.add_argument("--ready", required=True)
    rx.add_argument("--proto", choices=["mptcp", "tcp"], default="mptcp")
    rx.add_argument("--interval", type=float, default=0.1)
    tx = verbs.add_parser("send")
    tx.add_argument("--connect", required=True)
    tx.add_argument("--port", type=int, default=5301)
    tx.add_argument("--bytes", required=True)
    tx.add_argument("--proto", choices=["mptcp", "tcp"], default="mptcp")
    tx.add_argument("--seed", type=int, default=1)
    tx.add_argument("--cc", help="TCP congestion control of this connection (default: the namespace's)")
    args = parser.parse_args()
    return receive(args) if args.verb == "receive" else send(args)


if __name__ == "__main__":
    sys.exit(main())
