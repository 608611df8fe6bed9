import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._preflight import (
    advice,
    check_endpoints,
    check_limits,
    normalize_endpoints,
    resolve_backend,
)

INTERFACES = {"lo", "enp4s0f0", "enp4s0f1"}
KERNEL = (6, 18)


@pytest.mark.parametrize("limits, message", [
    ({"subflows": 9}, "limit subflows=9 is out of range"),
    ({"add_addr_accepted": -1}, "limit add_addr_accepted=-1 is out of range"),
    ({"subflow": 1}, "unknown limit(s) subflow"),
])
def test_check_limits_names_the_bad_value(limits, message):
    with pytest.raises(MptcpError) as error:
        check_limits(limits)
    assert message in str(error.value)


def test_check_limits_accepts_the_range():
    check_limits({"subflows": 0, "add_addr_accepted": 8})
    check_limits({})


def test_resolve_backend():
    assert resolve_backend("auto", "", True) == "networkmanager"
    assert resolve_backend("auto", "", False) == "runtime"
    assert resolve_backend("auto", "ns1", True) == "runtime"
    with pytest.raises(MptcpError):
        resolve_backend("networkmanager", "ns1", True)


@pytest.mark.parametrize("endpoint, backend, message", [
    ({"interface": "enp4s0f1", "flags": ["subflow"]}, "runtime", "runtime endpoints need an address"),
    ({"address": "198.51.100.2", "flags": ["also-without-default-route"]}, "runtime",
     "also-without-default-route not possible with the runtime backend"),
    ({"address": "198.51.100.2", "flags": ["signal", "fullmesh"]}, "runtime", "signal and fullmesh"),
    ({"address": "198.51.100.2", "port": 80, "flags": ["subflow"]}, "runtime", "a port needs flag signal"),
    ({"address": "::1", "flags": ["subflow"]}, "runtime", "loopback"),
    ({"interface": "wlan0", "flags": ["subflow"]}, "networkmanager", "interface 'wlan0' does not exist"),
    ({"address": "198.51.100.2", "flags": ["subflow"]}, "networkmanager", "need an interface or a profile"),
])
def test_check_endpoints_refuses(endpoint, backend, message):
    with pytest.raises(MptcpError) as error:
        check_endpoints([endpoint], backend, INTERFACES, KERNEL)
    assert message in str(error.value)


def test_check_endpoints_accepts_both_backends():
    check_endpoints([{"interface": "enp4s0f1", "flags": ["signal", "subflow", "also-without-default-route"]}],
                    "networkmanager", INTERFACES, KERNEL)
    check_endpoints([{"address": "198.51.100.2", "interface": "enp4s0f1", "port": 8080, "flags": ["signal"]}],
                    "runtime", INTERFACES, KERNEL)


def test_advice_warns_about_what_silently_does_nothing():
    endpoints = [{"interface": "enp4s0f0", "address": "192.0.2.2", "flags": ["subflow"]},
                 {"interface": "enp4s0f1", "address": "2001:db8::2", "flags": ["subflow", "also-without-default-route"]}]
    warnings = advice(endpoints, "networkmanager", {"subflows": 1, "add_addr_accepted": 0}, 1, set())
    text = "\n".join(warnings)
    assert "2 subflow endpoints but a subflows limit of 1" in text
    assert "the peers announce 1 address(es) (signal endpoints) but add_addr_accepted is 0" in text
    assert "endpoints mix IPv4 and IPv6" in text
    assert "interface enp4s0f0 has no default route" in text
    assert "enp4s0f1 has no default route" not in text


def test_advice_is_quiet_for_a_sound_plan():
    endpoints = [{"interface": "enp4s0f0", "address": "192.0.2.2", "flags": ["subflow"]}]
    assert advice(endpoints, "networkmanager", {"subflows": 2, "add_addr_accepted": 1}, 1, {"enp4s0f0"}) == []


def test_normalize_endpoints_per_backend():
    endpoints = [{"interface": "enp4s0f1", "address": "198.51.100.2"},
                 {"profile": "wifi", "flags": ["backup"]}]
    assert normalize_endpoints(endpoints, "networkmanager", ["subflow"]) == [
        {"interface": "enp4s0f1", "flags": ["subflow"]}, {"profile": "wifi", "flags": ["backup"]}]
    assert normalize_endpoints(endpoints[:1], "runtime", ["signal"]) == [
        {"address": "198.51.100.2", "dev": "enp4s0f1", "flags": ["signal"]}]


@pytest.mark.parametrize("peers, accepted, warned", [
    (0, 0, False),   # nobody announces anything
    (1, 0, True),    # the one announcement is refused
    (2, 1, False),   # one of the two may be the address already in use
    (3, 1, True),    # at least one announcement is surely refused
    (3, 2, False),
])
def test_advice_on_announcements_allows_for_the_address_in_use(peers, accepted, warned):
    warnings = advice([], "runtime", {"add_addr_accepted": accepted}, peers, set())
    assert any("add_addr_accepted is %d" % accepted in warning for warning in warnings) == warned
