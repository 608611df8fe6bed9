"""Benchmarks on the lab (tests/lab): what the collection's configuration
delivers on the wire, and what running it costs. Figures, never pass/fail:
it fails only when something it measures breaks (a transfer, a playbook).

  .venv/bin/python tests/benchmarks/bench.py [--runs 5] [--out docs/benchmarks] [--sections ...]
  .venv/bin/python tests/benchmarks/bench.py --smoke --out /tmp/bench-smoke

Sections (each writes <out>/results-<section>.json; report.py turns all of
them into <out>/README.md and the PNG plots):
  aggregation  goodput of one connection over 2 x 10, 3 x 10 and 10 + 3 Mbit/s
               tbf links: permanent.yml (the mptcp role's plan from the lab
               inventory's mptcp_links) vs the seed's `ip mptcp` commands vs
               plain TCP on one link, each under cubic and under BBR
  topologies   the same on the router and one-subnet lab topologies: the
               plan vs plain TCP by the default route, cubic and BBR
  failover     a link taken down under a long transfer (and brought back; and
               with link2 marked `backup: true` in both hosts' mptcp_links):
               hash, bytes lost, stall, recovery
  control      (control.py) permanent.yml's first converge, no-op re-run and
               --check --diff vs the seed's 34.4 commands as command tasks on
               2, 8, 16 hosts, each profiled per task and host (controller
               CPU, the modules' CPU on the hosts); each module's task time
               vs a command task; pyroute2 import cost on a host

No flags, limits or endpoint lists are computed here: the configurations
are the role's plan (permanent.yml) and, as references, the seed's commands
typed by hand.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (the lab, running things, the machine: shared with control.py)
    PREFIX,
    ROOT,
    BenchError,
    LabRun,
    log,
    machine,
    run,
)
from control import control_plane, per_task, pyroute2_import  # noqa: E402
import report  # noqa: E402

FLOW = str(Path(__file__).resolve().parent / "flow.py")


_port = [5300]


def transfer(lab, nbytes, proto="mptcp", interval=0.1, events=(), cc=None, connect=None):
    """One client -> server transfer to ``connect`` (default: the server's
    link1 address). events: (seconds after the start, label, callable) run
    meanwhile; their times are returned."""
    _port[0] += 1
    port = str(_port[0])
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        ready = os.path.join(workdir, "ready")
        receiver = subprocess.Popen(lab.netns("server", [sys.executable, FLOW, "receive", "--port", port,
                                                         "--ready", ready, "--proto", proto,
                                                         "--interval", str(interval)]),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(ready):
                if receiver.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("the receiver did not start: %s" % receiver.stderr.read())
                time.sleep(0.02)
            argv = [sys.executable, FLOW, "send", "--connect", connect or lab.address("server", "link1"), "--port", port,
                    "--bytes", str(int(nbytes)), "--proto", proto] + (["--cc", cc] if cc else [])
            sender = subprocess.Popen(lab.netns("client", argv),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            started = time.monotonic()
            marks, errors = [], []

            def act():
                for delay, label, action in events:
                    time.sleep(max(0.0, started + delay - time.monotonic()))
                    begin = time.monotonic()
                    try:
                        action()
                    except Exception as exc:  # reported after the transfer
                        errors.append(exc)
                    marks.append({"label": label, "at": begin, "done": time.monotonic()})

            actor = threading.Thread(target=act)
            actor.start()
            sent_out, sent_err = sender.communicate(timeout=600)
            received_out, received_err = receiver.communicate(timeout=120)
            actor.join()
        finally:
            for process in (receiver,) + ((sender,) if "sender" in locals() else ()):
                if process.poll() is None:
                    process.kill()
                    process.wait()
        if errors:
            raise BenchError("during the transfer: %s" % errors[0])
        received = json.loads(received_out) if received_out.strip() else None
        sent = json.loads(sent_out) if sent_out.strip() else None
        if received is None:
            raise BenchError("the receiver failed: %s" % received_err.strip()[-1000:])
        return {"sent": sent, "sender_error": None if sent else sent_err.strip()[-500:], "received": received,
                "marks": marks, "expected": int(nbytes)}


def goodput(result):
    received = result["received"]
    return received["bytes"] * 8 / max(received["ended"] - received["started"], 1e-9) / 1e6


def qdisc_bytes(lab, host, links):
    """Bytes tbf sent on each link of host: it counts every segment of a GSO
    packet with its own headers, as the wire carries them (the interface
    counters count a GSO packet's headers once)."""
    total = 0
    for link in links:
        for qdisc in json.loads(run(lab.netns(host, ["tc", "-s", "-j", "qdisc", "show", "dev", link])) or "[]"):
            if qdisc.get("kind") == "tbf":
                total += qdisc.get("bytes", 0)
    return total


# -- 1 aggregation --------------------------------------------------------------
def configure_by_hand(lab, links):
    """Seed 34.3 (two links) and 34.4's `subflows 3` (three): the server
    announces its other addresses, the client accepts them."""
    if len(links) == 2:
        lab.sh("client", "ip mptcp limits set add_addr_accepted 1")
    else:
        lab.sh("client", "ip mptcp limits set subflows %d add_addr_accepted %d" % (len(links), len(links) - 1))
    for link in links[1:]:
        lab.sh("server", "ip mptcp endpoint add %s dev %s signal" % (lab.address("server", link), link))


def unconfigure_by_hand(lab):
    for host in ("server", "client"):
        lab.sh(host, "ip mptcp endpoint flush; ip mptcp limits set subflows 2 add_addr_accepted 0")


def measure(lab, label, nbytes, proto, runs, keep, cc=None, connect=None):
    figures = []
    mine = [link for link in lab.links() if "client" in lab.lab.topo["links"][link]]
    for number in range(runs):
        before = qdisc_bytes(lab, "client", mine)
        result = transfer(lab, nbytes, proto=proto, cc=cc, connect=connect)
        wire = qdisc_bytes(lab, "client", mine) - before
        received, sent = result["received"], result["sent"] or {}
        if received["bytes"] != result["expected"] or received["sha256"] != sent.get("sha256"):
            raise BenchError("%s: transfer %d lost data (%d of %d bytes)" % (
                label, number, received["bytes"], result["expected"]))
        figures.append({"mbit": goodput(result), "wire_bytes": wire,
                        "bytes": received["bytes"], "subflows": sent.get("max_additional_subflows", 0),
                        "paths": sent.get("paths", [])})
        if number == 0 and keep is not None:
            keep[label] = {"samples": received["samples"], "started": received["started"]}
        log("  %s run %d: %.2f Mbit/s" % (label, number + 1, figures[-1]["mbit"]))
    return figures


def aggregation(args):
    seconds = args.seconds
    cases = [("2 x 10 Mbit/s", {"link1": "10mbit", "link2": "10mbit"}),
             ("10 + 3 Mbit/s", {"link1": "10mbit", "link2": "3mbit"})]
    # cubic is the kernel's default and the targets' congestion control;
    # BBR (this machine's default) is measured beside it (docs/benchmarks/notes.md).
    ccs = ("cubic",) if args.smoke else ("cubic", "bbr")
    results = {"cases": {}, "series": {}, "congestion_controls": list(ccs)}

    def shape(lab, rates):
        for link, rate in rates.items():
            lab.cli("shape", link, "--rate", rate)

    def mbit(rate):
        return float(rate[:-4])

    def case_bytes(rates):
        return sum(mbit(r) for r in rates.values()) * 1e6 / 8 * seconds

    def run_case(lab, label, rates, config):
        shape(lab, rates)
        entry = results["cases"].setdefault(label, {"rates": {k: mbit(v) for k, v in rates.items()}})
        for cc in ccs:
            # Set on the sending socket (MPTCP passes it on to every subflow),
            # so that each row states its congestion control whatever the
            # machine's default is; the plot shows the first one's runs.
            keep = results["series"] if cc == ccs[0] else None
            log("aggregation %s, %s, %s" % (label, config, cc))
            entry["%s, %s" % (config, cc)] = measure(lab, "%s %s, %s" % (label, config, cc), case_bytes(rates),
                                                     "mptcp", args.runs, keep, cc=cc)
            if config == "hand-made":
                one = {"link1": rates["link1"]}
                entry["tcp, %s" % cc] = measure(lab, "%s tcp, %s" % (label, cc), case_bytes(one), "tcp",
                                                args.runs, keep, cc=cc)

    with LabRun("agg2", "two-links") as lab:
        results["default_congestion_control"] = run(lab.netns("client", ["sysctl", "-n",
                                                                         "net.ipv4.tcp_congestion_control"])).strip()
        chosen = cases[:1] if args.smoke else cases
        configure_by_hand(lab, ["link1", "link2"])
        for label, rates in chosen:
            run_case(lab, label, rates, "hand-made")
        unconfigure_by_hand(lab)
        seconds_taken, _changed, _out = lab.playbook(ROOT / "playbooks" / "permanent.yml")
        log("permanent.yml on the two-links lab: %.1f s" % seconds_taken)
        for label, rates in reversed(chosen):
            run_case(lab, label, rates, "permanent.yml")
        shape(lab, cases[0][1])
        results["failover"] = failover(args, lab)
        results["per_task"] = per_task(args, lab)
        results["pyroute2"] = pyroute2_import(args, lab)
    if not args.smoke:
        with LabRun("agg3", "three-links") as lab:
            label, rates = "3 x 10 Mbit/s", {"link1": "10mbit", "link2": "10mbit", "link3": "10mbit"}
            configure_by_hand(lab, ["link1", "link2", "link3"])
            run_case(lab, label, rates, "hand-made")
            unconfigure_by_hand(lab)
            lab.playbook(ROOT / "playbooks" / "permanent.yml")
            run_case(lab, label, rates, "permanent.yml")
    return results


# -- 1b the topologies users have (issue 21) ----------------------------------------
TOPOLOGIES = (("router: 2 x 10 Mbit/s uplinks, single-homed server", "router"),
              ("one subnet: 2 x 10 Mbit/s client interfaces (seed 34.5)", "one-subnet"))


def topologies(args):
    """On each topology other than paired links: the role's plan
    (permanent.yml) against plain TCP by the client's default route, both
    client uplinks at 10 Mbit/s (the server's side unshaped), under cubic
    and BBR. The seed has no hand-made answer for these shapes."""
    ccs = ("cubic",) if args.smoke else ("cubic", "bbr")
    results = {"cases": {}, "series": {}, "congestion_controls": list(ccs)}
    for label, topology in TOPOLOGIES[:1] if args.smoke else TOPOLOGIES:
        with LabRun("topo-" + topology, topology) as lab:
            lab.playbook(ROOT / "playbooks" / "permanent.yml")
            server = next(link for link in lab.links() if "server" in lab.lab.topo["links"][link])
            connect = lab.address("server", server)
            entry = results["cases"].setdefault(label, {"rates": {"link1": 10.0, "link2": 10.0}})
            for link in ("link1", "link2"):
                lab.cli("shape", link, "--rate", "10mbit")
            for cc in ccs:
                keep = results["series"] if cc == ccs[0] else None
                for config, proto, total in (("permanent.yml", "mptcp", 20.0), ("tcp", "tcp", 10.0)):
                    log("topology %s, %s, %s" % (topology, config, cc))
                    entry["%s, %s" % (config, cc)] = measure(
                        lab, "%s %s, %s" % (label, config, cc),
                        total * 1e6 / 8 * args.seconds, proto, args.runs, keep, cc=cc, connect=connect)
    return results


# -- 2 failover ---------------------------------------------------------------------
def failover(args, lab):
    """On the two-links lab configured by permanent.yml, both links at 10 Mbit/s.
    link1 carries the initial subflow (and the client's default route)."""
    # Down for longer than NetworkManager's ~5 s before it deactivates the profile.
    down_at, down_for, tail = (1.0, 2.0, 1.0) if args.smoke else (2.0, 7.0, 3.0)
    rate = 10e6 / 8
    # what permanent.yml's plan made, to come back after each run (a client without laminar has none)
    client_eps, server_eps = lab.configured_endpoints("client"), lab.configured_endpoints("server")
    cases = [
        ("down", (2 * down_at + (down_for + tail)) * rate,
         [(down_at, "link1 down", lambda: lab.cli("link", "down", "link1"))]),
        ("down and up", (2 * down_at + down_for + 2 * tail) * rate,
         [(down_at, "link1 down", lambda: lab.cli("link", "down", "link1")),
          (down_at + down_for, "link1 up", lambda: lab.cli("link", "up", "link1"))]),
        ("backup", (down_at + down_for + tail) * rate,
         [(down_at, "link1 down", lambda: lab.cli("link", "down", "link1"))]),
    ]
    if args.smoke:
        cases = cases[:1]
    results = {}
    permanent = ROOT / "playbooks" / "permanent.yml"
    for name, nbytes, events in cases:
        if name == "backup":
            # The intent, not flags: link2 is a backup link on both hosts; the
            # role's plan gives its endpoints (profiles) `backup` on both ends.
            with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
                overlay = lab.links_overlay(Path(workdir) / "backup.yml", backup=("link2",))
                lab.playbook(permanent, extra=["-i", overlay])
            client_eps, server_eps = lab.configured_endpoints("client"), lab.configured_endpoints("server")
        runs = []
        for number in range(args.runs):
            log("failover %s run %d" % (name, number + 1))
            try:
                result = transfer(lab, nbytes, interval=0.05, events=events)
            except BenchError as exc:
                # A connection that does not survive the failure is what this
                # section measures: counted and shown, not a crash of the run.
                runs.append(lost_connection(exc, lab))
                log("failover %s run %d: the connection was lost: %s" % (name, number + 1, runs[-1]["error"]))
            else:
                runs.append(failover_figures(result, name))
                if number == 0:
                    runs[-1]["series"] = {"samples": result["received"]["samples"], "marks": result["marks"],
                                          "started": result["received"]["started"]}
            lab.cli("link", "up", "link1")
            lab.wait_endpoints("client", client_eps)
            lab.wait_endpoints("server", server_eps)
            if runs[-1].get("connection_lost"):
                # each lost run waits for the receiver's 120 s timeout: one is the finding
                log("failover %s: the remaining runs are left out after a lost connection" % name)
                break
        if name == "backup":
            lab.playbook(permanent)  # link2 an ordinary link again
            client_eps, server_eps = lab.configured_endpoints("client"), lab.configured_endpoints("server")
        results[name] = runs
    return {"params": {"down_at": down_at, "down_for": down_for}, "cases": results}


def lost_connection(exc, lab):
    """A failover run whose connection died: the error, and what the client
    had left (its subflows and MPTCP counters, read after the failure)."""
    return {"hash_ok": False, "lost": None, "stall": None, "stall_from_down": None, "full_rate_after": None,
            "connection_lost": True, "error": str(exc).strip().splitlines()[-1][:300],
            "client_subflows": run(lab.netns("client", ["ss", "-tnH", "state", "established"])).split("\n")}


def failover_figures(result, name):
    received, sent = result["received"], result["sent"] or {}
    marks = {m["label"]: m for m in result["marks"]}
    down = marks["link1 down"]["at"]
    samples = received["samples"]
    figures = {
        "hash_ok": bool(sent) and sent.get("sha256") == received["sha256"],
        "lost": (sent.get("bytes", result["expected"]) - received["bytes"]),
        "stall": received["stall"],
        "stall_from_down": received["stall_at"] - down,
        "sender_error": result["sender_error"],
    }
    # The surviving link carries full rate: a 0.5 s window after the failure
    # in which link2 received >= 90% of its 10 Mbit/s (on the wire).
    figures["full_rate_after"] = None
    for index, (when, counters) in enumerate(samples):
        if when < down + 0.5:
            continue
        base = next(((t, c) for t, c in reversed(samples[:index]) if t <= when - 0.5), None)
        if base and (counters.get("link2", 0) - base[1].get("link2", 0)) * 8 / (when - base[0]) >= 9e6:
            figures["full_rate_after"] = when - down
            break
    if "link1 up" in marks:
        up = marks["link1 up"]["at"]
        after = [(t, c.get("link1", 0)) for t, c in samples if t >= up]
        figures["returns_after"] = next((t - up for t, c in after if after and c - after[0][1] >= 30000), None)
    if name == "backup":
        before = [c for t, c in samples if t <= down]
        later = [c for t, c in samples if t >= down]
        if len(before) > 1 and len(later) > 1:
            b1 = before[-1].get("link1", 0) - before[0].get("link1", 0)
            b2 = before[-1].get("link2", 0) - before[0].get("link2", 0)
            a1 = later[-1].get("link1", 0) - later[0].get("link1", 0)
            a2 = later[-1].get("link2", 0) - later[0].get("link2", 0)
            figures["backup_share_before"] = b2 / max(b1 + b2, 1)
            figures["backup_share_after"] = a2 / max(a1 + a2, 1)
    return figures


# -- main -------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (the median and min-max are shown)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of an aggregation transfer")
    parser.add_argument("--hosts", type=int, nargs="+", default=[2, 8, 16])
    parser.add_argument("--sections", nargs="+", default=["aggregation", "topologies", "control"],
                        choices=["aggregation", "topologies", "control"],
                        help="aggregation also runs failover and the per-task figures on its lab")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run: the code works, no figures")
    parser.add_argument("--prefix", help="the labs' name prefix (default bench, bench-smoke with --smoke)")
    parser.add_argument("--readme", default=str(ROOT / "README.md"), help="where to put the table ('' for nowhere)")
    args = parser.parse_args()
    # A stopped run takes its labs down (the `with` blocks) on SIGTERM as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    if args.smoke:
        args.runs, args.seconds = 1, 0.5
        PREFIX[0] = "bench-smoke"
    if args.prefix:
        PREFIX[0] = args.prefix
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    for section in args.sections:
        data = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "load_start": os.getloadavg(), "runs": args.runs, "smoke": args.smoke}
        section_started = time.monotonic()
        try:
            if section == "aggregation":
                data["results"] = aggregation(args)
            elif section == "topologies":
                data["results"] = topologies(args)
            else:
                # Saved after every run: a long run stopped early still leaves its figures.
                def save(results):
                    data.update(results=results, seconds=time.monotonic() - section_started,
                                load_end=os.getloadavg(), partial=True)
                    (out / "results-control.json").write_text(json.dumps(data, indent=1) + "\n")
                extra = {}
                data["results"] = control_plane(args, save, extra)
                data.update(extra)
                data.pop("partial", None)
        except BenchError as exc:
            print("bench: error: %s" % exc, file=sys.stderr)
            return 1
        data["seconds"] = time.monotonic() - section_started
        data["load_end"] = os.getloadavg()
        (out / ("results-%s.json" % section)).write_text(json.dumps(data, indent=1) + "\n")
        log("%s: %.0f s" % (section, data["seconds"]))
    report.write(out, readme=args.readme or None)
    log("all: %.0f s; report in %s" % (time.monotonic() - started, out / "README.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
