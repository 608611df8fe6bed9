"""A delay line for the lab's links: what netem would do, which this
machine's kernel lacks (CONFIG_NET_SCH_NETEM is off; of the qdiscs only tbf,
htb and fifo are there).

Packets arriving on a delayed link (iptables' raw PREROUTING, `-i <link>
-j NFQUEUE --queue-num N`, IPv4 and IPv6) wait in the kernel's queue N; this
process gets only each packet's id (copy mode "meta": no payload crosses)
and gives the verdict `accept` `delay` seconds after the packet arrived, or
`drop` at once for a share `loss` of them. Every packet of a queue waits
the same time, so they leave in the order they came (one batch verdict for
all that are due). The delay is one-way, at the receiving end: a link
delayed at both ends has a round trip of twice the delay, as netem on both
ends' egress in the kernel's simult_flows.sh selftest.

    python3 -m mptcp_lab.delayline --ready FILE QUEUE:DELAY_MS:LOSS_PERCENT ...

runs in the host's network namespace (the lab starts it with nsenter),
binds every queue, writes FILE once they are bound, and serves until
SIGTERM. Only the standard library: it runs on the lab's machine.
"""

import argparse
import os
import random
import select
import signal
import socket
import struct
import sys
import time
from collections import deque
from pathlib import Path

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG, NFQNL_MSG_VERDICT_BATCH = 0, 1, 2, 3
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 3, 4, 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
# the queue may hold GSO packets as they are: nothing is copied, nothing to segment
NFQA_CFG_F_GSO = 4
NF_DROP, NF_ACCEPT = 0, 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR, NLMSG_DONE = 2, 3
NETLINK_NO_ENOBUFS = 5
SOL_NETLINK = 270
NLMSG_HDR = struct.Struct("=IHHII")
NFGENMSG = struct.Struct("!BBH")
NLA_HDR = struct.Struct("=HH")
# a delay line holds at most this many packets (10 Mbit/s for 1 s is ~850)
QUEUE_MAXLEN = 8192
RCVBUF = 8 * 1024 * 1024


def parse_queue(text):
    """'1:10:0.5' -> (1, 0.010, 0.005): queue number, delay, loss share."""
    try:
        number, delay_ms, loss_percent = text.split(":")
        queue = (int(number), float(delay_ms) / 1000, float(loss_percent) / 100)
    except ValueError:
        raise ValueError("%r: want QUEUE:DELAY_MS:LOSS_PERCENT, e.g. 1:10:0" % text) from None
    if not 0 <= queue[0] <= 65535 or queue[1] < 0 or not 0 <= queue[2] <= 1:
        raise ValueError("%r: queue 0-65535, delay >= 0, loss 0-100" % text)
    return queue


def attr(kind, payload):
    pad = (4 - len(payload) % 4) % 4
    return NLA_HDR.pack(NLA_HDR.size + len(payload), kind) + payload + b"\0" * pad


def message(msg_type, queue, attrs, flags=NLM_F_REQUEST, seq=0):
    body = NFGENMSG.pack(socket.AF_UNSPEC, 0, queue) + b"".join(attrs)
    return NLMSG_HDR.pack(NLMSG_HDR.size + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, seq, 0) + body


def config_messages(queue):
    """Bind queue, ids only (copy mode meta), GSO packets kept whole."""
    return [message(NFQNL_MSG_CONFIG, queue, [attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0))],
                    flags=NLM_F_REQUEST | NLM_F_ACK, seq=1),
            message(NFQNL_MSG_CONFIG, queue,
                    [attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META)),
                     attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", QUEUE_MAXLEN)),
                     attr(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_GSO)),
                     attr(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_GSO))],
                    flags=NLM_F_REQUEST | NLM_F_ACK, seq=2)]


def verdict(queue, packet_id, accept=True, batch=False):
    """accept or drop one packet; batch: accept every queued one up to packet_id."""
    return message(NFQNL_MSG_VERDICT_BATCH if batch else NFQNL_MSG_VERDICT, queue,
                   [attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT if accept else NF_DROP, packet_id))])


def parse(data):
    """Netlink messages in data -> [(kind, queue or error, packet id or None)]:
    ('packet', queue, id) or ('error', errno, None); acks (errno 0) are left out."""
    found = []
    offset = 0
    while offset + NLMSG_HDR.size <= len(data):
        length, msg_type, _flags, _seq, _pid = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDR.size:
            break
        body = data[offset + NLMSG_HDR.size:offset + length]
        offset += (length + 3) & ~3
        if msg_type == NLMSG_ERROR:
            error = -struct.unpack_from("=i", body)[0]
            if error:
                found.append(("error", error, None))
            continue
        if msg_type == NLMSG_DONE or msg_type != (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            continue
        _family, _version, queue = NFGENMSG.unpack_from(body)
        at = NFGENMSG.size
        while at + NLA_HDR.size <= len(body):
            attr_len, kind = NLA_HDR.unpack_from(body, at)
            if attr_len < NLA_HDR.size:
                break
            if kind & 0x3FFF == NFQA_PACKET_HDR:
                found.append(("packet", queue, struct.unpack_from("!I", body, at + NLA_HDR.size)[0]))
                break
            at += (attr_len + 3) & ~3
    return found


class DelayLine:
    """The queues' packets waiting for their time; no I/O (see serve)."""

    def __init__(self, queues, rand=random.random):
        self.queues = {number: {"delay": delay, "loss": loss, "waiting": deque()}
                       for number, delay, loss in queues}
        self.rand = rand

    def arrived(self, queue, packet_id, now):
        """A packet came: None (it waits), or the verdict message to drop it."""
        line = self.queues[queue]
        if line["loss"] and self.rand() < line["loss"]:
            return verdict(queue, packet_id, accept=False)
        line["waiting"].append((now + line["delay"], packet_id))
        return None

    def due(self, now):
        """Verdict messages for what is due by now (one batch per queue)."""
        out = []
        for queue, line in self.queues.items():
            last = None
            while line["waiting"] and line["waiting"][0][0] <= now:
                last = line["waiting"].popleft()[1]
            if last is not None:
                out.append(verdict(queue, last, batch=True))
        return out

    def next_due(self):
        times = [line["waiting"][0][0] for line in self.queues.values() if line["waiting"]]
        return min(times) if times else None


def bind(queues):
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, 33, RCVBUF)  # SO_RCVBUFFORCE (root)
    sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
    sock.bind((0, 0))
    for number, _delay, _loss in queues:
        for request in config_messages(number):
            sock.send(request)
            for kind, error, _packet_id in parse(sock.recv(65536)):
                if kind == "error":
                    raise OSError(error, "queue %d: %s" % (number, os.strerror(error)))
    sock.setblocking(False)
    return sock


def serve(sock, line):
    while True:
        now = time.monotonic()
        for request in line.due(now):
            sock.send(request)
        next_due = line.next_due()
        readable = select.select([sock], [], [], None if next_due is None else max(0.0, next_due - now))[0]
        if not readable:
            continue
        while True:
            try:
                data = sock.recv(1 << 20)
            except BlockingIOError:
                break
            now = time.monotonic()
            for kind, queue, packet_id in parse(data):
                if kind == "packet":
                    drop = line.arrived(queue, packet_id, now)
                    if drop:
                        sock.send(drop)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="delayline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ready", required=True, help="written once every queue is bound")
    parser.add_argument("queues", nargs="+", type=parse_queue, metavar="QUEUE:DELAY_MS:LOSS_PERCENT")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = bind(args.queues)
    Path(args.ready).write_text("%d\n" % os.getpid())
    serve(sock, DelayLine(args.queues))


if __name__ == "__main__":
    main()
