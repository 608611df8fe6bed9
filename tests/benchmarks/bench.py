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
  failover     a link taken down under a long transfer (and brought back; and
               with link2 marked `backup: true` in both hosts' mptcp_links):
               hash, bytes lost, stall, recovery
  control      permanent.yml vs the seed's 34.4 commands as command tasks on
               2, 8, 16 hosts; each module's task time vs a command task;
               pyroute2 import cost on a host

No flags, limits or endpoint lists are computed here: the configurations
are the role's plan (permanent.yml) and, as references, the seed's commands
typed by hand.
"""

import argparse
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lab"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml  # noqa: E402

from mptcp_lab.lab import Lab  # noqa: E402
import report  # noqa: E402

LAB_CLI = [sys.executable, str(ROOT / "tests" / "lab" / "mptcp-lab")]
FLOW = str(Path(__file__).resolve().parent / "flow.py")
BIN = Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"),
           ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="true", ANSIBLE_FORKS="16", ANSIBLE_NOCOLOR="1",
           ANSIBLE_HOST_KEY_CHECKING="false", ANSIBLE_RETRY_FILES_ENABLED="false")
PREFIX = ["bench"]  # the smoke run has its own labs: it may run beside a full one


def log(message):
    print("bench: %s" % message, flush=True)


class BenchError(Exception):
    pass


def run(argv, timeout=900, env=None):
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, env=env,
                            check=False)
    if result.returncode:
        said = (result.stderr or result.stdout).strip()[-2000:]
        raise BenchError("%s failed (%d): %s" % (shlex.join(str(a) for a in argv[:8]), result.returncode, said))
    return result.stdout


# -- the lab ------------------------------------------------------------------
class LabRun(object):
    """One lab, up for a `with` block and down after it, whatever happens."""

    def __init__(self, name, topology):
        self.name, self.topology = "%s-%s" % (PREFIX[0], name), topology

    def __enter__(self):
        self.cli("down")  # a leftover from an interrupted run
        started = time.monotonic()
        self.cli("up", "--topology", self.topology)
        self.boot_seconds = time.monotonic() - started
        self.lab = Lab(self.name)
        return self

    def __exit__(self, *exc_info):
        self.cli("down")

    def cli(self, *args):
        return run(LAB_CLI + ["--lab", self.name] + list(args), timeout=600)

    @property
    def inventory(self):
        return str(Lab(self.name).inventory_path)

    def hosts(self):
        return list(Lab(self.name).state["hosts"])

    def netns(self, host, argv):
        """argv in a host's network namespace only, with this machine's binaries."""
        return ["nsenter", "--target=%s" % Lab(self.name).runtime(host)["leader_pid"], "--net", "--"] + argv

    def sh(self, host, command):
        """A shell command inside a host (its own binaries, files and systemd)."""
        return self.cli("exec", host, "--", "sh", "-c", command)

    def address(self, host, link):
        return self.lab.topo["links"][link][host]["address"]

    def links_overlay(self, path, backup=()):
        """An inventory file that gives every host its lab mptcp_links with
        the links named in backup marked `backup: true` (the role's intent;
        the plan puts backup on the endpoints of both ends). Given after the
        lab's inventory (`-i lab -i overlay`), its host variables win."""
        hosts = yaml.safe_load(Path(self.inventory).read_text())["all"]["hosts"]
        overlay = {"all": {"hosts": {host: {"mptcp_links": [
            dict(link, backup=True) if link["interface"] in backup else link for link in hostvars["mptcp_links"]]}
            for host, hostvars in hosts.items()}}}
        Path(path).write_text(yaml.safe_dump(overlay, sort_keys=False))
        return str(path)

    def links(self):
        return list(self.lab.topo["links"])

    def playbook(self, path, extra=(), callback=None):
        """Wall time, summed changed count and output of one ansible-playbook run."""
        env = dict(ENV, ANSIBLE_STDOUT_CALLBACK=callback) if callback else ENV
        started = time.monotonic()
        # Its own process group: a stopped benchmark ends its forked workers too, not only the parent.
        process = subprocess.Popen([str(BIN / "ansible-playbook"), "-i", self.inventory, str(path)] + list(extra),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT),
                                   start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=1800)
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        seconds = time.monotonic() - started
        recap = re.findall(r"^(\S+)\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                           result.stdout, re.M)
        if result.returncode or (not callback and not recap) or any(int(u) or int(f) for _h, _o, _c, u, f in recap):
            failed = sorted(set(re.findall(r"^fatal: \[([^\]]+)\]", result.stdout, re.M)))
            # The first failed task and its message, on the first line: that line is what the report keeps.
            task = re.search(r"^(?:TASK|RUNNING HANDLER) \[([^\]]*)\][^\n]*\n(?:(?!TASK \[|RUNNING HANDLER \[).*\n)*?"
                             r"fatal: \[[^\]]+\]: \w+! => (.*)$", result.stdout, re.M)
            what = "task %r: %s" % (task.group(1), task.group(2)[:400]) if task else "?"
            raise BenchError("%s on lab %s failed (%d) on %s: %s; units: %s\n%s" % (
                Path(path).name, self.name, result.returncode, ", ".join(failed) or "?", what,
                self.failed_units(failed[:3]), (result.stdout + result.stderr)[-3000:]))
        return seconds, sum(int(c) for _h, _o, c, _u, _f in recap), result.stdout

    def failed_units(self, hosts):
        """What systemd says of failed units on hosts (e.g. a limits unit's status=219/CGROUP)."""
        said = []
        for host in hosts:
            try:
                said.append("%s: %s" % (host, " | ".join(self.sh(host, (
                    "systemctl --failed --no-legend --plain; systemctl status --no-pager -n 0 set_mptcp_limit.service "
                    "| grep -i 'process\\|status='; journalctl -b --no-pager -q -n 3 -u set_mptcp_limit.service"
                )).split("\n")).strip()))
            except BenchError as exc:
                said.append("%s: %s" % (host, exc))
        return "; ".join(said)

    def configured_endpoints(self, host):
        """The host's kernel endpoints now, without the kernel's own implicit
        ones (0x10, iproute2 6.1 prints rawflags 10): what the plan made."""
        listed = json.loads(run(self.netns(host, ["ip", "-j", "mptcp", "endpoint", "show"])) or "[]")
        return sorted(e["address"] for e in listed if not e.get("implicit") and e.get("rawflags") != "10")

    def wait_endpoints(self, host, addresses, timeout=60):
        """Until every address is a kernel endpoint of host (NetworkManager adds them on activation)."""
        deadline = time.monotonic() + timeout
        while True:
            listed = run(self.netns(host, ["ip", "-j", "mptcp", "endpoint", "show"]))
            shown = {e.get("address") for e in json.loads(listed or "[]")}
            if set(addresses) <= shown:
                return
            if time.monotonic() > deadline:
                raise BenchError("%s: endpoints %s not back within %d s (have %s)" % (
                    host, sorted(addresses), timeout, sorted(shown)))
            time.sleep(0.2)


_port = [5300]


def transfer(lab, nbytes, proto="mptcp", interval=0.1, events=(), cc=None):
    """One client -> server transfer to the server's link1 address. events:
    (seconds after the start, label, callable) run meanwhile; their times are returned."""
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
            argv = [sys.executable, FLOW, "send", "--connect", lab.address("server", "link1"), "--port", port,
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


def measure(lab, label, nbytes, proto, runs, keep, cc=None):
    figures = []
    for number in range(runs):
        before = qdisc_bytes(lab, "client", lab.links())
        result = transfer(lab, nbytes, proto=proto, cc=cc)
        wire = qdisc_bytes(lab, "client", lab.links()) - before
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


# -- 3 control plane --------------------------------------------------------------
COMMAND_PLAYBOOK = """\
# A reference, not the collection's plan: the seed's section 34.4 commands
# as a person types them on every host, as plain command tasks (the sysctl
# file, the limits unit with `subflows` the number of links, and the one
# flag set the seed gives every profile). They do not give the endpoints
# or limits permanent.yml plans (the seed's flags open a second subflow on a
# link, docs/plan.md); they are here for what the same kind of work costs
# when done by commands.
- name: Seed 34.4 as the seed's commands
  hosts: mptcp_servers:mptcp_clients
  gather_facts: false
  vars:
    paths: "{{ mptcp_links | length }}"
    seed_flags: signal,subflow,also-without-default-route
  tasks:
    - name: Write the sysctl file
      ansible.builtin.command: sh -c 'echo "net.mptcp.enabled=1" > /etc/sysctl.d/90-enable-MPTCP.conf'
    - name: Apply it
      ansible.builtin.command: sysctl -p /etc/sysctl.d/90-enable-MPTCP.conf
    - name: Write the limits unit
      ansible.builtin.command:
        argv:
          - sh
          - -c
          - |
            cat > /etc/systemd/system/set_mptcp_limit.service <<EOF
            [Unit]
            Description=Set MPTCP subflow limit
            After=network.target
            [Service]
            Type=oneshot
            RemainAfterExit=yes
            ExecStart=ip mptcp limits set subflows {{ paths }}
            [Install]
            WantedBy=multi-user.target
            EOF
    - name: Reload systemd
      ansible.builtin.command: systemctl daemon-reload
    - name: Enable and start the unit
      ansible.builtin.command: systemctl enable --now set_mptcp_limit
    - name: Set the profiles' MPTCP flags
      ansible.builtin.command: nmcli connection modify {{ item.interface }} connection.mptcp-flags {{ seed_flags }}
      loop: "{{ mptcp_links }}"
    - name: Apply them now
      ansible.builtin.command: nmcli device reapply {{ item.interface }}
      loop: "{{ mptcp_links }}"
"""

PAIRS = [
    ("mptcp_sysctl", "mptcp.multipath.mptcp_sysctl:\n        name: net.mptcp.enabled\n        value: 1",
     "ansible.builtin.command: sysctl -w net.mptcp.enabled=1"),
    ("mptcp_limits", "mptcp.multipath.mptcp_limits:\n        subflows: 2\n        add_addr_accepted: 1",
     "ansible.builtin.command: ip mptcp limits set subflows 2 add_addr_accepted 1"),
    ("mptcp_endpoint add", "mptcp.multipath.mptcp_endpoint:\n        address: 192.0.2.99\n        id: 99\n"
     "        dev: link1\n        flags: [signal]",
     "ansible.builtin.command: ip mptcp endpoint add 192.0.2.99 id 99 dev link1 signal"),
    ("mptcp_endpoint remove", "mptcp.multipath.mptcp_endpoint:\n        address: 192.0.2.99\n        state: absent",
     "ansible.builtin.command: ip mptcp endpoint delete id 99"),
    ("mptcp_info", "mptcp.multipath.mptcp_info:\n        gather: [endpoints]",
     "ansible.builtin.command: ip -j mptcp endpoint show"),
    ("mptcp_nm_profile", "mptcp.multipath.mptcp_nm_profile:\n        interface: link2\n        flags: \"{{ flags }}\"",
     "ansible.builtin.command: nmcli connection modify link2 connection.mptcp-flags {{ flags | join(',') }}"),
]


def per_task(args, lab):
    """Each module next to the command task doing the same, repeated, on both
    hosts of the two-links lab (configured by permanent.yml)."""
    repeats = 1 if args.smoke else args.runs
    tasks = []
    for number in range(repeats):
        # The endpoint's add and remove go together, so each kind finds it absent before adding it.
        for unit in (PAIRS[0:1], PAIRS[1:2], PAIRS[2:4], PAIRS[4:5], PAIRS[5:6]):
            # Alternate which goes first, so neither always follows the other.
            for kind in (("module", "command") if number % 2 == 0 else ("command", "module")):
                for name, module, command in unit:
                    body = module if kind == "module" else command
                    tasks.append("    - name: \"%s | %s | %d\"\n      %s\n" % (name, kind, number, body))
    # The profile pair writes link2's profile flags as the role's plan left
    # them (read first, not computed here): both kinds set the same value.
    text = ("- name: Per-task cost\n  hosts: mptcp_servers:mptcp_clients\n  gather_facts: false\n"
            # nmcli shows them as "connection.mptcp-flags:  0x18 (signal,also-without-default-route)"
            "  vars:\n    flags: \"{{ planned_flags.stdout.split('(')[-1].strip().rstrip(')').split(',') | map('trim') | list }}\"\n"
            "  pre_tasks:\n    - name: \"setup | read link2's profile flags\"\n"
            "      ansible.builtin.command: nmcli -f connection.mptcp-flags connection show link2\n"
            "      register: planned_flags\n      changed_when: false\n  tasks:\n"
            + "".join(tasks))
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        path = Path(workdir) / "per-task.yml"
        path.write_text(text)
        _seconds, _changed, output = lab.playbook(path, callback="ansible.posix.json")
    data = json.loads(output[output.index("{"):])
    times = {}
    for play in data["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].startswith("setup | "):
                continue
            name, kind, _number = task["task"]["name"].split(" | ")
            duration = task["task"]["duration"]
            seconds = iso_seconds(duration["end"]) - iso_seconds(duration["start"])
            times.setdefault(name, {}).setdefault(kind, []).append(seconds)
    return times


def iso_seconds(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def pyroute2_import(args, lab):
    code = "import time; t = time.perf_counter(); import pyroute2; pyroute2.MPTCP; print(time.perf_counter() - t)"
    figures = {"seconds": [], "python_start": [],
               "version": lab.sh("client", "dpkg-query -W -f '${Version}' python3-pyroute2").strip()}
    for _number in range(args.runs):
        figures["seconds"].append(float(lab.sh("client", "python3 -c %s" % shlex.quote(code))))
        started = time.monotonic()
        lab.sh("client", "python3 -c pass")
        figures["python_start"].append(time.monotonic() - started)
    return figures


def control_run(args, lab, commands):
    figures = {}
    for key, path in (("permanent", ROOT / "playbooks" / "permanent.yml"), ("commands", commands)):
        if args.smoke and key == "permanent":
            continue  # the smoke run stays short: its aggregation part runs permanent.yml already
        figures["%s first" % key] = lab.playbook(path)[0]
        # Only permanent.yml has an idempotent re-run to time: command tasks
        # would just do everything again.
        if args.smoke or key != "permanent":
            continue
        figures["permanent re-run"], figures["re-run changed"], _out = lab.playbook(path)
    return figures


def control_plane(args, save):
    counts = [2] if args.smoke else args.hosts
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        commands = Path(workdir) / "seed-commands.yml"
        commands.write_text(COMMAND_PLAYBOOK)
        for count in counts:
            entry = results.setdefault(str(count), {"permanent first": [], "permanent re-run": [],
                                                    "commands first": [],
                                                    "re-run changed": [], "boot": [], "failures": []})
            for number in range(1 if args.smoke else args.runs):
                # Fresh hosts for every first converge. The seed's commands run
                # on the same hosts afterwards: they do the same work either way.
                with LabRun("cp%d" % count, "hosts-%d" % count) as lab:
                    entry["boot"].append(lab.boot_seconds)
                    try:
                        figures = control_run(args, lab, commands)
                    except BenchError as exc:
                        # Counted and shown, not hidden: the run's times are left out.
                        entry["failures"].append(str(exc).split("\n", 1)[0][:1500])
                        log("control plane %d hosts run %d failed: %s" % (count, number + 1, entry["failures"][-1]))
                        if args.smoke:
                            raise
                        continue
                    for key, value in figures.items():
                        entry[key].append(value)
                    log("control plane %d hosts run %d: %s" % (count, number + 1, ", ".join(
                        "%s %.1f s" % (key, figures[key]) for key in figures if "changed" not in key)))
                save(results)
    return results


# -- main -------------------------------------------------------------------------
def machine():
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "cpu": model,
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30),
            "os": Path("/etc/debian_version").read_text().strip() if Path("/etc/debian_version").exists() else "",
            "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True, check=False).stdout.strip()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (the median and min-max are shown)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of an aggregation transfer")
    parser.add_argument("--hosts", type=int, nargs="+", default=[2, 8, 16])
    parser.add_argument("--sections", nargs="+", default=["aggregation", "control"],
                        choices=["aggregation", "control"],
                        help="aggregation also runs failover and the per-task figures on its lab")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run: the code works, no figures")
    parser.add_argument("--readme", default=str(ROOT / "README.md"), help="where to put the table ('' for nowhere)")
    args = parser.parse_args()
    # A stopped run takes its labs down (the `with` blocks) on SIGTERM as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    if args.smoke:
        args.runs, args.seconds = 1, 0.5
        PREFIX[0] = "bench-smoke"
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
            else:
                # Saved after every run: a long run stopped early still leaves its figures.
                def save(results):
                    data.update(results=results, seconds=time.monotonic() - section_started,
                                load_end=os.getloadavg(), partial=True)
                    (out / "results-control.json").write_text(json.dumps(data, indent=1) + "\n")
                data["results"] = control_plane(args, save)
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
