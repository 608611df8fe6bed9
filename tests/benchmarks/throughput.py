"""Benchmark: how much of the links' combined rate one MPTCP connection gets.

The kernel selftest simult_flows.sh holds MPTCP to about 85% of the sum of
two equal shaped links. This measures the same on two network namespaces
(tests/netns_lab.py) configured as the seed's 34.3 with the collection's
modules' kernel interface: one run over a single link (plain MPTCP, no
additional subflow) and runs over both links, each moving the same bytes.
It prints figures and never fails on speed; it fails only if a transfer
itself fails.

  .venv/bin/python tests/benchmarks/throughput.py [--rate 10mbit] [--size 8M] [--runs 3]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from netns_lab import TRANSFER_TOOL, NetnsPair  # noqa: E402


def rate_mbit(text):
    units = {"kbit": 1e-3, "mbit": 1.0, "gbit": 1e3}
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text[:-len(unit)]) * factor
    raise SystemExit("rate %r: use kbit, mbit or gbit" % text)


def transfer(lab, size, workdir):
    ready = os.path.join(workdir, "ready")
    if os.path.exists(ready):
        os.remove(ready)
    receiver = lab.spawn(lab.server, [sys.executable, TRANSFER_TOOL, "receive", "--bind", "0.0.0.0",
                                      "--ready-file", ready])
    deadline = time.monotonic() + 10
    while not os.path.exists(ready):
        if receiver.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the receiver did not start")
        time.sleep(0.02)
    sender = lab.spawn(lab.client, [sys.executable, TRANSFER_TOOL, "send", "--connect", "192.0.2.1",
                                    "--bytes", size])
    result = json.loads(sender.communicate(timeout=300)[0])
    receiver.communicate(timeout=30)
    if "error" in result:
        raise SystemExit("transfer failed: %s" % result["error"])
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", default="10mbit", help="tbf rate of each link")
    parser.add_argument("--size", default="8M", help="bytes per transfer")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    link_rate = rate_mbit(args.rate)
    print("MPTCP throughput, %s per transfer, each link shaped to %s, %d runs" % (args.size, args.rate, args.runs))
    with NetnsPair(prefix="mptcp-bench", links=2, rate=args.rate) as lab, tempfile.TemporaryDirectory() as workdir:
        for label, paths in (("one link", 1), ("two links", 2)):
            lab.exec(lab.client, ["ip", "mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", str(paths - 1)])
            lab.exec(lab.server, ["ip", "mptcp", "endpoint", "flush"])
            if paths == 2:
                lab.exec(lab.server, ["ip", "mptcp", "endpoint", "add", "198.51.100.1", "dev", "enp1s0", "signal"])
            results = [transfer(lab, args.size, workdir) for _run in range(args.runs)]
            rates = [result["mbit_per_s"] for result in results]
            median = statistics.median(rates)
            print("%-10s median %6.2f Mbit/s = %5.1f%% of %g Mbit/s (runs: %s; additional subflows: %s)" % (
                label, median, 100 * median / (link_rate * paths), link_rate * paths,
                ", ".join("%.2f" % rate for rate in rates),
                sorted(set(result["max_additional_subflows"] for result in results))))
    print("reference: the kernel selftest simult_flows.sh expects about 85% of the link sum")


if __name__ == "__main__":
    main()
