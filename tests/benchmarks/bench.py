"""Benchmarks on the lab (tests/lab): what the collection's configuration
delivers on the wire, and what running it costs. Figures, never pass/fail:
it fails only when something it measures breaks (a transfer, a playbook).

  .venv/bin/python tests/benchmarks/bench.py [--runs 5] [--out docs/benchmarks] [--sections ...]
  .venv/bin/python tests/benchmarks/bench.py --smoke --out /tmp/bench-smoke

Sections (each writes <out>/results-<section>.json; report.py turns all of
them into <out>/README.md and the PNG plots):
  aggregation  goodput of one connection over 2 x 10, 3 x 10 and 10 + 3 Mbit/s
               tbf links, and 2 x 10 with 10 and 40 ms one-way delays (the
               lab's delay line): permanent.yml (the mptcp role's plan from the lab
               inventory's mptcp_links) vs the seed's `ip mptcp` commands vs
               plain TCP on one link, each under cubic and under BBR
  topologies   the same on the router, one-subnet, shared-links and
               router-two-homed lab topologies: the plan vs plain TCP by the default route (on
               shared-links c1 -> s1, and c1 -> s1 beside c2 -> s2), cubic
               and BBR
  failover     link1 cut under a long transfer on the two-links (direct, with
               NetworkManager and with systemd-networkd) and router labs, side
               by side: at both ends or only at its peer (the client loses
               carrier), brought back (direct), with link2 marked `backup:
               true` in mptcp_links, and with the role's
               mptcp_nm_ignore_carrier (NetworkManager); hash, bytes lost,
               stall, recovery, and a new connection started during the cut;
               cubic and BBR
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
_port_lock = threading.Lock()  # transfers may run side by side (measure_together)


def tx_bytes(pid):
    """Bytes each link interface of pid's network namespace sent (/proc/PID/net/dev)."""
    counts = {}
    for line in Path("/proc/%d/net/dev" % pid).read_text().splitlines()[2:]:
        name, fields = line.split(":", 1)
        if name.strip().startswith("link"):
            counts[name.strip()] = int(fields.split()[8])
    return counts


def transfer(lab, nbytes, proto="mptcp", interval=0.1, events=(), cc=None, connect=None, tx_of=None,
             client="client", server="server"):
    """One client -> server transfer to ``connect`` (default: the server's
    link1 address). events: (seconds after the start, label, callable) run
    meanwhile; their times are returned. tx_of: a host whose links' sent
    bytes are sampled meanwhile (``tx_samples``), as the receiver samples
    its own received bytes. client, server: the lab hosts that send and receive."""
    with _port_lock:
        _port[0] += 1
        port = str(_port[0])
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        ready = os.path.join(workdir, "ready")
        receive = [sys.executable, FLOW, "receive", "--port", port, "--ready", ready, "--proto", proto,
                   "--interval", str(interval)]
        receiver = subprocess.Popen(lab.netns(server, receive), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(ready):
                if receiver.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("the receiver did not start: %s" % receiver.stderr.read())
                time.sleep(0.02)
            argv = [sys.executable, FLOW, "send", "--connect", connect or lab.address(server, "link1"), "--port", port,
                    "--bytes", str(int(nbytes)), "--proto", proto] + (["--cc", cc] if cc else [])
            sender = subprocess.Popen(lab.netns(client, argv),
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
            tx_samples, sent_done = [], threading.Event()

            def sample_tx(pid):
                while not sent_done.is_set():
                    tx_samples.append((time.monotonic(), tx_bytes(pid)))
                    sent_done.wait(interval)

            sampler = None
            if tx_of:
                sampler = threading.Thread(target=sample_tx, args=(int(lab.lab.runtime(tx_of)["leader_pid"]),))
                sampler.start()
            try:
                sent_out, sent_err = sender.communicate(timeout=600)
                received_out, received_err = receiver.communicate(timeout=120)
            finally:
                sent_done.set()
                if sampler:
                    sampler.join()
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
                "marks": marks, "expected": int(nbytes), "tx_samples": tx_samples}


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


def host_links(lab, host):
    return [link for link in lab.links() if host in lab.lab.topo["links"][link]]


def checked_figure(label, number, result, wire):
    """One run's figures; an error when data was lost."""
    received, sent = result["received"], result["sent"] or {}
    if received["bytes"] != result["expected"] or received["sha256"] != sent.get("sha256"):
        raise BenchError("%s: transfer %d lost data (%d of %d bytes)" % (
            label, number, received["bytes"], result["expected"]))
    return {"mbit": goodput(result), "wire_bytes": wire,
            "bytes": received["bytes"], "subflows": sent.get("max_additional_subflows", 0),
            "paths": sent.get("paths", [])}


def measure(lab, label, nbytes, proto, runs, keep, cc=None, connect=None, client="client", server="server"):
    figures = []
    mine = host_links(lab, client)
    for number in range(runs):
        before = qdisc_bytes(lab, client, mine)
        result = transfer(lab, nbytes, proto=proto, cc=cc, connect=connect, client=client, server=server)
        wire = qdisc_bytes(lab, client, mine) - before
        figures.append(checked_figure(label, number, result, wire))
        if number == 0 and keep is not None:
            keep[label] = {"samples": result["received"]["samples"], "started": result["received"]["started"]}
        log("  %s run %d: %.2f Mbit/s" % (label, number + 1, figures[-1]["mbit"]))
    return figures


def measure_together(lab, flows, nbytes, proto, runs, cc=None):
    """flows: (label, client, server, connect) transfers started at the same
    time, runs times; each connection's figures, by label (the clients must
    differ: the wire bytes are their tbf qdiscs')."""
    figures = {label: [] for label, _client, _server, _connect in flows}
    for number in range(runs):
        before = {client: qdisc_bytes(lab, client, host_links(lab, client)) for _l, client, _s, _c in flows}
        results = {}

        def one(label, client, server, connect):
            try:
                results[label] = transfer(lab, nbytes, proto=proto, cc=cc, connect=connect, client=client,
                                          server=server)
            except Exception as exc:  # raised below, in this thread
                results[label] = exc

        threads = [threading.Thread(target=one, args=flow) for flow in flows]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for label, client, _server, _connect in flows:
            if isinstance(results[label], Exception):
                raise BenchError("%s: transfer %d: %s" % (label, number, results[label]))
            wire = qdisc_bytes(lab, client, host_links(lab, client)) - before[client]
            figures[label].append(checked_figure(label, number, results[label], wire))
            log("  %s run %d: %.2f Mbit/s" % (label, number + 1, figures[label][-1]["mbit"]))
    return figures


# The unequal-delay row (issue 21): one-way delays at both ends of each
# link (the lab's delay line, `mptcp-lab delay`): round trips of 20 and 80 ms.
DELAYED = {"link1": "10ms", "link2": "40ms"}


def aggregation(args):
    seconds = args.seconds
    # (label, rate per link, one-way delay per link)
    cases = [("2 x 10 Mbit/s", {"link1": "10mbit", "link2": "10mbit"}, {}),
             ("10 + 3 Mbit/s", {"link1": "10mbit", "link2": "3mbit"}, {}),
             ("2 x 10 Mbit/s, 10 + 40 ms delay", {"link1": "10mbit", "link2": "10mbit"}, DELAYED)]
    # cubic is the kernel's default and the targets' congestion control;
    # BBR (this machine's default) is measured beside it (docs/benchmarks/notes.md).
    ccs = ("cubic",) if args.smoke else ("cubic", "bbr")
    results = {"cases": {}, "series": {}, "congestion_controls": list(ccs)}

    def shape(lab, rates, delays):
        for link, rate in rates.items():
            lab.cli("shape", link, "--rate", rate)
        for link in rates:
            lab.cli("delay", link, "--delay", delays.get(link, "none"))

    def mbit(rate):
        return float(rate[:-4])

    def case_bytes(rates):
        return sum(mbit(r) for r in rates.values()) * 1e6 / 8 * seconds

    def run_case(lab, label, rates, delays, config):
        shape(lab, rates, delays)
        entry = results["cases"].setdefault(label, {"rates": {k: mbit(v) for k, v in rates.items()}})
        if delays:
            entry["delays_ms"] = {link: float(delay[:-2]) for link, delay in delays.items()}
        for cc in ccs:
            # Set on the sending socket (MPTCP passes it on to every subflow),
            # so that each row states its congestion control whatever the
            # machine's default is; the plot shows the first one's runs.
            keep = results["series"] if cc == ccs[0] else None
            log("aggregation %s, %s, %s" % (label, config, cc))
            entry["%s, %s" % (config, cc)] = measure(lab, "%s %s, %s" % (label, config, cc), case_bytes(rates),
                                                     "mptcp", args.runs, keep, cc=cc)
            if config == "hand-made":
                # the best single path: link1 (the fastest, and the shortest delay)
                one = {"link1": rates["link1"]}
                entry["tcp, %s" % cc] = measure(lab, "%s tcp, %s" % (label, cc), case_bytes(one), "tcp",
                                                args.runs, keep, cc=cc)

    with LabRun("agg2", "two-links") as lab:
        results["default_congestion_control"] = run(lab.netns("client", ["sysctl", "-n",
                                                                         "net.ipv4.tcp_congestion_control"])).strip()
        # the smoke run: the first case, and the delay line
        chosen = [cases[0], cases[-1]] if args.smoke else cases
        configure_by_hand(lab, ["link1", "link2"])
        for label, rates, delays in chosen:
            run_case(lab, label, rates, delays, "hand-made")
        unconfigure_by_hand(lab)
        seconds_taken, _changed, _out = lab.playbook(ROOT / "playbooks" / "permanent.yml")
        log("permanent.yml on the two-links lab: %.1f s" % seconds_taken)
        for label, rates, delays in reversed(chosen):
            run_case(lab, label, rates, delays, "permanent.yml")
        results["per_task"] = per_task(args, lab)
        results["pyroute2"] = pyroute2_import(args, lab)
    if not args.smoke:
        with LabRun("agg3", "three-links") as lab:
            label, rates = "3 x 10 Mbit/s", {"link1": "10mbit", "link2": "10mbit", "link3": "10mbit"}
            configure_by_hand(lab, ["link1", "link2", "link3"])
            run_case(lab, label, rates, {}, "hand-made")
            unconfigure_by_hand(lab)
            lab.playbook(ROOT / "playbooks" / "permanent.yml")
            run_case(lab, label, rates, {}, "permanent.yml")
    return results


# -- 1b the topologies users have (issue 21) ----------------------------------------
# (label, lab topology, client, server, flows run side by side or None; a
# flow is (label, client, server)).
TOPOLOGIES = (("router: 2 x 10 Mbit/s uplinks, single-homed server", "router", "client", "server", None),
              ("one subnet: 2 x 10 Mbit/s client interfaces (seed 34.5)", "one-subnet", "client", "server", None),
              ("shared links: c1 -> s1, 2 x 10 Mbit/s", "shared-links", "c1", "s1",
               (("shared links, side by side: c1 -> s1, 2 x 10 Mbit/s", "c1", "s1"),
                ("shared links, side by side: c2 -> s2, 2 x 10 Mbit/s", "c2", "s2"))),
              ("router, two-homed server: 2 x 10 Mbit/s uplinks", "router-two-homed", "client", "server", None))


def topologies(args):
    """On each topology other than paired links: the role's plan
    (permanent.yml) against plain TCP by the client's default route, both
    client uplinks at 10 Mbit/s (the server's side unshaped), under cubic
    and BBR. The seed has no hand-made answer for these shapes. On the
    shared segments only the clients' ends are shaped (the bridge's other
    ports stay free), and two clients also send to two servers at once."""
    ccs = ("cubic",) if args.smoke else ("cubic", "bbr")
    results = {"cases": {}, "series": {}, "congestion_controls": list(ccs)}
    # the smoke run: the router and the shared segments
    chosen = TOPOLOGIES[:1] + TOPOLOGIES[2:3] if args.smoke else TOPOLOGIES
    for label, topology, client, server, together in chosen:
        with LabRun("topo-" + topology, topology) as lab:
            lab.playbook(ROOT / "playbooks" / "permanent.yml")
            connect = lab.address(server, host_links(lab, server)[0])
            rates = {"link1": 10.0, "link2": 10.0}
            entry = results["cases"].setdefault(label, {"rates": dict(rates)})
            for link in ("link1", "link2"):
                if lab.lab.topo.get("segments"):  # a link with an end on every host: only the clients' ends
                    shaped = [client] + [flow[1] for flow in together or () if flow[1] != client]
                    lab.cli("shape", link, "--rate", "10mbit", *["--host=%s" % host for host in shaped])
                else:
                    lab.cli("shape", link, "--rate", "10mbit")
            for cc in ccs:
                keep = results["series"] if cc == ccs[0] else None
                for config, proto, total in (("permanent.yml", "mptcp", 20.0), ("tcp", "tcp", 10.0)):
                    log("topology %s, %s, %s" % (topology, config, cc))
                    entry["%s, %s" % (config, cc)] = measure(
                        lab, "%s %s, %s" % (label, config, cc), total * 1e6 / 8 * args.seconds, proto,
                        args.runs, keep, cc=cc, connect=connect, client=client, server=server)
                    if together:
                        log("topology %s side by side, %s, %s" % (topology, config, cc))
                        flows = [(flow_label, flow_client, flow_server,
                                  lab.address(flow_server, host_links(lab, flow_server)[0]))
                                 for flow_label, flow_client, flow_server in together]
                        figures = measure_together(lab, flows, total * 1e6 / 8 * args.seconds, proto, args.runs,
                                                   cc=cc)
                        for flow_label, runs in figures.items():
                            results["cases"].setdefault(flow_label, {"rates": dict(rates)})[
                                "%s, %s" % (config, cc)] = runs
    return results


# -- 2 failover ---------------------------------------------------------------------
# The topologies (issue 21): the two-links lab (the server at link1's other
# end) with NetworkManager, the same with systemd-networkd (the role's
# `systemd` endpoint backend), and the router lab (the client's two uplinks
# to a router, a single-homed server behind it). The peer is the host at
# link1's other end. Their labs run side by side (one thread each): a run
# moves 10 Mbit/s, and most of its time is the cut's 7 s.
FAILOVER_TOPOLOGIES = (("direct", "two-links", "server"), ("direct-networkd", "two-links-networkd", "server"),
                       ("router", "router", "router"))
# the role's own answer to NetworkManager's late deactivation (issue 21, item 4)
IGNORE_CARRIER_VARS = {"mptcp_nm_ignore_carrier": True}
# entries of the results that the topologies' threads add to, and the
# partial saves that write them out
RESULTS_LOCK = threading.Lock()


def failover_cases(topology_name, smoke):
    """(label, cut, link2 a backup link, the role's mptcp_nm_ignore_carrier, link1 back after the cut), in an
    order that runs permanent.yml as few times as possible: the default cases, the backup ones, then
    ignore-carrier's (NetworkManager's only: a networkd host has none). A cut "both ends" takes link1 down at
    the client and its peer (`mptcp-lab link down`); "carrier" only at the peer, so that the client loses
    carrier (a cable pulled, a modem's port gone)."""
    if smoke:
        return [("down", "both ends", False, True, False)]
    cases = [("down", "both ends", False, False, False)]
    if topology_name.startswith("direct"):
        cases.append(("down and up", "both ends", False, False, True))
    cases += [("carrier lost", "carrier", False, False, False),
              ("backup", "both ends", True, False, False)]
    if topology_name.endswith("networkd"):
        return cases
    return cases + [("backup", "both ends", True, True, False),
                    ("down", "both ends", False, True, False),
                    ("carrier lost", "carrier", False, True, False)]


def failover_section(args, save):
    """Each topology's lab configured by permanent.yml, the client's two
    links at 10 Mbit/s; link1 carries the initial subflow (the client's
    default route). Every case under each congestion control; the labs side
    by side."""
    ccs = ("cubic",) if args.smoke else tuple(args.failover_ccs)
    # Down for longer than NetworkManager's ~5 s before it deactivates the profile.
    down_at, down_for, tail = (1.0, 2.0, 1.0) if args.smoke else (2.0, 7.0, 2.0)
    params = {"down_at": down_at, "down_for": down_for, "tail": tail, "new_connection_at": down_at + 1.0,
              "new_connection_timeout": 10.0}
    results = {"params": params, "congestion_controls": list(ccs), "topologies": {},
               "ignore_carrier": {"vars": IGNORE_CARRIER_VARS}}
    chosen = [t for t in FAILOVER_TOPOLOGIES if t[0] in (["router"] if args.smoke else args.failover_topologies)]
    stop, errors = threading.Event(), []

    def saved():
        with RESULTS_LOCK:
            save(results)

    def one(name, topology, peer):
        try:
            with LabRun("fo-" + name, topology) as lab:
                lab.playbook(ROOT / "playbooks" / "permanent.yml")
                for link in ("link1", "link2"):
                    lab.cli("shape", link, "--rate", "10mbit")
                server = next(link for link in lab.links() if "server" in lab.lab.topo["links"][link])
                entry = {"topology": topology, "peer": peer, "network": lab.lab.topo.get("network", "networkmanager"),
                         "connect": lab.address("server", server), "cases": {}}
                # a new connection with every link up, for comparison
                entry["new_connection_baseline"] = [probe(lab, entry["connect"], params["new_connection_timeout"])
                                                    for _number in range(1 if args.smoke else 3)]
                with RESULTS_LOCK:
                    results["topologies"][name] = entry
                failover(args, lab, entry, failover_cases(name, args.smoke), ccs, params, saved, stop)
        except BaseException as exc:  # raised in the main thread
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=one, args=topology, name=topology[0]) for topology in chosen]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:
        # stopped (Ctrl-C, SIGTERM): the threads end after their run and take their labs down
        stop.set()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    # in the file's order, whichever lab finished first
    results["topologies"] = {name: results["topologies"][name] for name, _t, _p in chosen
                             if name in results["topologies"]}
    return results


def carrier_links(lab):
    """Per host, the links the role's ignore-carrier drop-in names (read back from the host)."""
    found = {}
    for host in lab.hosts():
        text = lab.sh(host, "cat /etc/NetworkManager/conf.d/90-mptcp-ignore-carrier.conf 2>/dev/null || true")
        names = [word.split(":", 1)[1] for line in text.splitlines() if line.startswith("match-device=")
                 for word in line.split("=", 1)[1].split(";")]
        if names:
            found[host] = names
    return found


def failover(args, lab, entry, cases, ccs, params, save, stop):
    down_at, down_for, tail = params["down_at"], params["down_for"], params["tail"]
    rate = 10e6 / 8
    permanent = ROOT / "playbooks" / "permanent.yml"
    planned = (False, False)
    peer, connect = entry["peer"], entry["connect"]

    def cut_link1(cut):
        if cut == "both ends":
            lab.cli("link", "down", "link1")
        else:
            run(lab.netns(peer, ["ip", "link", "set", "dev", "link1", "down"]))

    def plan(backup, ignore):
        # The intent, not flags: link2 is a backup link on every host that
        # has it (the role's plan gives its endpoints `backup`); ignore: the
        # role's mptcp_nm_ignore_carrier.
        with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
            extra = ["-e", json.dumps(IGNORE_CARRIER_VARS)] if ignore else []
            if backup:
                extra += ["-i", lab.links_overlay(Path(workdir) / "backup.yml", backup=("link2",))]
            lab.playbook(permanent, extra=extra)

    for label, cut, backup, ignore, comes_back in cases:
        if (backup, ignore) != planned:
            plan(backup, ignore)
            planned = (backup, ignore)
            if ignore:
                with RESULTS_LOCK:
                    entry["ignore_carrier"] = carrier_links(lab)
        client_eps, server_eps = lab.configured_endpoints("client"), lab.configured_endpoints("server")
        key = "%s, %s" % (label, "ignore-carrier" if ignore else "NetworkManager default")
        case = {"case": label, "cut": cut, "backup": backup, "ignore_carrier": ignore, "runs": {}}
        with RESULTS_LOCK:
            entry["cases"][key] = case
        if backup:
            nbytes = (down_at + down_for + tail) * rate
        else:
            nbytes = (2 * down_at + down_for + tail + (tail if comes_back else 0)) * rate
        for cc in ccs:
            runs = []
            with RESULTS_LOCK:
                case["runs"][cc] = runs
            for number in range(args.runs):
                if stop.is_set():
                    return
                log("failover %s: %s, %s run %d" % (entry["topology"], key, cc, number + 1))
                probes, kept = [], {}

                def new_connection():
                    thread = threading.Thread(target=lambda: probes.append(
                        probe(lab, connect, params["new_connection_timeout"])))
                    thread.start()
                    probes.append(thread)

                def still_there():
                    kept["link1_address"] = any(entry.get("addr_info") for entry in json.loads(run(lab.netns(
                        "client", ["ip", "-j", "-4", "address", "show", "dev", "link1"])) or "[]"))
                    kept["routes"] = run(lab.netns("client", ["ip", "route", "show", "default"])).strip().splitlines()

                events = [(down_at, "link1 down", lambda: cut_link1(cut)),
                          (params["new_connection_at"], "new connection", new_connection),
                          (down_at + down_for - 0.3, "link1 state", still_there)]
                if comes_back:
                    events.append((down_at + down_for, "link1 up", lambda: lab.cli("link", "up", "link1")))
                try:
                    result = transfer(lab, nbytes, interval=0.05, events=events, cc=cc, connect=connect,
                                      tx_of="client")
                except BenchError as exc:
                    # A connection that does not survive the failure is what this
                    # section measures: counted and shown, not a crash of the run.
                    figures = lost_connection(exc, lab)
                    log("failover %s run %d: the connection was lost: %s" % (key, number + 1, figures["error"]))
                else:
                    figures = failover_figures(result, backup)
                    if number == 0 and cc == ccs[0]:  # the plot's
                        figures["series"] = {"samples": result["tx_samples"], "marks": result["marks"],
                                             "started": result["received"]["started"]}
                for thread in [p for p in probes if isinstance(p, threading.Thread)]:
                    thread.join()
                figures["new_connection"] = next((p for p in probes if isinstance(p, dict)), None)
                figures["during_cut"] = kept
                with RESULTS_LOCK:
                    runs.append(figures)
                lab.cli("link", "up", "link1")
                lab.wait_endpoints("client", client_eps)
                lab.wait_endpoints("server", server_eps)
                if figures.get("connection_lost"):
                    # each lost run waits for the receiver's 120 s timeout: one is the finding
                    log("failover %s: the remaining runs are left out after a lost connection" % key)
                    break
                log("  %s: stall %s s, lost %s, new connection %s" % (
                    entry["topology"], figures["stall"], figures["lost"], figures["new_connection"]))
            save()


def probe(lab, connect, timeout):
    """A new MPTCP connection from the client to connect, started now: the
    seconds until 64 KiB went through and the receiver closed (the sender's
    start in the host included), the connect() alone, or why not within
    timeout."""
    with _port_lock:
        _port[0] += 1
        port = str(_port[0])
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        ready = os.path.join(workdir, "ready")
        receiver = subprocess.Popen(lab.netns("server", [sys.executable, FLOW, "receive", "--port", port,
                                                         "--ready", ready]),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sender = None
        try:
            while not os.path.exists(ready):
                if receiver.poll() is not None:
                    return {"ok": False, "seconds": None, "error": "the receiver did not start"}
                time.sleep(0.01)
            started = time.monotonic()
            sender = subprocess.Popen(lab.netns("client", [sys.executable, FLOW, "send", "--connect", connect,
                                                           "--port", port, "--bytes", "64K"]),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                out, err = sender.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                return {"ok": False, "seconds": None, "error": "not done within %g s" % timeout}
            seconds = time.monotonic() - started
            if sender.returncode or not out.strip():
                return {"ok": False, "seconds": seconds, "error": err.strip().splitlines()[-1][:200] if err.strip()
                        else "exit %d" % sender.returncode}
            sent = json.loads(out)
            return {"ok": True, "seconds": seconds, "connect": sent["started"] - sent["connecting"], "error": None}
        finally:
            for process in (receiver, sender):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()


def lost_connection(exc, lab):
    """A failover run whose connection died: the error, and what the client
    had left (its subflows and MPTCP counters, read after the failure)."""
    return {"hash_ok": False, "lost": None, "stall": None, "stall_from_down": None, "full_rate_after": None,
            "connection_lost": True, "error": str(exc).strip().splitlines()[-1][:300],
            "client_subflows": run(lab.netns("client", ["ss", "-tnH", "state", "established"])).split("\n")}


def slow_time(samples, since, bits_per_second):
    """The longest run of consecutive sample intervals from since on in which
    the application read less than bits_per_second."""
    longest = current = 0.0
    for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
        if t1 <= since or t1 <= t0 or "read" not in c1:
            continue
        if (c1["read"] - c0.get("read", 0)) * 8 / (t1 - t0) < bits_per_second:
            current += t1 - max(t0, since)
            longest = max(longest, current)
        else:
            current = 0.0
    return longest


def failover_figures(result, backup):
    """Bytes and stall from the receiver; per link, the client's transmitted
    bytes (the server of the router topology has one link)."""
    received, sent = result["received"], result["sent"] or {}
    marks = {m["label"]: m for m in result["marks"]}
    down = marks["link1 down"]["at"]
    samples = result["tx_samples"]
    figures = {
        "hash_ok": bool(sent) and sent.get("sha256") == received["sha256"],
        "lost": (sent.get("bytes", result["expected"]) - received["bytes"]),
        "stall": received["stall"],
        "stall_from_down": received["stall_at"] - down,
        "sender_error": result["sender_error"],
    }
    # What the application felt: the longest time from the cut on in which it
    # read less than 1 Mbit/s (a tenth of the surviving link), in the
    # receiver's samples; reads that trickle in break the stall between two
    # reads, not this.
    figures["below_1mbit"] = slow_time(received["samples"], down, 1e6)
    # The surviving link carries full rate: a 0.5 s window after the failure
    # in which the client sent >= 90% of link2's 10 Mbit/s on it (on the wire).
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
    if backup:
        # from the accept (the receiver's start) to the cut, and from the cut on
        before = [c for t, c in samples if received["started"] <= t <= down]
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
def partial(data, out, section, section_started):
    """Saves a section's results so far (after every run of the control
    plane, every case of failover): a long run stopped early still leaves
    its figures."""
    def save(results):
        data.update(results=results, seconds=time.monotonic() - section_started, load_end=os.getloadavg(),
                    partial=True)
        (out / ("results-%s.json" % section)).write_text(json.dumps(data, indent=1) + "\n")
    return save


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (the median and min-max are shown)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of an aggregation transfer")
    parser.add_argument("--hosts", type=int, nargs="+", default=[2, 8, 16])
    # one run boots 2, 8 and 16 hosts (about 3 minutes): five would put make bench over its 40 minutes
    parser.add_argument("--control-runs", type=int, default=1,
                        help="runs per figure of the control section (default 1; --runs is the others')")
    parser.add_argument("--sections", nargs="+", default=["aggregation", "topologies", "failover", "control"],
                        choices=["aggregation", "topologies", "failover", "control"],
                        help="aggregation also runs the per-task figures on its lab")
    parser.add_argument("--failover-ccs", nargs="+", default=["cubic", "bbr"], choices=["cubic", "bbr"],
                        help="the failover section's congestion controls")
    parser.add_argument("--failover-topologies", nargs="+", default=[name for name, _t, _p in FAILOVER_TOPOLOGIES],
                        choices=[name for name, _t, _p in FAILOVER_TOPOLOGIES],
                        help="the failover section's labs: two-links (direct), two-links-networkd and router")
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
            elif section == "failover":
                data["results"] = failover_section(args, partial(data, out, section, section_started))
                data.pop("partial", None)
            else:
                extra = {}
                data["runs"] = 1 if args.smoke else args.control_runs
                control_args = argparse.Namespace(**dict(vars(args), runs=data["runs"]))
                data["results"] = control_plane(control_args, partial(data, out, section, section_started), extra)
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
