"""One manager of endpoints per host (issue 10, item 4), on real lab hosts
where the other manager really runs: NetworkManager (every lab host runs it;
the client's link1 holds the default route, so NetworkManager adds a
`subflow` endpoint there by itself), mptcpd (installed from Debian's own
packages and started) and endpoints made by hand.

A combination that would fight is refused before the first change (before
and after snapshots are equal) with a message naming the variable, the
manager and how to switch it off; the runtime backend on a NetworkManager
host takes NetworkManager's hands off its links and then stays converged
across NetworkManager's link events."""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import LAB_TOOL, ROOT, diff_snapshots
from test_bad_inputs import assert_refused_by_name

LAB = "mgr-lab"
ENABLE = "playbooks/enable.yml"
# enable.yml (34.2) leaves the paths alone; these tests give it endpoints to
# manage, through the backend each test names, permanently
PERMANENT_PATHS = {"mptcp_paths": "permanent"}
# Debian 12's mptcpd and what it needs beyond the lab image; the lab hosts
# have no network of their own, so the packages are fetched here with apt
# (this machine is Debian 12 too) and installed inside with dpkg.
MPTCPD_PACKAGES = ("mptcpd", "mptcpd-plugins", "libmptcpd3", "libell0")
DEB_CACHE = Path(os.environ.get("MPTCP_LAB_CACHE", "/var/cache/mptcp-lab")) / "debs-mptcpd"


def endpoints(lab, host):
    """The kernel's endpoints as {(address, flags...)}: the ids are the kernel's choice."""
    return sorted((entry["address"],) + tuple(sorted(key for key, value in entry.items() if value is True))
                  for entry in lab.snapshot(host, with_content=False)["endpoints"])


def profile_flags(lab, host, profile):
    result = lab.exec(host, ["nmcli", "-g", "connection.mptcp-flags", "connection", "show", profile], check=True)
    return int(result.stdout.strip(), 0)


def runtime_vars(lab, host, **more):
    """The runtime backend with one endpoint on the host's link2 (no default route there)."""
    link2 = lab.hostvars(host)["mptcp_lab_interfaces"]["link2"]["address"]
    result = dict(PERMANENT_PATHS, mptcp_endpoints_backend="runtime",
                  mptcp_endpoints=[{"address": link2, "interface": "link2", "flags": ["subflow"]}])
    result.update(more)
    return result


def assert_refused_unchanged(lab, host, extra_vars, expected):
    before = lab.snapshot(host)
    result = lab.playbook(ENABLE, extra_vars=extra_vars, limit=host)
    after = lab.snapshot(host)
    messages = assert_refused_by_name(result, expected)
    changes = diff_snapshots(before, after)
    assert changes == [], "%s changed:\n%s\n%s" % (host, "\n".join(changes), result.output)
    print("refused in %.1f s" % result.seconds)
    return messages


@pytest.fixture(scope="module")
def lab(lab_factory):
    return lab_factory(LAB)


@pytest.fixture(scope="module")
def mptcpd_debs():
    DEB_CACHE.mkdir(parents=True, exist_ok=True)
    debs = sorted(DEB_CACHE.glob("*.deb"))
    if len(debs) < len(MPTCPD_PACKAGES):
        subprocess.run(["apt-get", "download"] + list(MPTCPD_PACKAGES), cwd=DEB_CACHE, check=True,
                       capture_output=True, text=True)
        debs = sorted(DEB_CACHE.glob("*.deb"))
    assert len(debs) == len(MPTCPD_PACKAGES), debs
    return debs


def install_and_start_mptcpd(lab, host, debs):
    for deb in debs:
        subprocess.run(LAB_TOOL + ["--lab", lab.name, "exec", host, "--", "sh", "-c", 'cat > "/tmp/$1"', "-",
                                   deb.name], input=deb.read_bytes(), check=True, capture_output=True, cwd=ROOT)
    lab.exec(host, ["dpkg", "-i"] + ["/tmp/%s" % deb.name for deb in debs], check=True, timeout=300)
    lab.exec(host, ["systemctl", "enable", "--now", "mptcp.service"], check=True)
    assert lab.exec(host, ["systemctl", "is-active", "mptcp.service"]).stdout.strip() == "active"


# -- NetworkManager and the runtime backend (client: default route on link1) --

def test_runtime_beside_networkmanager_without_hands_off_is_refused(lab):
    # NetworkManager really handles MPTCP there: its own endpoint for the default-route link
    assert ("192.0.2.2", "subflow") in endpoints(lab, "client")
    assert profile_flags(lab, "client", "link1") == 0
    messages = assert_refused_unchanged(lab, "client", runtime_vars(lab, "client", mptcp_nm_hands_off=False), [
        "mptcp_endpoints_backend=runtime", "mptcp_nm_hands_off=false", "link1 (profile link1)",
        "connection.mptcp-flags disabled && nmcli device reapply link1", "mptcp_nm_hands_off=true"])
    assert "link2 (profile" not in messages   # no default route there: NetworkManager adds nothing


def test_runtime_takes_networkmanager_hands_off_and_stays_converged(lab):
    wanted = [("198.51.100.2", "subflow")]
    result = lab.playbook(ENABLE, extra_vars=runtime_vars(lab, "client"), limit="client")
    assert result.rc == 0, result.output
    print("converged in %.1f s" % result.seconds)
    assert profile_flags(lab, "client", "link1") == 0x1
    assert profile_flags(lab, "client", "link2") == 0   # not NetworkManager's business there
    assert endpoints(lab, "client") == wanted, result.output
    # NetworkManager's link events: a reapply, and the link down long enough to deactivate it, then up
    lab.exec("client", ["nmcli", "device", "reapply", "link1"], check=True)
    lab.link("link1", "down")
    lab.link("link1", "up")
    assert endpoints(lab, "client") == wanted
    again = lab.playbook(ENABLE, extra_vars=runtime_vars(lab, "client"), limit="client")
    assert again.rc == 0, again.output
    assert again.recap["client"]["changed"] == 0, again.output
    assert endpoints(lab, "client") == wanted
    print("re-run in %.1f s" % again.seconds)


def test_systemd_backend_takes_networkmanager_hands_off_and_stays_converged(lab):
    # NetworkManager back in charge of link1, as on a host that never saw the runtime backend
    lab.exec("client", ["nmcli", "connection", "modify", "link1", "connection.mptcp-flags", "0x0"], check=True)
    lab.exec("client", ["nmcli", "device", "reapply", "link1"], check=True)
    assert ("192.0.2.2", "subflow") in endpoints(lab, "client")
    wanted = [("198.51.100.2", "subflow")]
    systemd = runtime_vars(lab, "client", mptcp_endpoints_backend="systemd")
    result = lab.playbook(ENABLE, extra_vars=systemd, limit="client")
    assert result.rc == 0, result.output
    assert profile_flags(lab, "client", "link1") == 0x1
    assert endpoints(lab, "client") == wanted, result.output
    lab.exec("client", ["nmcli", "device", "reapply", "link1"], check=True)
    lab.link("link1", "down")
    lab.link("link1", "up")
    again = lab.playbook(ENABLE, extra_vars=systemd, limit="client")
    assert again.rc == 0, again.output
    assert again.recap["client"]["changed"] == 0, again.output
    assert endpoints(lab, "client") == wanted


# -- mptcpd (server), against every backend -----------------------------------

@pytest.fixture(scope="module")
def server_with_mptcpd(lab, mptcpd_debs):
    install_and_start_mptcpd(lab, "server", mptcpd_debs)
    return lab


@pytest.mark.parametrize("backend", ["networkmanager", "runtime", "systemd"])
def test_a_running_mptcpd_is_refused_before_any_change(server_with_mptcpd, backend):
    lab = server_with_mptcpd
    extra_vars = runtime_vars(lab, "server", mptcp_endpoints_backend=backend)
    if backend == "networkmanager":
        extra_vars["mptcp_endpoints"] = [{"interface": "link2", "flags": ["signal", "also-without-default-route"]}]
    assert_refused_unchanged(lab, "server", extra_vars, [
        "mptcp_endpoints_backend=%s" % backend, "mptcpd (mptcp.service) is running",
        "systemctl disable --now mptcp.service"])


# -- endpoints made by hand (server, mptcpd switched off as the message says) --

def test_hand_made_endpoints_warn_where_they_stay_and_go_where_the_set_is_exact(server_with_mptcpd):
    lab = server_with_mptcpd
    lab.exec("server", ["systemctl", "disable", "--now", "mptcp.service"], check=True)
    link1 = lab.hostvars("server")["mptcp_lab_interfaces"]["link1"]["address"]
    link2 = lab.hostvars("server")["mptcp_lab_interfaces"]["link2"]["address"]
    lab.exec("server", ["ip", "mptcp", "endpoint", "add", link2, "id", "7", "signal", "dev", "link2"], check=True)
    # networkmanager never removes kernel endpoints: the hand-made one stays, with a warning
    nm_vars = {"mptcp_paths": "permanent", "mptcp_endpoints_backend": "networkmanager",
               "mptcp_endpoints": [{"interface": "link1", "flags": ["signal", "also-without-default-route"]}]}
    result = lab.playbook(ENABLE, extra_vars=nm_vars, limit="server")
    assert result.rc == 0, result.output
    assert "%s id 7 signal dev link2" % link2 in result.output, result.output
    assert "ip mptcp endpoint delete id 7" in result.output, result.output
    assert endpoints(lab, "server") == sorted([(link1, "signal"), (link2, "signal")])
    # the runtime backend keeps exactly its set: the hand-made endpoint goes without a word, and
    # NetworkManager, which now makes link1's endpoint, gets its hands off link1
    runtime = {"mptcp_paths": "permanent", "mptcp_endpoints_backend": "runtime",
               "mptcp_endpoints": [{"address": link1, "interface": "link1", "flags": ["signal"]}]}
    result = lab.playbook(ENABLE, extra_vars=runtime, limit="server")
    assert result.rc == 0, result.output
    assert "ip mptcp endpoint delete" not in result.output, result.output
    assert endpoints(lab, "server") == [(link1, "signal")]
    assert profile_flags(lab, "server", "link1") == 0x1
    again = lab.playbook(ENABLE, extra_vars=runtime, limit="server")
    assert again.rc == 0 and again.recap["server"]["changed"] == 0, again.output
