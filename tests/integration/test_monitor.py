"""mptcp_monitor against a real kernel in the netns lab: seed 34.5 (one
MPTCP connection, a subflow added and removed through an endpoint, the
connection closed) seen as events, plus the failures. The playbook
(playbooks/mptcp_monitor.yml) runs the monitors and the endpoint changes;
this test opens and ends the connection in step with it."""

import os
import subprocess
import sys
import time

from conftest import HERE, run_playbook
from netns_lab import transfer_argv

from ansible_collections.mptcp.multipath.plugins.module_utils import _genl, _monitor, _pm

PLAYBOOK = os.path.join(HERE, "playbooks", "mptcp_monitor.yml")


def event_group_id():
    """The multicast group id of mptcp_pm_events (generic netlink ids are
    the same in every network namespace)."""
    with _genl.GenlSocket() as genl:
        return genl.resolve(_pm.FAMILY_NAME)[1][_monitor.GROUP_NAME]


def event_listeners(lab, group):
    """How many sockets of the namespace joined the group (/proc/net/netlink
    shows the first 32 groups of each socket as a bit mask)."""
    count = 0
    for line in lab.exec(lab.client, ["cat", "/proc/net/netlink"]).stdout.splitlines()[1:]:
        fields = line.split()
        if fields[1] == str(_genl.NETLINK_GENERIC) and int(fields[3], 16) >> (group - 1) & 1:
            count += 1
    return count


def wait(condition, playbook, what, log_path, timeout=90):
    deadline = time.monotonic() + timeout
    while not condition():
        assert playbook.poll() is None, "the playbook ended while waiting for %s:\n%s" % (
            what, log_path.read_text()[-20000:])
        assert time.monotonic() < deadline, "timed out waiting for %s" % what
        time.sleep(0.1)


def test_mptcp_monitor_sees_a_connection_and_its_subflow(lab, interpreter, tmp_path):
    connected, removed = tmp_path / "connected", tmp_path / "removed"
    log_path = tmp_path / "playbook.log"
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
               "-i", lab.inventory(str(tmp_path / "inventory.json"), interpreter), PLAYBOOK, "--tags", "lifecycle",
               "-e", "monitor_connected_file=%s" % connected, "-e", "monitor_removed_file=%s" % removed]
    group = event_group_id()
    with open(str(log_path), "w") as log:
        playbook = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        # Events before a monitor's socket is open are lost: start the connection
        # only once both monitors of the playbook listen.
        if group <= 32:
            wait(lambda: event_listeners(lab, group) >= 2, playbook, "the two monitors to listen", log_path)
        else:
            time.sleep(5)
        ready = tmp_path / "ready"
        receiver = lab.spawn(lab.server, transfer_argv(interpreter, "receive", "--bind", "0.0.0.0",
                                                       "--ready-file", str(ready), "--timeout", "120"))
        wait(ready.exists, playbook, "the receiver", log_path)
        sender = lab.spawn(lab.client, transfer_argv(interpreter, "send", "--connect", lab.links[0][1].split("/")[0],
                                                     "--bytes", "64K", "--linger", "120", "--timeout", "120"))
        wait(lambda: "ESTAB" in lab.exec(lab.client, ["ss", "-HMn"]).stdout, playbook, "the MPTCP connection", log_path)
        connected.write_text("connected\n")
        wait(removed.exists, playbook, "the playbook to add and remove the subflow endpoint", log_path)
        sender.terminate()  # closing the connection is what the first monitor waits for
        sender.wait(timeout=10)
        receiver.wait(timeout=10)
        returncode = playbook.wait(timeout=120)
    finally:
        if playbook.poll() is None:
            playbook.kill()
            playbook.wait()
    output = log_path.read_text()
    assert returncode == 0, "mptcp_monitor.yml failed:\n%s" % output[-20000:]
    assert "ok=" in output and "failed=0" in output
    # the endpoint is gone again and nothing is left listening to the events
    assert lab.exec(lab.client, ["ip", "mptcp", "endpoint", "show"]).stdout.strip() == ""
    if group <= 32:
        assert event_listeners(lab, group) == 0


def test_mptcp_monitor_failures_and_bad_input(lab, interpreter, tmp_path):
    result = run_playbook("mptcp_monitor.yml", lab.inventory(str(tmp_path / "inventory.json"), interpreter),
                          "--tags", "errors")
    # the play's three assert tasks ran (timeout, check mode, each refusal) and passed
    assert result.stdout.count("All assertions passed") == 3, result.stdout[-20000:]
