"""Each module's integration playbook against a real kernel in namespaces.
The playbooks assert on return values and on `ip mptcp` / sysctl; these
tests add what only the outside can see (the host untouched, the final
kernel state)."""

import json
import os
import subprocess
import sys
import time

from conftest import run_playbook
from netns_lab import transfer_argv


def host_state():
    with open("/proc/sys/net/mptcp/enabled") as enabled:
        return enabled.read(), os.listdir("/etc/sysctl.d") if os.path.isdir("/etc/sysctl.d") else []


def kernel_endpoints(lab, namespace):
    return json.loads(lab.exec(namespace, ["ip", "-j", "mptcp", "endpoint", "show"]).stdout)


def test_mptcp_sysctl(lab, interpreter, tmp_path):
    before = host_state()
    sysctl_file = tmp_path / "90-enable-MPTCP.conf"
    run_playbook("mptcp_sysctl.yml", lab.inventory(str(tmp_path / "inventory.json"), interpreter),
                 "-e", "sysctl_test_file=%s" % sysctl_file)
    assert host_state() == before, "the test changed the host's own MPTCP settings"
    assert lab.exec(lab.server, ["sysctl", "-n", "net.mptcp.enabled"]).stdout.strip() == "1"
    assert not sysctl_file.exists()


def test_mptcp_limits(lab, interpreter, tmp_path):
    run_playbook("mptcp_limits.yml", lab.inventory(str(tmp_path / "inventory.json"), interpreter))
    assert lab.exec(lab.server, ["ip", "mptcp", "limits", "show"]).stdout.split() == [
        "add_addr_accepted", "1", "subflows", "3"]
    # the client namespace was not touched
    assert lab.exec(lab.client, ["ip", "mptcp", "limits", "show"]).stdout.split() == [
        "add_addr_accepted", "0", "subflows", "2"]


def test_mptcp_endpoint(lab, interpreter, tmp_path):
    run_playbook("mptcp_endpoint.yml", lab.inventory(str(tmp_path / "inventory.json"), interpreter))
    assert kernel_endpoints(lab, lab.server) == []


def test_mptcp_info_sees_a_live_connection(lab, interpreter, tmp_path):
    server_link2 = lab.links[1]
    lab.exec(lab.server, ["ip", "mptcp", "endpoint", "add", server_link2[1].split("/", maxsplit=1)[0],
                          "dev", server_link2[0], "signal"])
    lab.exec(lab.client, ["ip", "mptcp", "limits", "set", "add_addr_accepted", "1"])
    ready = tmp_path / "ready"
    receiver = lab.spawn(lab.server, transfer_argv(interpreter, "receive", "--bind", "0.0.0.0",
                                                   "--ready-file", str(ready)))
    deadline = time.monotonic() + 10
    while not ready.exists():
        assert receiver.poll() is None and time.monotonic() < deadline, "receiver did not start"
        time.sleep(0.05)
    # a small transfer, then the connection stays open while the playbook looks at it
    sender = lab.spawn(lab.client, transfer_argv(interpreter, "send", "--connect", lab.links[0][1].split("/", maxsplit=1)[0],
                                                 "--bytes", "1M", "--linger", "60"))
    deadline = time.monotonic() + 10
    while "subflows:1" not in lab.exec(lab.client, ["ss", "-HMni"]).stdout:
        assert sender.poll() is None and time.monotonic() < deadline, "no second subflow came up"
        time.sleep(0.1)
    run_playbook("mptcp_info.yml", lab.inventory(str(tmp_path / "inventory.json"), interpreter))


def test_missing_pyroute2_is_reported(lab, tmp_path):
    """A managed host without pyroute2 gets Ansible's missing-library message."""
    bare_python = tmp_path / "bare"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(bare_python)], check=True)
    inventory = lab.inventory(str(tmp_path / "inventory.json"), str(bare_python / "bin" / "python"))
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible"), "-i", inventory, "server",
         "-m", "mptcp.multipath.mptcp_limits", "-a", "subflows=3 namespace=%s" % lab.server],
        capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "Failed to import the required Python library (pyroute2)" in result.stdout
    assert lab.exec(lab.server, ["ip", "mptcp", "limits", "show"]).stdout.split()[-1] == "2"
