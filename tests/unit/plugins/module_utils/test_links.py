import json

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._links import (
    addresses,
    default_route_interfaces,
    endpoints,
    parse_addresses,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoints import describe_endpoint

# `ip -j address show` of a dual-stack link, shortened to the fields read.
DUAL_STACK = [
    {"ifname": "lo", "addr_info": [
        {"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host"},
        {"family": "inet6", "local": "::1", "prefixlen": 128, "scope": "host"}]},
    {"ifname": "link1", "addr_info": [
        {"family": "inet", "local": "192.0.2.2", "prefixlen": 24, "scope": "global"},
        {"family": "inet6", "local": "2001:db8:1::2", "prefixlen": 64, "scope": "global"},
        {"family": "inet6", "local": "2001:db8:1::99", "prefixlen": 64, "scope": "global", "temporary": True},
        {"family": "inet6", "local": "fd00::2", "prefixlen": 64, "scope": "global"},
        {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"}]},
    {"ifname": "down0"},
]


def test_only_global_addresses_are_endpoint_candidates():
    parsed = parse_addresses(DUAL_STACK)
    assert [(entry["interface"], entry["address"]) for entry in parsed if entry["endpoint_candidate"]] == [
        ("link1", "192.0.2.2"), ("link1", "2001:db8:1::2")]
    assert {entry["address"]: entry["family"] for entry in parsed if entry["interface"] == "link1"}[
        "2001:db8:1::2"] == "ipv6"
    assert len(parsed) == 7  # an interface without addresses adds none


def runner(outputs):
    """A run_command stand-in answering each argv with (rc, stdout, stderr)."""
    def run_command(argv):
        return outputs[tuple(argv)]
    return run_command


def test_addresses_reads_ip_json():
    run_command = runner({("ip", "-j", "address", "show"): (0, json.dumps(DUAL_STACK), "")})
    assert [entry["address"] for entry in addresses(run_command)][:2] == ["127.0.0.1", "::1"]


@pytest.mark.parametrize("result, message", [
    ((1, "", "Object \"address\" is unknown"), "ip -j address show failed (rc=1): Object"),
    ((0, "not json", ""), "ip -j address show printed no JSON: 'not json'"),
])
def test_addresses_failures_are_clear(result, message):
    with pytest.raises(MptcpError, match=message.replace("(", r"\(").replace(")", r"\)")):
        addresses(runner({("ip", "-j", "address", "show"): result}))


def test_default_route_interfaces_of_both_families_and_multipath_routes():
    run_command = runner({
        ("ip", "-j", "-4", "route", "show", "default"): (0, '[{"dst": "default", "dev": "link1"}]', ""),
        ("ip", "-j", "-6", "route", "show", "default"): (
            0, '[{"dst": "default", "nexthops": [{"dev": "link2"}, {"dev": "link3"}]}]', ""),
    })
    assert default_route_interfaces(run_command) == {"link1", "link2", "link3"}


def test_ip_endpoint_json_with_raw_flags():
    text = json.dumps([
        {"address": "192.0.2.1", "id": 1, "signal": True, "subflow": True, "dev": "link1"},
        {"address": "2001:db8:0::1", "id": 2, "port": 7000, "signal": True},
        {"address": "198.51.100.1", "id": 3, "rawflags": "0x30"},
    ])
    listed = endpoints(runner({("ip", "-j", "mptcp", "endpoint", "show"): (0, text, "")}))
    assert listed == [
        {"id": 1, "address": "192.0.2.1", "port": 0, "dev": "link1", "flags": ["signal", "subflow"]},
        {"id": 2, "address": "2001:db8::1", "port": 7000, "dev": None, "flags": ["signal"]},
        {"id": 3, "address": "198.51.100.1", "port": 0, "dev": None, "flags": ["implicit", "laminar"]},
    ]
    assert [describe_endpoint(endpoint) for endpoint in listed] == [
        "192.0.2.1 signal subflow dev link1", "2001:db8::1 port 7000 signal", "198.51.100.1 implicit laminar"]


@pytest.mark.parametrize("result, message", [
    ((2, "", "Error: no MPTCP here"), "ip -j mptcp endpoint show failed (rc=2): Error: no MPTCP here"),
    ((0, "Error: ...", ""), "ip -j mptcp endpoint show printed no JSON: 'Error: ...'"),
])
def test_endpoint_listing_failures_are_clear(result, message):
    with pytest.raises(MptcpError) as error:
        endpoints(runner({("ip", "-j", "mptcp", "endpoint", "show"): result}))
    assert message in str(error.value)
