"""Faults on real hosts (issue 8, item 3), on a NetworkManager lab:
endpoints and limits reset behind the collection's back, hand-edited files,
NetworkManager stopped before a run or restarted during one, two runs at
once, the controller SIGKILLed at random points. A link flap under a running
transfer, for either backend, is in test_fault_link_flap.py, which takes
Converged from here.

Every case ends with a converge and an assertion on the hosts' real state
(conftest's snapshot: sysctls, endpoints, limits, files, units, profiles)
against the state a clean converge left: nothing lost, nothing half-written.
One lab, booted once for the module; the cases run in an order where one
ends in the state the next starts from (each still brings the hosts there
itself when it does not find them so).

MPTCP_FAULT_SEED picks the kill points (printed); MPTCP_FAULT_KILLS their
number (default 10)."""

import json
import os
import random
import subprocess
import time

import pytest

from _fault_support import (
    DISABLE,
    PERMANENT,
    BackgroundPlaybook,
    ansible_leftovers,
    assert_no_traceback,
    assert_state,
    changed_tasks,
    file_versions,
    is_implicit,
    mixed_versions,
    module_processes,
    snapshot,
    state,
    tail,
    wait_gone,
)
from conftest import LAB_TOOL, ROOT, diff_snapshots, findings

NM_LAB = "sys-faults"
HOSTS = ("server", "client")
RUN_TIMEOUT = 300  # one playbook run on two nspawn hosts takes 6-20 s here
SEED = int(os.environ.get("MPTCP_FAULT_SEED", "20261127"))
KILLS = int(os.environ.get("MPTCP_FAULT_KILLS", "10"))
NM_TASK = r"^TASK \[mptcp\.multipath\.mptcp : [^\]]*[Pp]rofile"

note, print_report = findings("FAULT", "fault suite findings")


def unchanged(result):
    return result.rc == 0 and all(counts["changed"] == 0 for counts in result.recap.values())


class Converged:
    """A lab and the real state of its hosts after clean converges: `states`
    maps a playbook to the state it leaves (recorded at its first converge)."""

    def __init__(self, lab, playbook):
        self.lab = lab
        self.playbook_path = playbook
        self.states = {}
        self.seconds = {}  # playbook -> duration of its last run that changed something

    @property
    def wanted(self):
        return self.states[self.playbook_path]

    def run(self, playbook=None, **kwargs):
        result = self.lab.playbook(playbook or self.playbook_path, timeout=RUN_TIMEOUT, **kwargs)
        assert_no_traceback(result)
        return result

    def converge(self, playbook=None, what="converge", rerun=False):
        """Run the playbook (it must succeed) and check the hosts against the state
        it left the first time (recorded then, after a re-run that changed nothing)."""
        playbook = playbook or self.playbook_path
        result = self.run(playbook)
        assert result.rc == 0, "%s: %s failed:\n%s%s" % (what, playbook, self.explain(), tail(result))
        if any(counts["changed"] for counts in result.recap.values()):
            self.seconds[playbook] = result.seconds
        if rerun or playbook not in self.states:
            self.assert_rerun_unchanged(playbook, what)
        if playbook not in self.states:
            self.states[playbook] = {host: state(snap) for host, snap in self.snapshots().items()}
        else:
            self.assert_state(what, playbook)
        return result

    def assert_rerun_unchanged(self, playbook=None, what="re-run"):
        again = self.run(playbook or self.playbook_path)
        assert unchanged(again), "%s: a re-run changed %s\n%s%s" % (
            what, changed_tasks(again.output), self.explain(), tail(again))

    def explain(self):
        """The endpoints the hosts have beside the converged ones, for a failure message."""
        if self.playbook_path not in self.states:
            return ""
        lines = []
        for host in HOSTS:
            listed = json.loads(self.lab.exec(host, ["ip", "-j", "mptcp", "endpoint", "show"], check=True).stdout)
            implicit = [endpoint for endpoint in listed if is_implicit(endpoint)]
            extra = [e for e in state({"endpoints": listed})["endpoints"] if e not in self.wanted[host]["endpoints"]]
            if implicit:
                lines.append("%s has endpoints the kernel made itself (implicit, rawflags 0x10) for the local "
                             "address of a subflow to an announced address: %s. The role rightly leaves them "
                             "alone, but a check that counts every endpoint fails on them" % (host, implicit))
            if extra:
                lines.append("%s has endpoints the converged state does not: %s (with default mptcp-flags, "
                             "NetworkManager makes a subflow endpoint for the interface with the default route "
                             "at each of its syncs)" % (host, extra))
        return "".join(line + "\n" for line in lines)

    def snapshots(self):
        return {host: snapshot(self.lab, host) for host in HOSTS}

    def assert_state(self, what, playbook=None):
        wanted = self.states[playbook or self.playbook_path]
        return {host: assert_state(self.lab, host, wanted[host], what) for host in HOSTS}

    def ensure(self, playbook=None, what="bring the hosts to the state the case starts from"):
        """The hosts in the state the playbook leaves, converging only when they are not."""
        playbook = playbook or self.playbook_path
        if playbook in self.states and {h: state(snap) for h, snap in self.snapshots().items()} == self.states[playbook]:
            return
        for host in HOSTS:  # an earlier case may have failed half-way
            self.lab.exec(host, ["systemctl", "start", "NetworkManager"], check=True)
        for name in self.lab.inventory_data()["all"]["vars"]["mptcp_lab_links"]:
            self.lab.link(name, "up")
        self.converge(playbook, what=what)


@pytest.fixture(scope="module")
def nm(lab_factory):
    """permanent.yml (the NetworkManager backend) converged on a two-link lab."""
    lab = lab_factory(NM_LAB)
    converged = Converged(lab, PERMANENT)
    result = converged.converge(what="first converge")
    note("permanent.yml on fresh hosts: %.1f s" % result.seconds)
    for host in HOSTS:
        assert_permanent_state(lab, host, converged.wanted[host])
    yield converged
    lab.down()


def assert_permanent_state(lab, host, snap):
    """The converged state is really the role's plan of seed 34.4 on these
    hosts (two links paired one-to-one, NetworkManager 1.42, so no laminar):
    every address of a server an endpoint of its link's interface that it
    announces (signal); the clients have no endpoints (profiles disabled) and
    take the announcements; one additional subflow per further link; the
    files, the unit and the profiles' flags."""
    links = lab.hostvars(host)["mptcp_links"]
    server = "mptcp_servers" in lab.hostvars(host)["mptcp_lab_groups"]
    assert snap["sysctl"]["net.mptcp.enabled"] == "1", snap["sysctl"]
    assert snap["limits"] == {"subflows": len(links) - 1, "add_addr_accepted": 0 if server else len(links) - 1}, \
        snap["limits"]
    # the kernel's own implicit endpoints (0x10, addresses a subflow used; iproute2 6.1 prints rawflags 10) are
    # nobody's plan
    endpoints = {(e["address"], e.get("dev"), bool(e.get("signal")), bool(e.get("subflow"))) for e in snap["endpoints"]
                 if not e.get("implicit") and e.get("rawflags") != "10"}
    assert endpoints == ({(link["address"], link["interface"], True, False) for link in links} if server else set()), \
        snap["endpoints"]
    sysctl_file = snap["files"]["/etc/sysctl.d/90-enable-MPTCP.conf"]
    assert "net.mptcp.enabled = 1" in sysctl_file["content"], sysctl_file
    unit_file = snap["files"]["/etc/systemd/system/set_mptcp_limit.service"]
    assert unit_file["mode"] == "0644" and unit_file["uid"] == 0, unit_file
    unit = snap["units"]["set_mptcp_limit.service"]
    assert (unit["ActiveState"], unit["is-enabled"], unit["NeedDaemonReload"]) == ("active", "enabled", "no"), unit
    flags = {p["id"]: int(p["mptcp-flags"], 0) for p in snap["nm_profiles"]}
    wanted_flags = 0x18 if server else 0x1  # signal + also-without-default-route; disabled
    assert all(flags[link["interface"]] == wanted_flags for link in links), snap["nm_profiles"]


def describe(endpoint):
    """An endpoint as mptcp_nm_profile's diff shows it."""
    flags = [name for name in ("signal", "subflow", "backup", "fullmesh", "laminar") if endpoint.get(name)]
    return " ".join([endpoint["address"]] + flags + ["dev %s" % endpoint["dev"]])


def break_behind_the_back(lab, host):
    """What an operator does by hand: flush the endpoints, reset the limits."""
    lab.exec(host, ["ip", "mptcp", "endpoint", "flush"], check=True)
    lab.exec(host, ["ip", "mptcp", "limits", "set", "subflows", "0", "add_addr_accepted", "0"], check=True)
    snap = snapshot(lab, host)
    assert snap["endpoints"] == [] and snap["limits"] == {"subflows": 0, "add_addr_accepted": 0}, snap


# -- endpoints and limits reset behind the collection's back ---------------------

def test_flushed_endpoints_and_reset_limits_are_restored(nm):
    nm.ensure()
    lab = nm.lab
    for host in HOSTS:
        break_behind_the_back(lab, host)

    result = nm.run(diff=True)
    assert result.rc == 0, tail(result)
    changed = changed_tasks(result.output)
    # On a host whose plan has endpoints (the server's; a client that takes
    # the servers' announcements has none) the profiles' task reapplies and
    # NetworkManager syncs all of them, so exactly that task and the limits
    # change.
    for host in HOSTS:
        profile_task = ["Make each profile's addresses endpoints through NetworkManager"]
        assert sorted(changed.get(host, [])) == (profile_task if nm.wanted[host]["endpoints"] else []) + [
            "Set the limits now, and at every boot for permanent paths",
        ], changed
    # the profiles' diff is keyed by profile: its endpoints one level deeper
    expected = ['-    "subflows": 0', '-        "endpoints": []']
    for host in HOSTS:
        limits = nm.wanted[host]["limits"]
        expected += ['+    "subflows": %d' % limits["subflows"]]
        if limits["add_addr_accepted"]:  # a limit the plan keeps at 0 is no change
            expected += ['-    "add_addr_accepted": 0,', '+    "add_addr_accepted": %d,' % limits["add_addr_accepted"]]
        expected += ['"%s"' % describe(e) for e in nm.wanted[host]["endpoints"] if e["dev"] == "link1"]
    for text in expected:
        assert text in result.output, "%r not in the diff:\n%s" % (text, tail(result, 200))
    nm.assert_state("after the flush")
    nm.assert_rerun_unchanged(what="after the flush")
    note("flush + limits 0: the next run changed exactly %s per host and restored everything"
         % sorted(changed["server"]))


# -- hand edits ----------------------------------------------------------------------

def test_hand_edited_sysctl_file_and_unit_are_corrected_with_a_diff(nm):
    nm.ensure()
    lab = nm.lab
    host = "client"
    lab.exec(host, ["sh", "-c", "echo 'net.mptcp.enabled=0' >> /etc/sysctl.d/90-enable-MPTCP.conf"], check=True)
    lab.exec(host, ["sed", "-i", "s/^ExecStart=.*/ExecStart=ip mptcp limits set subflows 1 add_addr_accepted 0/",
                    "/etc/systemd/system/set_mptcp_limit.service"], check=True)
    edited = snapshot(lab, host)
    assert "ExecStart=ip mptcp limits set subflows 1 add_addr_accepted 0" in \
        edited["files"]["/etc/systemd/system/set_mptcp_limit.service"]["content"]

    result = nm.run(diff=True)
    assert result.rc == 0, tail(result)
    changed = changed_tasks(result.output)
    assert "server" not in changed, changed
    assert "Set the limits now, and at every boot for permanent paths" in changed[host], changed
    assert "Enable MPTCP sockets in the kernel, now and at boot" in changed[host], changed
    for text in ('-    "file": "0",', '+    "file": "1",',
                 "-ExecStart=ip mptcp limits set subflows 1 add_addr_accepted 0",
                 "+ExecStart=ip mptcp limits set"):
        assert text in result.output, "%r not in the diff:\n%s" % (text, tail(result, 200))
    nm.assert_state("after the hand edits")

    # what the corrected files do at boot, for real
    lab.reboot(host)
    nm.assert_state("after a reboot")
    note("hand edits: changed %s, the diff shows the edits going, the state is right after a reboot"
         % changed[host])


# -- NetworkManager stopped, restarted -------------------------------------------------

def test_networkmanager_stopped_before_a_run(nm):
    """On a host where the run would change things (endpoints flushed, limits
    reset, a hand edit), but NetworkManager is stopped: the run fails naming
    it and changes nothing; once it runs again the next run restores all."""
    nm.ensure()
    lab = nm.lab
    host = "client"
    lab.exec(host, ["systemctl", "stop", "NetworkManager"], check=True)
    try:
        break_behind_the_back(lab, host)
        lab.exec(host, ["sh", "-c", "echo 'net.mptcp.enabled=0' >> /etc/sysctl.d/90-enable-MPTCP.conf"], check=True)
        before = snapshot(lab, host)
        result = nm.run()
        after = snapshot(lab, host)
    finally:
        lab.exec(host, ["systemctl", "start", "NetworkManager"], check=True)
    assert result.rc != 0, tail(result)
    assert result.recap[host]["failed"] == 1 and result.recap[host]["changed"] == 0, result.recap
    failures = [line for line in result.output.splitlines() if line.startswith(("fatal: [%s]" % host, "[ERROR]"))
                or '"msg":' in line]
    assert any("NetworkManager" in line for line in failures), tail(result)
    assert before == after, "the failed run changed the host:\n" + "\n".join(diff_snapshots(before, after))
    note("NetworkManager stopped: %s fails with %s, nothing changed"
         % (host, [line.strip() for line in failures if "NetworkManager" in line][:1]))

    lab.exec(host, ["nm-online", "-s", "-q", "-t", "60"], check=True)
    nm.converge(what="after NetworkManager is back", rerun=True)


@pytest.mark.parametrize("delay", [0.0, 0.25])
def test_networkmanager_restarted_during_a_run(nm, tmp_path, delay):
    """permanent.yml from the disabled state; NetworkManager restarted on both
    hosts when the run reaches its profile task, and a quarter second later
    (NetworkManager then often comes back with the device assumed half-way
    through a change)."""
    nm.ensure(DISABLE)
    lab = nm.lab
    run = BackgroundPlaybook(lab, PERMANENT, tmp_path / "run.log")
    assert run.wait_for_output(NM_TASK, RUN_TIMEOUT), "the run never reached the profile task:\n" + run.output
    time.sleep(delay)
    restarts = [subprocess.Popen(LAB_TOOL + ["--lab", lab.name, "exec", host, "--", "systemctl", "restart",
                                             "NetworkManager"], cwd=ROOT) for host in HOSTS]
    for proc in restarts:
        assert proc.wait(timeout=120) == 0
    result = run.wait(RUN_TIMEOUT)
    assert_no_traceback(result)
    if result.rc != 0:
        # a failure must say that NetworkManager was the matter, as an error or a warning
        messages = [line.strip() for line in result.output.splitlines()
                    if '"msg":' in line or line.startswith(("[ERROR]", "[WARNING]"))]
        assert any("NetworkManager" in line for line in messages), tail(result)
        note("NetworkManager restarted %.2f s into the profile task: the run failed: %s" % (delay, messages[:3]))
    else:
        note("NetworkManager restarted %.2f s into the profile task: the run succeeded (changed %s)"
             % (delay, {host: counts["changed"] for host, counts in result.recap.items()}))
    for host in HOSTS:
        lab.exec(host, ["nm-online", "-s", "-q", "-t", "60"], check=True)
    nm.converge(what="after NetworkManager restarted during a run", rerun=True)


# -- two runs at once ------------------------------------------------------------------

def test_two_runs_at_once_end_in_the_wanted_state(nm, tmp_path):
    nm.ensure(DISABLE)
    runs = [BackgroundPlaybook(nm.lab, PERMANENT, tmp_path / ("run%d.log" % i)) for i in (1, 2)]
    results = [run.wait(RUN_TIMEOUT) for run in runs]  # each bounded: a hang fails here
    for result in results:
        assert_no_traceback(result)
    outcome = ["rc %d in %.1f s%s" % (r.rc, r.seconds, "" if r.rc == 0 else ": " + "; ".join(
        line.strip() for line in r.output.splitlines() if '"msg":' in line)[:400]) for r in results]
    note("two permanent.yml runs at once: " + " | ".join(outcome))
    nm.converge(what="after two runs at once", rerun=True)


# -- the controller killed at random points ---------------------------------------------

def test_killed_runs_leave_old_or_new_files_and_converge(nm, tmp_path):
    """ansible-playbook SIGKILLed (with everything it started) at KILLS points
    spread over the run, alternately during disable.yml (permanent ->
    disabled) and permanent.yml (back): after each kill every file the roles
    write is its old or its new version and nothing else is there, then the
    killed playbook converges (changed where the state was off) and a re-run
    changes nothing."""
    lab = nm.lab
    nm.ensure(DISABLE)
    disabled_files = {host: file_versions(snap) for host, snap in nm.snapshots().items()}
    nm.converge(PERMANENT, what="before the kills")
    permanent_files = {host: file_versions(snap) for host, snap in nm.snapshots().items()}
    if DISABLE not in nm.seconds:
        nm.converge(DISABLE, what="measure disable.yml")
        nm.converge(PERMANENT, what="measure disable.yml")
    durations = {PERMANENT: nm.seconds[PERMANENT], DISABLE: nm.seconds[DISABLE]}
    # per playbook killed: the files before it (old) and after it (new)
    versions = {DISABLE: (permanent_files, disabled_files), PERMANENT: (disabled_files, permanent_files)}
    rng = random.Random(SEED)
    plan = []
    for index in range(KILLS):
        playbook = (DISABLE, PERMANENT)[index % 2]
        slot, slots = index // 2, (KILLS + 1 - index % 2) // 2
        plan.append((playbook, round((slot + rng.random()) / slots * durations[playbook], 2)))
    note("kill plan (seed %d, full runs: permanent.yml %.1f s, disable.yml %.1f s): %s" % (
        SEED, durations[PERMANENT], durations[DISABLE],
        ", ".join("%s@%.2fs" % (p.split("/")[-1], t) for p, t in plan)))

    for index, (playbook, offset) in enumerate(plan):
        old, new = versions[playbook]
        run = BackgroundPlaybook(lab, playbook, tmp_path / ("kill%d.log" % index))
        time.sleep(max(0.0, run.started + offset - time.monotonic()))
        killed = run.kill()
        wait_gone(killed)
        for host in HOSTS:
            assert not module_processes(lab, host), "kill %d: module processes survive in %s" % (index, host)
        snaps = {host: snapshot(lab, host) for host in HOSTS}
        for host in HOSTS:
            problems = mixed_versions(file_versions(snaps[host]), old[host], new[host])
            assert not problems, "kill %d (%s at %.2f s), %s:\n%s\n%s" % (
                index, playbook, offset, host, "\n".join(problems), run.output[-3000:])
        leftovers = {host: len(ansible_leftovers(lab, host)) for host in HOSTS}
        last_task = ([line for line in run.output.splitlines() if line.startswith(("TASK", "RUNNING"))] or ["(none)"])[-1]

        result = nm.run(playbook)
        assert result.rc == 0, "converge after kill %d failed:\n%s" % (index, tail(result))
        for host in HOSTS:
            off = state(snaps[host]) != nm.states[playbook][host]
            assert (result.recap[host]["changed"] > 0) == off, (
                "kill %d: %s was %s the wanted state, yet the converge changed %s:\n%s" % (
                    index, host, "off" if off else "in", changed_tasks(result.output).get(host), tail(result)))
        nm.assert_state("after kill %d" % index, playbook)
        if not unchanged(result):  # a converge that changed nothing was its own re-run
            nm.assert_rerun_unchanged(playbook, "kill %d" % index)
        note("kill %d, %s@%.2fs: %d processes killed, last task %r, converge changed %s, Ansible tmp dirs left %s"
             % (index, playbook.split("/")[-1], offset, len(killed), last_task[:80].rstrip(" *"),
                {h: c["changed"] for h, c in result.recap.items()}, leftovers))
    for host in HOSTS:  # Ansible's own remote tmp dirs, which a killed controller leaves
        lab.exec(host, ["rm", "-rf", "/root/.ansible/tmp"], check=True)
