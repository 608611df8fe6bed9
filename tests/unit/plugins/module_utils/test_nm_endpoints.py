"""NetworkManager's endpoint rules, as mptcp_nm_profile models them to notice
endpoints removed behind NetworkManager's back."""

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._links import parse_addresses
from ansible_collections.mptcp.multipath.plugins.module_utils._nmcli import (
    encode_nm_flags,
    missing_nm_endpoints,
    nm_addresses,
    nm_device_endpoints,
)

SEED = encode_nm_flags(["signal", "subflow", "also-without-default-route"])
ADDRESSES = ["192.0.2.1", "2001:db8::1", "fd00::1", "fe80::1", "127.0.0.2"]


def test_seed_flags_make_signal_subflow_endpoints_for_global_addresses_only():
    assert nm_device_endpoints(SEED, True, [], ADDRESSES) == {
        "192.0.2.1": ["signal", "subflow"], "2001:db8::1": ["signal", "subflow"]}


def test_default_flags_are_not_modelled():
    # 0x0 follows NetworkManager's global default, which the module cannot read
    assert nm_device_endpoints(0, True, [4, 6], ADDRESSES) is None


@pytest.mark.parametrize("names, enabled, families, wanted", [
    (["disabled"], True, [4, 6], {}),
    (["signal", "subflow"], False, [4, 6], {}),  # the sysctl is 0
    (["signal", "subflow", "also-without-sysctl", "also-without-default-route"], False, [],
     {"192.0.2.1": ["signal", "subflow"], "2001:db8::1": ["signal", "subflow"]}),
    (["subflow"], True, [4], {"192.0.2.1": ["subflow"]}),  # a default route for IPv4 only
    (["enabled"], True, [6], {"2001:db8::1": []}),  # no endpoint flags: endpoints without flags
    (["signal", "fullmesh", "also-without-default-route"], True, [], {  # fullmesh dropped beside signal
        "192.0.2.1": ["signal"], "2001:db8::1": ["signal"]}),
])
def test_networkmanager_rules(names, enabled, families, wanted):
    assert nm_device_endpoints(encode_nm_flags(names), enabled, families, ADDRESSES) == wanted


def test_only_addresses_networkmanager_configured_count():
    links = [{"ifname": "link1", "addr_info": [
        {"family": "inet", "local": "192.0.2.1", "noprefixroute": True},
        {"family": "inet", "local": "192.0.2.77"},  # added by hand: NetworkManager makes no endpoint
        {"family": "inet6", "local": "2001:db8::1", "noprefixroute": True},
        {"family": "inet6", "local": "2001:db8::2", "noprefixroute": True, "tentative": True},
        {"family": "inet6", "local": "2001:db8::3", "noprefixroute": True, "temporary": True},
        {"family": "inet6", "local": "2001:db8::4", "noprefixroute": True, "dadfailed": True},
    ]}]
    assert nm_addresses(parse_addresses(links)) == ["192.0.2.1", "2001:db8::1"]


@pytest.mark.parametrize("endpoints, missing", [
    ([], ["192.0.2.1", "2001:db8::1"]),  # flushed
    ([{"address": "192.0.2.1", "port": 0, "dev": "link1", "flags": ["signal", "subflow"]},
      {"address": "2001:db8::1", "port": 0, "dev": "link1", "flags": ["subflow", "signal"]}], []),
    ([{"address": "192.0.2.1", "port": 0, "dev": "link1", "flags": ["signal"]},  # flags changed by hand
      {"address": "2001:db8::1", "port": 0, "dev": "link2", "flags": ["signal", "subflow"]}],  # wrong device
     ["192.0.2.1", "2001:db8::1"]),
    ([{"address": "192.0.2.1", "port": 7000, "dev": "link1", "flags": ["signal", "subflow"]},  # a user's, with port
      {"address": "2001:db8::1", "port": 0, "dev": "link1", "flags": ["signal", "subflow", "implicit"]}],
     ["192.0.2.1", "2001:db8::1"]),
])
def test_missing_endpoints(endpoints, missing):
    wanted = {"192.0.2.1": ["signal", "subflow"], "2001:db8::1": ["signal", "subflow"]}
    assert missing_nm_endpoints(wanted, endpoints, "link1") == missing
