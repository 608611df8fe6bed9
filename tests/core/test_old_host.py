"""The oldest managed host reachable here: Debian 11 (Python 3.9, pyroute2
0.5.14, NetworkManager 1.30), as a lab host (tests/lab/images/debian11.yml).

What needs neither pyroute2's MPTCP socket nor NetworkManager's
connection.mptcp-flags works there, on Python 3.9, for real; the modules that
need them refuse with one clear line that names the version needed, without
a traceback and without changing anything (make core-old-host)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_TOOL = os.path.join(ROOT, "tests", "lab", "mptcp-lab")
LAB = os.environ.get("MPTCP_TEST_LAB_PREFIX", "") + "oldhost"
BIN = os.path.dirname(sys.executable)
SYSCTL_FILE = "/etc/sysctl.d/90-mptcp-oldhost-test.conf"


def lab(*args, check=True):
    result = subprocess.run([sys.executable, LAB_TOOL, "--lab", LAB] + list(args),
                            capture_output=True, text=True, check=False)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def on_host(*command):
    return lab("exec", "server", "--", *command).stdout.strip()


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    lab("down", check=False)
    lab("up", "--image", "debian11", "--topology", "two-links")
    try:
        path = tmp_path_factory.mktemp("oldhost") / "inventory.yml"
        path.write_text(lab("inventory").stdout)
        yield str(path)
    finally:
        lab("down")


def ad_hoc(inventory, module, args, *extra):
    """One module on the server, as a user runs it; returns (rc, result dict, stdout)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="true", ANSIBLE_LOAD_CALLBACK_PLUGINS="true",
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_NOCOLOR="1")
    result = subprocess.run([os.path.join(BIN, "ansible"), "server", "-i", inventory, "-m", module,
                             "-a", json.dumps(args)] + list(extra), capture_output=True, text=True, env=env,
                            check=False)
    output = json.loads(result.stdout)
    (task,) = output["plays"][0]["tasks"]
    return result.returncode, task["hosts"]["server"], result.stdout + result.stderr


def test_the_host_is_what_it_claims_to_be(inventory):
    assert on_host("python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])") == "3.9"
    assert on_host("python3", "-c", "import importlib.metadata as m; print(m.version('pyroute2'))") == "0.5.14"
    assert on_host("nmcli", "--version").split()[-1].startswith("1.30.")


def test_what_needs_no_pyroute2_works_on_python_3_9(inventory):
    assert on_host("sysctl", "-n", "net.mptcp.enabled") == "1"
    args = {"name": "net.mptcp.enabled", "value": 0, "sysctl_file": SYSCTL_FILE}
    rc, result, output = ad_hoc(inventory, "mptcp.multipath.mptcp_sysctl", args, "--check")
    assert rc == 0 and result["changed"], output
    assert on_host("sysctl", "-n", "net.mptcp.enabled") == "1"
    rc, result, output = ad_hoc(inventory, "mptcp.multipath.mptcp_sysctl", args)
    assert rc == 0 and result["changed"], output
    assert on_host("sysctl", "-n", "net.mptcp.enabled") == "0"
    assert "net.mptcp.enabled = 0" in on_host("cat", SYSCTL_FILE).splitlines()
    rc, result, output = ad_hoc(inventory, "mptcp.multipath.mptcp_sysctl", args)
    assert rc == 0 and not result["changed"], output
    rc, result, output = ad_hoc(inventory, "mptcp.multipath.mptcp_info", {"gather": ["sysctls"]})
    assert rc == 0 and result["enabled"] is False, output
    # the limits and endpoints are read with the standard library (no pyroute2 0.7 needed to read)
    rc, result, output = ad_hoc(inventory, "mptcp.multipath.mptcp_info", {"gather": ["limits", "endpoints"]})
    limits = on_host("ip", "mptcp", "limits", "show").split()
    assert rc == 0 and result["limits"] == dict(zip(limits[::2], map(int, limits[1::2]))), output
    assert [endpoint["address"] for endpoint in result["endpoints"]] == [
        line.split()[0] for line in on_host("ip", "mptcp", "endpoint", "show").splitlines() if line.strip()], output


# a change of the limits (the kernel's default subflows is 2) and an endpoint: both go through pyroute2
@pytest.mark.parametrize("module, args", [
    ("mptcp.multipath.mptcp_limits", {"subflows": 3}),
    ("mptcp.multipath.mptcp_endpoint", {"address": "192.0.2.1", "dev": "link1", "flags": ["signal"]}),
])
def test_what_needs_pyroute2_mptcp_refuses_naming_the_version(inventory, module, args):
    limits_before = on_host("ip", "mptcp", "limits", "show")
    endpoints_before = on_host("ip", "mptcp", "endpoint", "show")
    for extra in (["--check"], []):
        rc, result, output = ad_hoc(inventory, module, args, *extra)
        assert rc != 0 and result.get("failed"), output
        message = result["msg"]
        assert "pyroute2 0.5.14" in message and "needs pyroute2 0.7 or newer" in message, message
        assert "\n" not in message and "Traceback" not in output, output
    assert on_host("ip", "mptcp", "limits", "show") == limits_before
    assert on_host("ip", "mptcp", "endpoint", "show") == endpoints_before


def test_networkmanager_without_mptcp_flags_is_refused_naming_the_version(inventory):
    flags_before = on_host("nmcli", "-g", "ipv4.addresses,connection.autoconnect", "connection", "show", "link1")
    for extra in (["--check"], []):
        rc, result, output = ad_hoc(inventory, "mptcp.multipath.mptcp_nm_profile",
                                    {"interface": "link1", "flags": ["signal", "subflow"]}, *extra)
        assert rc != 0 and result.get("failed"), output
        assert result["msg"].startswith("NetworkManager 1.30.") and "needs 1.40 or newer" in result["msg"], output
        assert "Traceback" not in output, output
    assert on_host("nmcli", "-g", "ipv4.addresses,connection.autoconnect", "connection", "show", "link1") \
        == flags_before


def host_state():
    """What permanent.yml and temporary.yml would change on the server."""
    return {command[-1]: on_host(*command) for command in (
        ["sysctl", "-n", "net.mptcp.enabled"], ["ip", "mptcp", "limits", "show"],
        ["ip", "mptcp", "endpoint", "show"], ["ls", "-A", "/etc/sysctl.d", "/etc/systemd/system"],
        ["nmcli", "-t", "-f", "NAME,UUID", "connection", "show"])}


@pytest.mark.parametrize("playbook, message", [
    # the networkmanager backend: NetworkManager 1.30 is named first
    ("playbooks/permanent.yml", "NetworkManager 1.30"),
    # the runtime backend: pyroute2 0.5.14 is named
    ("playbooks/temporary.yml", "pyroute2 0.5.14"),
])
def test_the_roles_refuse_before_the_first_change(inventory, playbook, message):
    before = host_state()
    for extra in (["--check"], []):
        env = dict(os.environ, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="true", ANSIBLE_NOCOLOR="1")
        result = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, "--limit", "server",
                                 os.path.join(ROOT, playbook)] + extra, capture_output=True, text=True, env=env,
                                check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert message in output and "Traceback" not in output, output
        # the preflight is the first task of the role to fail, and nothing before it changed
        assert "changed=0" in output and "failed=1" in output, output
    assert host_state() == before
