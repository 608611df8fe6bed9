"""mptcp_nm_ignore_carrier (issue 21, item 4) on the lab: playbooks/permanent.yml
with the option on keeps the planned links' NetworkManager profiles up when
they lose carrier, and has the kernel skip their routes meanwhile.

On a lab of its own (sys-carrier, two-links; the fullmesh topology so that
the client has an endpoint on each of its links): check mode with --diff
shows the two files and changes nothing; a real run writes them on both
hosts (NetworkManager's drop-in for link1 and link2, their
ignore_routes_with_linkdown 1 for IPv4 and IPv6, now and in the sysctl.d
file); link1 cut at the server's end only, so that the client merely loses
carrier, leaves the client's link1 profile activated with its address and
endpoint after longer than NetworkManager's ~5 s, while its routes, kept and
marked linkdown, are no longer taken (a default destination does not go by
link1); with link1 back, a second run changes nothing; the option off, and
then the disabled state (playbooks/disable.yml), remove the files and put
the sysctls back to 0."""

import json
import time

import pytest

from _fault_support import PERMANENT
from mptcp_lab.util import wait_for

LAB = "sys-carrier"
LINKS = ("link1", "link2")
DROP_IN = "/etc/NetworkManager/conf.d/90-mptcp-ignore-carrier.conf"
SYSCTL_FILE = "/etc/sysctl.d/90-mptcp-linkdown-routes.conf"
KEYS = ["net.%s.conf.%s.ignore_routes_with_linkdown" % (family, link) for link in LINKS for family in ("ipv4", "ipv6")]
ON = {"mptcp_topology": "fullmesh", "mptcp_nm_ignore_carrier": True}
OFF = {"mptcp_topology": "fullmesh", "mptcp_nm_ignore_carrier": False}
# longer than NetworkManager's ~5 s without carrier before it deactivates a profile (5-7 s measured)
CUT_SECONDS = 8
# a destination only the default route (the client's, on link1) leads to
ELSEWHERE = "203.0.113.99"


@pytest.fixture(scope="module")
def lab(lab_factory):
    lab = lab_factory(LAB)
    yield lab
    lab.down()


def converge(lab, extra_vars, **kwargs):
    result = lab.playbook(PERMANENT, extra_vars=extra_vars, timeout=600, **kwargs)
    assert result.rc == 0, result.output[-6000:]
    return result


def out(lab, host, argv):
    return lab.exec(host, argv, check=True).stdout


def files(lab, host):
    """The two files' content, None where absent."""
    found = {}
    for path in (DROP_IN, SYSCTL_FILE):
        result = lab.exec(host, ["cat", path])
        found[path] = result.stdout if result.returncode == 0 else None
    return found


def sysctls(lab, host):
    return dict(zip(KEYS, out(lab, host, ["sysctl", "-n"] + KEYS).split()))


def endpoints(lab, host):
    return sorted((endpoint["address"], endpoint.get("dev")) for endpoint in
                  json.loads(out(lab, host, ["ip", "-j", "mptcp", "endpoint", "show"]))
                  if "implicit" not in endpoint.get("flags", []))


def addresses(lab, host, link):
    return [entry["local"] for item in json.loads(out(lab, host, ["ip", "-j", "address", "show", "dev", link]))
            for entry in item["addr_info"] if entry["scope"] == "global"]


def route_get(lab, host, destination):
    result = lab.exec(host, ["ip", "route", "get", destination])
    return (result.stdout + result.stderr).strip()


def profile_state(lab, host, profile):
    return lab.exec(host, ["nmcli", "-g", "GENERAL.STATE", "connection", "show", profile]).stdout.strip()


def test_ignore_carrier_keeps_the_planned_links_up_without_their_routes(lab):
    started = time.monotonic()
    hosts = ("server", "client")

    # check mode on fresh hosts: the files shown, nothing written
    check = converge(lab, ON, check=True, diff=True)
    assert "ignore-carrier=yes" in check.output and "match-device=interface-name:link1;interface-name:link2" in check.output
    assert "net.ipv6.conf.link2.ignore_routes_with_linkdown = 1" in check.output
    for host in hosts:
        assert files(lab, host) == {DROP_IN: None, SYSCTL_FILE: None}, host
        assert set(sysctls(lab, host).values()) == {"0"}, host

    converge(lab, ON)
    for host in hosts:
        written = files(lab, host)
        assert ("[device-mptcp-ignore-carrier]\nmatch-device=interface-name:link1;interface-name:link2\n"
                "ignore-carrier=yes\n") in written[DROP_IN], written
        assert [line for line in written[SYSCTL_FILE].splitlines() if not line.startswith("#")] == [
            "%s = 1" % key for key in KEYS], written
        assert sysctls(lab, host) == dict.fromkeys(KEYS, "1"), host
    before = endpoints(lab, "client")
    assert [dev for _address, dev in before].count("link1") == 1, before
    link1_addresses = addresses(lab, "client", "link1")
    assert link1_addresses, "no address on the client's link1"
    assert "dev link1" in route_get(lab, "client", ELSEWHERE)

    # link1 cut at the server's end: the client loses carrier only
    lab.exec("server", ["ip", "link", "set", "dev", "link1", "down"], check=True)
    try:
        wait_for(lambda: "NO-CARRIER" in out(lab, "client", ["ip", "link", "show", "dev", "link1"]), 10,
                 "the client's link1 without carrier")
        time.sleep(CUT_SECONDS)
        assert profile_state(lab, "client", "link1") == "activated"
        assert addresses(lab, "client", "link1") == link1_addresses
        assert endpoints(lab, "client") == before
        # the profile keeps its routes, marked linkdown, and the kernel takes none of them
        assert "linkdown" in out(lab, "client", ["ip", "route", "show", "dev", "link1"])
        for destination in (ELSEWHERE, "198.51.100.1"):
            assert "dev link1" not in route_get(lab, "client", destination), destination
    finally:
        lab.link("link1", "up")

    second = converge(lab, ON)
    assert {host: counts["changed"] for host, counts in second.recap.items()} == dict.fromkeys(hosts, 0), second.recap

    # the option off, and the disabled state, remove what it made
    for playbook, extra_vars in ((PERMANENT, OFF), (PERMANENT, ON), ("playbooks/disable.yml", None)):
        result = lab.playbook(playbook, extra_vars=extra_vars, timeout=600)
        assert result.rc == 0, result.output[-6000:]
        on = extra_vars is ON
        for host in hosts:
            present = files(lab, host)
            assert sysctls(lab, host) == dict.fromkeys(KEYS, "1" if on else "0"), (playbook, extra_vars, host)
            if on:
                assert None not in present.values(), (playbook, extra_vars, host, present)
            else:
                assert present == {DROP_IN: None, SYSCTL_FILE: None}, (playbook, extra_vars, host, present)
    print("CARRIER: test run time %.1f s" % (time.monotonic() - started))
