import os

import pytest
import yaml

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._preflight import (
    ROLE_VARIABLES,
    advice,
    check_backend_available,
    check_default_flags,
    check_endpoints,
    check_ignore_carrier,
    check_interfaces,
    check_sysctl_file,
    declared_endpoints,
    endpoint_owners,
    manager_conflicts,
    module_endpoints,
    mptcpd_running,
    nm_adds_endpoints,
    read_links,
    read_nm_devices,
    resolve_backend,
    signal_count,
)
from ansible_collections.mptcp.multipath.plugins.modules import mptcp_preflight

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))

INTERFACES = {"lo", "enp4s0f0", "enp4s0f1"}
KERNEL = (6, 18)


def test_auto_refuses_networkmanager_enabled_but_stopped():
    with pytest.raises(MptcpError, match="mptcp_endpoints_backend is auto, and NetworkManager is enabled"):
        resolve_backend("auto", "", False, "mptcp_endpoints_backend", True, nm_enabled=True)
    assert resolve_backend("systemd", "", False, "b", True, nm_enabled=True) == "systemd"
    assert resolve_backend("auto", "", False, "b", True, nm_enabled=False) == "systemd"


def test_resolve_backend():
    assert resolve_backend("auto", "", True) == "networkmanager"
    # no NetworkManager: the persistent systemd backend (runtime only when asked for)
    assert resolve_backend("auto", "", False) == "systemd"
    assert resolve_backend("runtime", "", False) == "runtime"
    # nothing persistent can work without either (e.g. a container without systemd)
    assert resolve_backend("auto", "", False, systemd_running=False) == "runtime"
    assert resolve_backend("auto", "ns1", True) == "runtime"
    assert resolve_backend("auto", "ns1", False) == "runtime"
    with pytest.raises(MptcpError) as error:
        resolve_backend("networkmanager", "ns1", True, "mptcp_endpoints_backend")
    assert "mptcp_endpoints_backend is networkmanager, but endpoints in a network namespace (ns1)" in str(error.value)
    with pytest.raises(MptcpError) as error:
        resolve_backend("systemd", "ns1", False, "mptcp_endpoints_backend")
    assert "mptcp_endpoints_backend is systemd, but endpoints in a network namespace (ns1)" in str(error.value)


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
    nm_endpoint = {"interface": "enp4s0f1", "flags": ["signal", "subflow", "also-without-default-route"]}
    # NetworkManager's own flags are kept; without an address there is nothing to normalize
    assert check_endpoints([nm_endpoint], "networkmanager", INTERFACES, KERNEL) == [
        {"interface": "enp4s0f1", "flags": ["signal", "subflow", "also-without-default-route"]}]
    kernel_endpoints = [
        {"address": "198.51.100.2", "interface": "enp4s0f1", "port": 8080, "flags": ["signal"]},
        {"address": "2001:DB8:0::2", "interface": "enp4s0f0", "flags": ["subflow", "backup"]},
    ]
    # the same endpoints back, each address in its one spelling; the caller's dicts are left alone
    assert check_endpoints(kernel_endpoints, "runtime", INTERFACES, KERNEL) == [
        {"address": "198.51.100.2", "interface": "enp4s0f1", "port": 8080, "flags": ["signal"]},
        {"address": "2001:db8::2", "interface": "enp4s0f0", "flags": ["subflow", "backup"]},
    ]
    assert kernel_endpoints[1]["address"] == "2001:DB8:0::2"


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


def test_module_endpoints_per_backend():
    endpoints = [{"interface": "enp4s0f1", "address": "198.51.100.2", "flags": ["subflow"]},
                 {"profile": "wifi", "flags": ["backup"]}]
    assert module_endpoints(endpoints, "networkmanager") == [
        {"interface": "enp4s0f1", "flags": ["subflow"]}, {"profile": "wifi", "flags": ["backup"]}]
    assert module_endpoints(endpoints[:1], "runtime") == [
        {"address": "198.51.100.2", "dev": "enp4s0f1", "flags": ["subflow"]}]


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


@pytest.mark.parametrize("flags, backend, message", [
    (["signal", "fullmesh"], "runtime", "mptcp_endpoint_default_flags: flags signal and fullmesh cannot be combined"),
    (["also-without-sysctl"], "runtime", "mptcp_endpoint_default_flags: also-without-sysctl not possible with the "
                                         "runtime backend (NetworkManager only)"),
    (["subflow", "also-without-default-route"], "systemd", "mptcp_endpoint_default_flags: also-without-default-route "
                                                           "not possible with the systemd backend"),
])
def test_check_default_flags_names_their_variable(flags, backend, message):
    with pytest.raises(MptcpError) as error:
        check_default_flags(flags, backend, KERNEL, "mptcp_endpoint_default_flags")
    assert message in str(error.value)


def test_check_default_flags_accepts():
    assert check_default_flags(["signal", "subflow", "also-without-default-route"], "networkmanager", KERNEL) == [
        "signal", "subflow", "also-without-default-route"]
    assert check_default_flags([], "runtime", KERNEL) == []


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


# -- one manager per host (manager_conflicts) ---------------------------------
OWNER = {"192.0.2.2": "link1", "198.51.100.2": "link2", "203.0.113.2": "link3"}


def nm_device(interface, flags=0x0, default_route=False):
    return {"interface": interface, "profile": interface, "uuid": "uuid-" + interface, "flags": flags,
            "default_route": default_route}


def kernel_endpoint(address, flags, endpoint_id, dev=None):
    return {"id": endpoint_id, "address": address, "port": 0, "dev": dev, "flags": flags}


# A client as NetworkManager leaves it: link1 holds the default route (its
# profile's flags at the default), link2 has none.
CLIENT_NM = [nm_device("link1", default_route=True), nm_device("link2")]
NM_ENDPOINT = kernel_endpoint("192.0.2.2", ["subflow"], 1, "link1")
RUNTIME_LINK2 = [{"address": "198.51.100.2", "dev": "link2", "flags": ["subflow"]}]


def conflicts(backend, nm=(), mptcpd=False, kernel=(), declared=(), exclusive=True, hands_off=True, state="enabled"):
    return manager_conflicts(backend, state, list(nm), mptcpd, list(kernel), list(declared), OWNER,
                             exclusive, hands_off)


@pytest.mark.parametrize("device, adds", [
    (nm_device("link1", 0x0, True), True),          # the default: enabled,subflow with a default route
    (nm_device("link1", 0x0, False), False),        # no default route: nothing
    (nm_device("link1", 0x1, True), False),         # disabled
    (nm_device("link1", 0x2 | 0x20 | 0x8, False), True),   # also-without-default-route
    (nm_device("link1", 0x2 | 0x20, True), True),
])
def test_nm_adds_endpoints(device, adds):
    assert nm_adds_endpoints(device) is adds


@pytest.mark.parametrize("backend", ["networkmanager", "runtime", "systemd"])
def test_a_running_mptcpd_is_refused_beside_every_backend(backend):
    result = conflicts(backend, mptcpd=True)
    assert len(result["errors"]) == 1
    message = result["errors"][0]
    assert "mptcp_endpoints_backend=%s" % backend in message
    assert "mptcpd (mptcp.service) is running" in message
    assert "systemctl disable --now mptcp.service" in message


def test_mptcpd_only_warns_when_disabling():
    result = conflicts("runtime", mptcpd=True, state="disabled", nm=CLIENT_NM, kernel=[NM_ENDPOINT])
    assert result["errors"] == [] and result["hands_off"] == [] and result["undeclared"] == []
    assert len(result["warnings"]) == 1 and "systemctl disable --now mptcp.service" in result["warnings"][0]


@pytest.mark.parametrize("backend", ["runtime", "systemd"])
def test_kernel_backends_take_networkmanager_hands_off_the_default_route_link(backend):
    result = conflicts(backend, nm=CLIENT_NM, kernel=[NM_ENDPOINT], declared=RUNTIME_LINK2)
    assert result["errors"] == [] and result["warnings"] == []
    # link2 has no default route: NetworkManager adds nothing there
    assert result["hands_off"] == [{"interface": "link1", "profile": "link1", "uuid": "uuid-link1"}]
    # NetworkManager's endpoint goes with the hands-off: not "undeclared"
    assert result["undeclared"] == []


def test_hands_off_switched_off_is_a_refusal_naming_profiles_and_commands():
    result = conflicts("runtime", nm=CLIENT_NM, kernel=[NM_ENDPOINT], declared=RUNTIME_LINK2, hands_off=False)
    assert result["hands_off"] == []
    assert len(result["errors"]) == 1
    message = result["errors"][0]
    for part in ("mptcp_endpoints_backend=runtime", "mptcp_nm_hands_off=false", "link1 (profile link1)",
                 "nmcli connection modify uuid-link1 connection.mptcp-flags disabled && nmcli device reapply link1",
                 "mptcp_nm_hands_off=true", "mptcp_endpoints_backend=networkmanager"):
        assert part in message
    assert "link2" not in message


def test_not_exclusive_owns_only_the_links_of_its_endpoints():
    # the endpoint is on link2: NetworkManager may keep link1, and its endpoint there is its own
    result = conflicts("runtime", nm=CLIENT_NM, kernel=[NM_ENDPOINT], declared=RUNTIME_LINK2, exclusive=False,
                       hands_off=False)
    assert result == {"errors": [], "warnings": [], "hands_off": [], "undeclared": []}
    # on link1 it would fight
    on_link1 = [{"address": "192.0.2.2", "flags": ["signal"]}]
    result = conflicts("runtime", nm=CLIENT_NM, kernel=[NM_ENDPOINT], declared=on_link1, exclusive=False)
    assert [device["interface"] for device in result["hands_off"]] == ["link1"]


def test_disabled_profiles_and_hosts_without_networkmanager_need_no_hands_off():
    quiet = [nm_device("link1", 0x1, True), nm_device("link2")]
    assert conflicts("runtime", nm=quiet, declared=RUNTIME_LINK2) == {
        "errors": [], "warnings": [], "hands_off": [], "undeclared": []}
    assert conflicts("systemd", declared=RUNTIME_LINK2, hands_off=False)["errors"] == []


def test_networkmanager_backend_needs_no_hands_off():
    result = conflicts("networkmanager", nm=CLIENT_NM, kernel=[NM_ENDPOINT],
                       declared=[{"interface": "link2", "flags": ["subflow"]}], hands_off=False)
    assert result == {"errors": [], "warnings": [], "hands_off": [], "undeclared": []}


HAND_MADE = kernel_endpoint("203.0.113.2", ["signal"], 7, "link3")
IMPLICIT = kernel_endpoint("198.51.100.2", ["implicit"], 9)


def test_undeclared_endpoints_removed_anyway_are_no_conflict():
    result = conflicts("runtime", kernel=[HAND_MADE, IMPLICIT], declared=RUNTIME_LINK2)
    assert result["errors"] == [] and result["warnings"] == []
    assert result["undeclared"] == [HAND_MADE]


def test_undeclared_endpoints_that_stay_are_a_warning_with_the_command():
    result = conflicts("runtime", kernel=[HAND_MADE, IMPLICIT], declared=RUNTIME_LINK2, exclusive=False)
    assert result["errors"] == [] and result["undeclared"] == [HAND_MADE]
    assert len(result["warnings"]) == 1
    warning = result["warnings"][0]
    assert "203.0.113.2 id 7 signal dev link3" in warning
    assert "mptcp_endpoints_exclusive is false" in warning
    assert "ip mptcp endpoint delete id 7" in warning
    assert "198.51.100.2" not in warning   # the kernel's implicit endpoint is nobody's business


def test_networkmanager_backend_warns_about_endpoints_it_will_never_remove():
    # link2 is declared (NetworkManager's from now on), link1 makes its default-route endpoint,
    # link3's endpoint was made by hand (its profile adds none: no default route)
    nm = CLIENT_NM + [nm_device("link3")]
    no_dev = kernel_endpoint("203.0.113.2", ["signal"], 7)   # dev found through the address
    result = conflicts("networkmanager", nm=nm, declared=[{"interface": "link2", "flags": ["signal"]}],
                       kernel=[NM_ENDPOINT, kernel_endpoint("198.51.100.2", ["signal"], 2, "link2"), no_dev])
    assert result["errors"] == [] and result["undeclared"] == [no_dev]
    assert len(result["warnings"]) == 1
    assert "nor made by NetworkManager" in result["warnings"][0]
    assert "never removes kernel endpoints" in result["warnings"][0]
    assert "ip mptcp endpoint delete id 7" in result["warnings"][0]


def test_both_rivals_are_named_at_once():
    result = conflicts("runtime", nm=CLIENT_NM, mptcpd=True, declared=RUNTIME_LINK2, hands_off=False)
    assert len(result["errors"]) == 2


def test_signal_count_applies_each_peers_default_flags_once():
    endpoints = [{"interface": "eth1"}, {"interface": "eth2", "flags": ["subflow"]},
                 {"interface": "eth3", "flags": "signal,backup"}]
    assert signal_count(endpoints, ["signal", "subflow"]) == 2
    assert signal_count(endpoints, []) == 1
    assert signal_count([], ["signal"]) == 0


def test_signal_count_never_fails_on_a_peers_mistakes():
    assert signal_count(["not a dict", {"flags": None}], "signal") == 1
    assert signal_count(None, ["signal"]) == 0


# -- read_links: the role's mptcp_links with the host's real addresses ----------
HOST_ADDRESSES = [
    {"interface": "link1", "address": "192.0.2.2", "prefix": 24, "endpoint_candidate": True},
    {"interface": "link1", "address": "fe80::1", "endpoint_candidate": False},
    {"interface": "link2", "address": "198.51.100.2", "endpoint_candidate": True},
    {"interface": "link2", "address": "2001:db8:2::2", "prefix": 64, "endpoint_candidate": True},
]
HOST_INTERFACES = {"lo": 1, "link1": 2, "link2": 3, "mgmt0": 4, "bare": 5}


def test_read_links_takes_every_candidate_address_or_the_ones_given():
    links = read_links([{"interface": "link1"}, {"interface": "link2", "address": "2001:db8:2::2", "backup": True}],
                       HOST_ADDRESSES, HOST_INTERFACES, ["mgmt0"], "mptcp_links")
    assert links == [{"interface": "link1", "addresses": ["192.0.2.2"], "networks": ["192.0.2.0/24"], "backup": False},
                     {"interface": "link2", "addresses": ["2001:db8:2::2"], "networks": ["2001:db8:2::/64"],
                      "backup": True}]


@pytest.mark.parametrize("links, excluded, message", [
    ([{"interface": "eth9"}], [], "mptcp_links[0].interface: interface 'eth9' does not exist here"),
    ([{"interface": "link1"}, {"interface": "link1"}], [], "mptcp_links[1].interface: link1 is listed more than once"),
    ([{"interface": "mgmt0"}], ["mgmt0"], "mptcp_links[0].interface: mgmt0 is also in mptcp_excluded_interfaces"),
    ([{"interface": "link1"}], ["eth9"], "mptcp_excluded_interfaces[0]: interface 'eth9' does not exist here"),
    ([{"interface": "link2", "addresses": ["198.51.100.300"]}], [], "mptcp_links[0].addresses[0]: '198.51.100.300'"),
    ([{"interface": "link1", "address": "198.51.100.2"}], [], "mptcp_links[0].address: 198.51.100.2 is not an address of link1"),
    ([{"interface": "link1", "address": "fe80::1"}], [], "mptcp_links[0].address: fe80::1 cannot be an MPTCP endpoint"),
    ([{"interface": "bare"}], [], "mptcp_links[0].interface: bare has no address that can be an MPTCP endpoint"),
])
def test_read_links_refuses_naming_the_path(links, excluded, message):
    with pytest.raises(MptcpError) as error:
        read_links(links, HOST_ADDRESSES, HOST_INTERFACES, excluded, "mptcp_links", "mptcp_excluded_interfaces")
    assert message in str(error.value)


# -- the role's variables in every message (ROLE_VARIABLES, no variable_names) --
def test_role_variables_are_the_roles_and_the_modules_options():
    with open(os.path.join(ROOT, "roles", "mptcp", "meta", "argument_specs.yml")) as handle:
        role = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    options = yaml.safe_load(mptcp_preflight.DOCUMENTATION)["options"]
    assert "variable_names" not in options
    for option, variable in ROLE_VARIABLES.items():
        assert option in options or option == "namespace", option   # namespace: the doc fragment's
        assert variable in role, variable


def test_the_modules_documentation_says_which_option_is_which_variable():
    text = " ".join(yaml.safe_load(mptcp_preflight.DOCUMENTATION)["description"])
    for option, variable in ROLE_VARIABLES.items():
        assert "O(%s) is C(%s)" % (option, variable) in text, option


def test_messages_name_the_role_variables_without_being_told():
    with pytest.raises(MptcpError, match=r"^mptcp_endpoints\[1\]\.address 'x' is not a valid"):
        check_endpoints([{"address": "192.0.2.2"}, {"address": "x"}], "runtime", INTERFACES, KERNEL)
    with pytest.raises(MptcpError, match=r"^mptcp_endpoint_default_flags: also-without-sysctl not possible"):
        check_default_flags(["also-without-sysctl"], "runtime", KERNEL)
    with pytest.raises(MptcpError, match=r"^mptcp_endpoints_backend is systemd, but endpoints in a network namespace"):
        resolve_backend("systemd", "ns1", False)
    with pytest.raises(MptcpError, match=r"^mptcp_sysctl_file 'x.conf' must be an absolute path"):
        check_sysctl_file("x.conf")
    with pytest.raises(MptcpError, match=r"^mptcp_links\[1\]\.interface: interface 'eth9' does not exist"):
        read_links([{"interface": "link1"}, {"interface": "eth9"}], HOST_ADDRESSES, HOST_INTERFACES)
    with pytest.raises(MptcpError, match=r"^mptcp_excluded_interfaces\[0\]: interface 'eth9'"):
        read_links([{"interface": "link1"}], HOST_ADDRESSES, HOST_INTERFACES, ["eth9"])
    message = conflicts("runtime", nm=CLIENT_NM, kernel=[NM_ENDPOINT], declared=RUNTIME_LINK2, hands_off=False)
    assert "mptcp_endpoints_backend=runtime and mptcp_nm_hands_off=false" in message["errors"][0]


# -- which manager owns the endpoints: the checks beside resolve_backend ---------
@pytest.mark.parametrize("backend, nm_running, nm_version, systemd_running, message", [
    ("networkmanager", False, None, True, "mptcp_endpoints_backend is networkmanager but NetworkManager is not "
                                          "running on this host: start it (systemctl start NetworkManager), or "
                                          "choose mptcp_endpoints_backend=runtime"),
    ("networkmanager", True, (1, 38, 2), True, "mptcp_endpoints_backend is networkmanager but NetworkManager 1.38.2 "
                                               "on this host has no connection.mptcp-flags (it needs 1.40 or newer): "
                                               "choose mptcp_endpoints_backend=runtime"),
    ("systemd", False, None, False, "mptcp_endpoints_backend is systemd but this host does not run systemd: "
                                    "choose mptcp_endpoints_backend=runtime"),
])
def test_check_backend_available_refuses(backend, nm_running, nm_version, systemd_running, message):
    with pytest.raises(MptcpError) as error:
        check_backend_available(backend, nm_running, nm_version, systemd_running)
    assert str(error.value) == message


@pytest.mark.parametrize("backend, nm_running, nm_version, systemd_running", [
    ("networkmanager", True, (1, 40), False),
    ("networkmanager", True, (1, 42, 4), True),
    ("systemd", False, None, True),
    ("runtime", False, None, False),   # netlink needs neither
])
def test_check_backend_available_accepts(backend, nm_running, nm_version, systemd_running):
    assert check_backend_available(backend, nm_running, nm_version, systemd_running) is None


class FakeNmcli(object):
    def __init__(self, profiles, flags):
        self._profiles, self._flags = profiles, flags
        self.asked = []

    def profiles(self):
        return self._profiles

    def mptcp_flags(self, uuid):
        self.asked.append(uuid)
        return self._flags[uuid]


def test_read_nm_devices_takes_the_active_devices_but_loopback():
    nmcli = FakeNmcli([
        {"name": "link1", "uuid": "u1", "type": "ethernet", "device": "link1", "active": True},
        {"name": "spare", "uuid": "u2", "type": "ethernet", "device": None, "active": False},
        {"name": "lo", "uuid": "u3", "type": "loopback", "device": "lo", "active": True},
        {"name": "wifi", "uuid": "u4", "type": "wifi", "device": "wlan0", "active": True},
    ], {"u1": 0x0, "u4": 0x1})
    assert read_nm_devices(nmcli, {"link1"}) == [
        {"interface": "link1", "profile": "link1", "uuid": "u1", "flags": 0x0, "default_route": True},
        {"interface": "wlan0", "profile": "wifi", "uuid": "u4", "flags": 0x1, "default_route": False}]
    assert nmcli.asked == ["u1", "u4"]   # inactive profiles and loopback are not read


def _process(proc, pid, comm, netns):
    os.makedirs(os.path.join(proc, pid, "ns"))
    with open(os.path.join(proc, pid, "comm"), "w") as handle:
        handle.write(comm + "\n")
    os.link(netns, os.path.join(proc, pid, "ns", "net"))   # the same inode: the same namespace


@pytest.mark.parametrize("processes, has_self, running", [
    ([("1", "systemd", "own"), ("42", "mptcpd", "own")], True, True),
    ([("1", "systemd", "own"), ("42", "mptcpd", "other")], True, False),   # another namespace's mptcpd
    ([("1", "systemd", "own")], True, False),
    ([("42", "mptcpd", "other")], False, True),   # own namespace unknown: any mptcpd counts
])
def test_mptcpd_running_looks_in_this_namespace_only(tmp_path, processes, has_self, running):
    proc = str(tmp_path / "proc")
    os.makedirs(proc)
    namespaces = {}
    for name in ("own", "other"):
        namespaces[name] = str(tmp_path / name)
        open(namespaces[name], "w").close()
    if has_self:
        _process(proc, "self", "python3", namespaces["own"])
    os.makedirs(os.path.join(proc, "sys"))   # not a process
    for pid, comm, netns in processes:
        _process(proc, pid, comm, namespaces[netns])
    assert mptcpd_running(proc) is running


def test_declared_endpoints_are_the_given_ones_else_every_address_of_the_links():
    given = [{"address": "198.51.100.2", "dev": "link2", "flags": ["subflow"]}]
    links = [{"interface": "link1", "addresses": ["192.0.2.2", "2001:db8:1::2"], "backup": False},
             {"interface": "link2", "addresses": ["198.51.100.2"], "backup": True}]
    assert declared_endpoints(given, links, "runtime") == given
    assert declared_endpoints([], links, "systemd") == [
        {"address": "192.0.2.2", "dev": "link1"}, {"address": "2001:db8:1::2", "dev": "link1"},
        {"address": "198.51.100.2", "dev": "link2"}]
    # one per address, as the kernel backends' (the conflicts only look at the interfaces)
    assert declared_endpoints([], links, "networkmanager") == [
        {"interface": "link1"}, {"interface": "link1"}, {"interface": "link2"}]
    assert declared_endpoints([], [], "runtime") == []


def test_endpoint_owners_adds_what_was_found():
    nm = CLIENT_NM + [nm_device("link3", 0x2 | 0x20 | 0x8)]
    result = endpoint_owners("runtime", "enabled", nm, False, [NM_ENDPOINT], RUNTIME_LINK2, OWNER)
    assert result["mptcpd"] is False
    assert result["nm_interfaces"] == ["link1", "link3"]   # link2: no default route, default flags
    assert [device["interface"] for device in result["hands_off"]] == ["link1", "link3"]
    assert endpoint_owners("networkmanager", "disabled", [], True, [], [], OWNER)["mptcpd"] is True


# -- mptcp_nm_ignore_carrier: NetworkManager's, permanent, the host's own namespace, planned links --
LINKS = [{"interface": "link1"}]


@pytest.mark.parametrize("state, paths, backend, namespace, links, requested", [
    ("enabled", "permanent", "networkmanager", "", LINKS, "auto"),
    ("disabled", "permanent", "runtime", "ns1", [], "runtime"),   # the disabled state removes it anyway
])
def test_ignore_carrier_taken(state, paths, backend, namespace, links, requested):
    assert check_ignore_carrier(True, state, paths, backend, namespace, links, requested) is None


@pytest.mark.parametrize("paths, backend, namespace, links, requested, message", [
    ("unmanaged", "networkmanager", "", LINKS, "auto", "mptcp_paths is unmanaged: "),
    ("permanent", "runtime", "ns1", LINKS, "auto", "mptcp_namespace is ns1: "),
    ("permanent", "systemd", "", LINKS, "systemd", "mptcp_endpoints_backend is systemd: "),
    ("permanent", "systemd", "", LINKS, "auto", "mptcp_endpoints_backend is systemd (auto: NetworkManager does not"),
    ("permanent", "networkmanager", "", [], "auto", "mptcp_links is empty: "),
])
def test_ignore_carrier_refused_naming_the_variables(paths, backend, namespace, links, requested, message):
    with pytest.raises(MptcpError) as error:
        check_ignore_carrier(True, "enabled", paths, backend, namespace, links, requested)
    assert str(error.value).startswith("mptcp_nm_ignore_carrier is true, but " + message)
    assert str(error.value).endswith("set mptcp_nm_ignore_carrier=false")


def test_ignore_carrier_off_is_never_refused():
    assert check_ignore_carrier(False, "enabled", "temporary", "runtime", "ns1", [], "auto") is None
