import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._preflight import (
    advice,
    check_default_flags,
    check_endpoints,
    check_interfaces,
    check_limits,
    check_service_name,
    check_sysctl_file,
    normalize_endpoints,
    resolve_backend,
)

INTERFACES = {"lo", "enp4s0f0", "enp4s0f1"}
KERNEL = (6, 18)


@pytest.mark.parametrize("limits, message", [
    ({"subflows": 9}, "mptcp_limits.subflows=9 is out of range"),
    ({"add_addr_accepted": -1}, "mptcp_limits.add_addr_accepted=-1 is out of range"),
    ({"subflow": 1}, "mptcp_limits: unknown limit(s) subflow"),
    ({"subflows": "3"}, "mptcp_limits.subflows must be a whole number from 0 to 8, not '3'"),
])
def test_check_limits_names_the_variable_and_the_bad_value(limits, message):
    with pytest.raises(MptcpError) as error:
        check_limits(limits, "mptcp_limits")
    assert message in str(error.value)


def test_check_limits_accepts_the_range():
    assert check_limits({"subflows": 0, "add_addr_accepted": 8}) == {"subflows": 0, "add_addr_accepted": 8}
    assert check_limits({"subflows": 3, "add_addr_accepted": None}) == {"subflows": 3}
    assert check_limits({}) == {}


def test_resolve_backend():
    assert resolve_backend("auto", "", True) == "networkmanager"
    assert resolve_backend("auto", "", False) == "runtime"
    assert resolve_backend("auto", "ns1", True) == "runtime"
    with pytest.raises(MptcpError) as error:
        resolve_backend("networkmanager", "ns1", True, "mptcp_endpoints_backend")
    assert "mptcp_endpoints_backend is networkmanager, but endpoints in a network namespace (ns1)" in str(error.value)


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


# -- one normalizer for both backends (issue 12), the role's names in messages --

ROLE = "mptcp_endpoints"


def refused(endpoints, backend, profiles=None, name=ROLE):
    with pytest.raises(MptcpError) as error:
        check_endpoints(endpoints, backend, INTERFACES, KERNEL, name, profiles)
    return str(error.value)


@pytest.mark.parametrize("backend", ["runtime", "networkmanager"])
@pytest.mark.parametrize("address, message", [
    ("not-an-ip", "mptcp_endpoints[0].address 'not-an-ip' is not a valid IPv4 or IPv6 address"),
    ("192.0.2.300", "mptcp_endpoints[0].address '192.0.2.300' is not a valid"),
    ("", "mptcp_endpoints[0].address '' is not a valid"),
    ("fe80::1%enp4s0f0", "mptcp_endpoints[0].address 'fe80::1%enp4s0f0' has a zone index"),
    ("2001:db8::1%enp4s0f0", "mptcp_endpoints[0].address '2001:db8::1%enp4s0f0' has a zone index"),
    ("127.0.0.1", "mptcp_endpoints[0].address 127.0.0.1 is a loopback address"),
])
def test_bad_addresses_are_refused_on_both_backends(backend, address, message):
    assert message in refused([{"interface": "enp4s0f1", "address": address, "flags": ["subflow"]}], backend)


@pytest.mark.parametrize("backend", ["runtime", "networkmanager"])
@pytest.mark.parametrize("endpoint, message", [
    ({"address": "198.51.100.2", "interface": "", "flags": ["subflow"]},
     "mptcp_endpoints[0].interface is empty"),
    ({"address": "198.51.100.2", "interface": "eth9", "flags": ["subflow"]},
     "mptcp_endpoints[0].interface 'eth9' does not exist here; interfaces: enp4s0f0, enp4s0f1, lo"),
    ({"address": "198.51.100.2", "interface": "enp4s0f1", "flags": ["signal", "fullmesh", "subflow"]},
     "mptcp_endpoints[0]: flags signal and fullmesh cannot be combined"),
    ({"address": "198.51.100.2", "interface": "enp4s0f1", "flags": ["fullmesh"]},
     "mptcp_endpoints[0]: flag fullmesh needs flag subflow"),
    ({"address": "198.51.100.2", "interface": "enp4s0f1", "flags": ["sigal"]},
     "mptcp_endpoints[0].flags: unknown endpoint flag(s) sigal"),
])
def test_interfaces_and_flags_are_checked_on_both_backends(backend, endpoint, message):
    assert message in refused([endpoint], backend)


@pytest.mark.parametrize("endpoints, message", [
    ([{"address": "198.51.100.2"}, {"address": "198.51.100.2"}],
     "mptcp_endpoints: address 198.51.100.2 is listed more than once"),
    ([{"address": "198.51.100.2"}, {"address": "2001:DB8::2"}, {"address": "2001:db8::2"}],
     "mptcp_endpoints: address 2001:db8::2 is listed more than once"),
    ([{"address": "192.0.2.2", "id": 5}, {"address": "198.51.100.2", "id": 5}],
     "mptcp_endpoints: endpoint id 5 is listed more than once"),
    ([{"address": "198.51.100.2", "id": 0}], "mptcp_endpoints[0].id 0 is out of range"),
    ([{"address": "198.51.100.2", "id": 256}], "mptcp_endpoints[0].id 256 is out of range"),
    ([{"address": "198.51.100.2", "port": 70000, "flags": ["signal"]}], "mptcp_endpoints[0].port 70000 is out of range"),
    ([{"address": "192.0.2.%d" % n} for n in range(1, 10)], "mptcp_endpoints lists 9 endpoints; the kernel allows at most 8"),
    ([{"interface": "enp4s0f1", "flags": ["subflow"]}], "mptcp_endpoints[0]: runtime endpoints need an address"),
    ([{"address": "198.51.100.2", "flags": ["also-without-sysctl"]}],
     "mptcp_endpoints[0].flags: also-without-sysctl not possible with the runtime backend"),
])
def test_runtime_endpoints_refused(endpoints, message):
    assert message in refused(endpoints, "runtime")


@pytest.mark.parametrize("endpoints, message", [
    ([{"interface": "enp4s0f1"}, {"interface": "enp4s0f1", "flags": ["backup"]}],
     "mptcp_endpoints: interface enp4s0f1 is listed more than once"),
    ([{"profile": "wifi"}, {"profile": "wifi"}], "mptcp_endpoints: profile wifi is listed more than once"),
    ([{"profile": "nosuch"}], "mptcp_endpoints[0].profile 'nosuch': NetworkManager has no such profile; profiles: wifi"),
    ([{"profile": ""}], "mptcp_endpoints[0].profile is empty"),
    ([{"interface": "enp4s0f1", "profile": "wifi"}],
     "mptcp_endpoints[0] names interface enp4s0f1 and profile wifi: give one of them"),
    ([{"flags": ["subflow"]}], "mptcp_endpoints[0]: networkmanager endpoints need an interface or a profile"),
])
def test_networkmanager_endpoints_refused(endpoints, message):
    assert message in refused(endpoints, "networkmanager", profiles=["wifi"])


def test_check_endpoints_returns_normalized_addresses():
    checked = check_endpoints([{"interface": "enp4s0f1", "address": " 2001:DB8::2 ", "flags": ["subflow"]}],
                              "networkmanager", INTERFACES, KERNEL, ROLE)
    assert checked == [{"interface": "enp4s0f1", "address": "2001:db8::2", "flags": ["subflow"]}]
    # NetworkManager endpoints have no ids or ports: they are not checked (nor used)
    check_endpoints([{"interface": "enp4s0f1", "id": 999, "port": 0}], "networkmanager", INTERFACES, KERNEL)
    # a profile is not checked when NetworkManager's profiles are not known
    check_endpoints([{"profile": "anything"}], "networkmanager", INTERFACES, KERNEL, ROLE, None)


def test_check_endpoints_takes_flags_as_ansible_writes_them():
    checked = check_endpoints([{"address": "198.51.100.2", "flags": "signal, subflow"}], "runtime",
                              INTERFACES, KERNEL)
    assert checked[0]["address"] == "198.51.100.2"


@pytest.mark.parametrize("flags, backend, message", [
    (["signal", "fullmesh"], "runtime", "mptcp_endpoint_default_flags: flags signal and fullmesh cannot be combined"),
    (["also-without-sysctl"], "runtime", "mptcp_endpoint_default_flags: flag(s) also-without-sysctl not possible"),
    (["bogus"], "networkmanager", "mptcp_endpoint_default_flags: flag(s) bogus not possible"),
])
def test_check_default_flags_names_their_variable(flags, backend, message):
    with pytest.raises(MptcpError) as error:
        check_default_flags(flags, backend, KERNEL, "mptcp_endpoint_default_flags")
    assert message in str(error.value)


def test_check_default_flags_accepts():
    assert check_default_flags(["signal", "subflow", "also-without-default-route"], "networkmanager", KERNEL) == [
        "signal", "subflow", "also-without-default-route"]
    assert check_default_flags(None, "runtime", KERNEL) == []


def test_advice_never_fails_on_what_is_not_an_address():
    # it used to hand such a value to ipaddress unguarded (networkmanager backend)
    endpoints = [{"interface": "enp4s0f0", "address": "not-an-ip", "flags": ["subflow"]},
                 {"interface": "enp4s0f1", "address": "198.51.100.2", "flags": ["subflow"]}]
    assert advice(endpoints, "networkmanager", {"subflows": 2}, 0, {"enp4s0f0", "enp4s0f1"}) == []


@pytest.mark.parametrize("names, message", [
    (["eth9"], "mptcp_nm_disabled_interfaces[0]: interface 'eth9' does not exist here"),
    (["lo", ""], "mptcp_nm_disabled_interfaces[1] is empty"),
])
def test_check_interfaces(names, message):
    with pytest.raises(MptcpError) as error:
        check_interfaces(names, INTERFACES, "mptcp_nm_disabled_interfaces")
    assert message in str(error.value)
    check_interfaces(["lo", "enp4s0f0"], INTERFACES, "mptcp_nm_disabled_interfaces")


@pytest.mark.parametrize("path, message", [
    ("", "mptcp_sysctl_file '' must be an absolute path"),
    ("sysctl.d/90.conf", "must be an absolute path"),
    ("/etc/sysctl.d/90-mptcp", "must end in .conf"),
    ("/nonexistent/90-mptcp.conf", "directory /nonexistent does not exist"),
])
def test_check_sysctl_file(path, message):
    with pytest.raises(MptcpError) as error:
        check_sysctl_file(path, "mptcp_sysctl_file", isdir=lambda path: path == "/etc/sysctl.d")
    assert message in str(error.value)
    check_sysctl_file("/etc/sysctl.d/90-enable-MPTCP.conf", isdir=lambda path: path == "/etc/sysctl.d")


@pytest.mark.parametrize("unit, good", [
    ("set_mptcp_limit.service", True),
    ("mptcp-limits@host.service", True),
    ("../../tmp/evil.service", False),
    ("set_mptcp_limit", False),
    ("set_mptcp_limit.socket", False),
    ("", False),
    (None, False),
    ("a b.service", False),
])
def test_check_service_name(unit, good):
    if good:
        check_service_name(unit, "mptcp_limits_unit")
    else:
        with pytest.raises(MptcpError) as error:
            check_service_name(unit, "mptcp_limits_unit")
        assert "mptcp_limits_unit %r is not a systemd service name" % (unit,) in str(error.value)
