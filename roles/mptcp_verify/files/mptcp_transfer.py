"""A minimal MPTCP receiver and sender for tests and demos.

Both ends open IPPROTO_MPTCP sockets, so the kernel's path manager can add
subflows over every endpoint; with net.mptcp.enabled=0 the socket call fails.

  mptcp_transfer.py receive --bind 192.0.2.1 --port 5201 [--ready-file F]
  mptcp_transfer.py send --connect 192.0.2.1 --port 5201 --bytes 8M [--linger 1]

Each prints one JSON line: bytes moved, seconds, and the rate."""

import argparse
import json
import socket
import sys
import time

IPPROTO_MPTCP = 262
CHUNK = 64 * 1024


def size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def mptcp_socket(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return socket.socket(family, socket.SOCK_STREAM, IPPROTO_MPTCP)


def report(role, total, started):
    seconds = max(time.monotonic() - started, 1e-9)
    print(json.dumps({"role": role, "bytes": total, "seconds": round(seconds, 3),
                      "mbit_per_s": round(total * 8 / seconds / 1e6, 2)}), flush=True)


def receive(args):
    listener = mptcp_socket(args.bind)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.bind, args.port))
    listener.listen(1)
    listener.settimeout(args.timeout)
    if args.ready_file:
        with open(args.ready_file, "w") as ready:
            ready.write("listening\n")
    connection, _peer = listener.accept()
    connection.settimeout(args.timeout)
    total, started = 0, time.monotonic()
    while True:
        data = connection.recv(CHUNK)
        if not data:
            break
        total += len(data)
    report("receiver", total, started)
    connection.close()
    listener.close()


def send(args):
    connection = mptcp_socket(args.connect)
    connection.settimeout(args.timeout)
    connection.connect((args.connect, args.port))
    # Subflows join after the first data; a short pause lets them come up
    # so that the transfer is spread over every path from the start.
    connection.sendall(b"\0")
    time.sleep(args.join_wait)
    block = b"\x5a" * CHUNK
    remaining, started = args.bytes - 1, time.monotonic()
    while remaining > 0:
        remaining -= connection.send(block[:min(CHUNK, remaining)])
    report("sender", args.bytes, started)
    time.sleep(args.linger)  # keep the connection open for observers (ss, mptcp_info)
    connection.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    receiver = sub.add_parser("receive")
    receiver.add_argument("--bind", required=True)
    receiver.add_argument("--port", type=int, default=5201)
    receiver.add_argument("--ready-file")
    receiver.add_argument("--timeout", type=float, default=60)
    sender = sub.add_parser("send")
    sender.add_argument("--connect", required=True)
    sender.add_argument("--port", type=int, default=5201)
    sender.add_argument("--bytes", type=size, default=size("8M"))
    sender.add_argument("--join-wait", type=float, default=0.5)
    sender.add_argument("--linger", type=float, default=0)
    sender.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    try:
        (receive if args.command == "receive" else send)(args)
    except OSError as exc:
        print(json.dumps({"role": args.command, "error": str(exc)}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
