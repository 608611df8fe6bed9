"""The modules on the oldest managed-host Python they support: RHEL 8's
Python 3.6, with ansible-core 2.16 (the last that drives 3.6 hosts) and
pyroute2 0.7 (the last line that installs on 3.6), against the real kernel
in throwaway network namespaces, with the integration tests' own playbooks
(make core-target-python).

Run with .venv-core/2.16/bin/pytest: its ansible-playbook is the controller.
The Python 3.6 interpreter is pyenv's (MPTCP_TARGET_PYTHONS, as for
tests/core/sanity); its venv is made once under .venv-core/py3.6."""

import json
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from netns_lab import NetnsPair, transfer_argv  # noqa: E402  pylint: disable=wrong-import-position

PLAYBOOKS = os.path.join(ROOT, "tests", "integration", "playbooks")
PYTHONS = os.environ.get("MPTCP_TARGET_PYTHONS", "/root/.pyenv/versions")
VENV = os.path.join(ROOT, ".venv-core", "py3.6")
# pip 21.3.1 is the last for 3.6; the venv's own pip 18 cannot resolve pyroute2's deps.
PACKAGES = ["pip==21.3.1", "pyroute2==0.7.12"]


@pytest.fixture(scope="module")
def python36():
    python = os.path.join(VENV, "bin", "python")
    stamp = os.path.join(VENV, ".installed-" + "-".join(PACKAGES))
    if not os.path.exists(stamp):
        found = sorted(name for name in os.listdir(PYTHONS) if name.startswith("3.6.")) \
            if os.path.isdir(PYTHONS) else []
        assert found, "no Python 3.6 under %s (set MPTCP_TARGET_PYTHONS)" % PYTHONS
        subprocess.run(["rm", "-rf", VENV], check=True)
        subprocess.run([os.path.join(PYTHONS, found[-1], "bin", "python3.6"), "-m", "venv", VENV], check=True)
        for package in PACKAGES:
            subprocess.run([python, "-m", "pip", "install", "-q", package], check=True)
        open(stamp, "w").close()
    version = subprocess.run([python, "-c", "import sys, pkg_resources; print('%d.%d' % sys.version_info[:2], "
                              "pkg_resources.get_distribution('pyroute2').version)"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert version == ["3.6", "0.7.12"], version
    return python


@pytest.fixture
def lab():
    with NetnsPair(prefix="mptcp-py36", links=2) as pair:
        yield pair


def playbook(name, inventory, *extra):
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
               os.path.join(PLAYBOOKS, name)] + list(extra)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, "%s failed:\n%s\n%s" % (name, result.stdout[-20000:], result.stderr[-5000:])
    assert "[DEPRECATION WARNING]: Ansible will require Python" not in result.stderr
    return result


def test_controller_is_ansible_core_2_16():
    from ansible.release import __version__  # pylint: disable=import-outside-toplevel
    assert __version__.startswith("2.16."), __version__


def test_sysctl(lab, python36, tmp_path):
    sysctl_file = tmp_path / "90-enable-MPTCP.conf"
    playbook("mptcp_sysctl.yml", lab.inventory(str(tmp_path / "inventory.json"), python36),
             "-e", "sysctl_test_file=%s" % sysctl_file)
    assert lab.exec(lab.server, ["sysctl", "-n", "net.mptcp.enabled"]).stdout.strip() == "1"


def test_limits(lab, python36, tmp_path):
    playbook("mptcp_limits.yml", lab.inventory(str(tmp_path / "inventory.json"), python36))
    assert lab.exec(lab.server, ["ip", "mptcp", "limits", "show"]).stdout.split() == [
        "add_addr_accepted", "1", "subflows", "3"]


def test_endpoint(lab, python36, tmp_path):
    playbook("mptcp_endpoint.yml", lab.inventory(str(tmp_path / "inventory.json"), python36))
    assert json.loads(lab.exec(lab.server, ["ip", "-j", "mptcp", "endpoint", "show"]).stdout) == []


def test_info_sees_a_live_connection(lab, python36, tmp_path):
    """As tests/integration does: a connection with a second subflow stays
    open while the playbook reads it (sock_diag, counters, bytes per link)."""
    server_link2 = lab.links[1]
    lab.exec(lab.server, ["ip", "mptcp", "endpoint", "add", server_link2[1].split("/", maxsplit=1)[0],
                          "dev", server_link2[0], "signal"])
    lab.exec(lab.client, ["ip", "mptcp", "limits", "set", "add_addr_accepted", "1"])
    ready = tmp_path / "ready"
    # the traffic comes from this machine's Python; the module under test runs on 3.6
    receiver = lab.spawn(lab.server, transfer_argv(sys.executable, "receive", "--bind", "0.0.0.0",
                                                   "--ready-file", str(ready)))
    deadline = time.monotonic() + 10
    while not ready.exists():
        assert receiver.poll() is None and time.monotonic() < deadline, "receiver did not start"
        time.sleep(0.05)
    sender = lab.spawn(lab.client, transfer_argv(sys.executable, "send", "--connect",
                                                 lab.links[0][1].split("/", maxsplit=1)[0], "--bytes", "1M",
                                                 "--linger", "60"))
    deadline = time.monotonic() + 10
    while "subflows:1" not in lab.exec(lab.client, ["ss", "-HMni"]).stdout:
        assert sender.poll() is None and time.monotonic() < deadline, "no second subflow came up"
        time.sleep(0.1)
    playbook("mptcp_info.yml", lab.inventory(str(tmp_path / "inventory.json"), python36))


def test_the_verify_roles_transfer_tool_runs_on_python_3_6(lab, python36, tmp_path):
    """mptcp.multipath.mptcp_verify copies this tool (module_utils/_transfer.py
    and what it imports) to the hosts and runs it with their Python: a real
    transfer between the namespaces, on 3.6 at both ends."""
    ready = tmp_path / "ready"
    receiver = lab.spawn(lab.server, transfer_argv(python36, "receive", "--bind", "0.0.0.0",
                                                   "--ready-file", str(ready)))
    deadline = time.monotonic() + 10
    while not ready.exists():
        assert receiver.poll() is None and time.monotonic() < deadline, \
            "receiver did not start: %s" % (receiver.communicate()[1] if receiver.poll() is not None else "")
        time.sleep(0.05)
    argv = ["ip", "netns", "exec", lab.client] + transfer_argv(
        python36, "send", "--connect", lab.links[0][1].split("/", maxsplit=1)[0], "--bytes", "1M")
    sender = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert sender.returncode == 0, sender.stderr
