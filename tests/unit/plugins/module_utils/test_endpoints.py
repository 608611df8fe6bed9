import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoints import (
    ip_command,
    normalize_spec,
    parse_address,
    plan_absent,
    plan_present,
    plan_sync,
    predict,
)

INTERFACES = {"lo": 1, "enp4s0": 2, "enp1s0": 3}
KERNEL = (6, 18)


def spec(**raw):
    return normalize_spec(raw, INTERFACES, kernel=KERNEL)


def endpoint(endpoint_id, address, flags, ifindex=0, port=0):
    names = dict((index, name) for name, index in INTERFACES.items())
    return {"id": endpoint_id, "address": address, "port": port, "flags": flags,
            "ifindex": ifindex, "dev": names.get(ifindex)}


@pytest.mark.parametrize("value, normalized", [
    ("192.0.2.1", "192.0.2.1"),
    (" 198.51.100.1 ", "198.51.100.1"),
    ("2001:DB8::1", "2001:db8::1"),
])
def test_parse_address_normalizes(value, normalized):
    assert parse_address(value) == normalized


@pytest.mark.parametrize("value, reason", [
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("192.0.2.300", "not a valid"),
    ("eth0", "not a valid"),
])
def test_parse_address_refuses_with_the_value_named(value, reason):
    with pytest.raises(MptcpError) as error:
        parse_address(value)
    assert reason in str(error.value)
    assert value.strip() in str(error.value) or value in str(error.value)


@pytest.mark.parametrize("raw, message", [
    ({"address": "192.0.2.1", "id": 0}, "endpoint id 0 is out of range"),
    ({"address": "192.0.2.1", "id": 256}, "endpoint id 256 is out of range"),
    ({"address": "192.0.2.1", "port": 70000, "flags": ["signal"]}, "port 70000"),
    ({"address": "192.0.2.1", "port": 8080, "flags": ["subflow"]}, "a port needs flag signal"),
    ({"address": "192.0.2.1", "dev": "wlan9"}, "interface 'wlan9' does not exist"),
    ({"address": "192.0.2.1", "flags": ["turbo"]}, "unknown endpoint flag(s) turbo"),
    ({"address": "192.0.2.1", "flags": ["implicit"]}, "unknown endpoint flag(s) implicit"),
    ({"address": "192.0.2.1", "flags": ["signal", "subflow", "fullmesh"]}, "signal and fullmesh"),
    ({"address": "192.0.2.1", "flags": ["fullmesh"]}, "fullmesh needs flag subflow"),
    ({"dev": "enp4s0"}, "needs an address"),
])
def test_normalize_spec_refuses_bad_input(raw, message):
    with pytest.raises(MptcpError) as error:
        spec(**raw)
    assert message in str(error.value)


@pytest.mark.parametrize("value", ["fe80::1%eth0", "2001:db8::1%2", "192.0.2.1%eth0"])
def test_parse_address_refuses_zone_indexes_on_every_python(value):
    # Python 3.9+ parses "fe80::1%eth0"; the kernel must never get the zone
    with pytest.raises(MptcpError) as error:
        parse_address(value)
    assert "address %r has a zone index" % value in str(error.value)


@pytest.mark.parametrize("value", [None, 3232235777, b"192.0.2.1", "", "  ", "192.0.2", "192.0.2.1/24", "::ffff:"])
def test_parse_address_refuses_odd_values_without_an_exception_of_its_own(value):
    with pytest.raises(MptcpError) as error:
        parse_address(value, "mptcp_endpoints[3].address")
    assert str(error.value).startswith("mptcp_endpoints[3].address ")


@pytest.mark.parametrize("raw, message", [
    ({"address": "192.0.2.1", "id": "5"}, "mptcp_endpoints[1].id 5 is out of range"),
    ({"address": "192.0.2.1", "id": True}, "mptcp_endpoints[1].id True is out of range"),
    ({"address": "192.0.2.1", "port": "80", "flags": ["signal"]}, "mptcp_endpoints[1].port 80 is out of range"),
    ({"address": "192.0.2.1", "interface": ""}, "mptcp_endpoints[1].interface is empty"),
    ({"address": "192.0.2.1", "interface": " "}, "mptcp_endpoints[1].interface is empty"),
    ({"address": "192.0.2.1", "interface": "eth9"}, "mptcp_endpoints[1].interface 'eth9' does not exist here"),
    # a module endpoint names its interface dev
    ({"address": "192.0.2.1", "dev": " "}, "mptcp_endpoints[1].dev is empty"),
    ({"address": "192.0.2.1", "dev": "eth9"}, "mptcp_endpoints[1].dev 'eth9' does not exist here"),
    ({"address": "192.0.2.1", "flags": ["sigal"]}, "mptcp_endpoints[1].flags: unknown endpoint flag(s) sigal"),
    ({"address": "192.0.2.1", "flags": [None]}, "mptcp_endpoints[1].flags: unknown endpoint flag(s) None"),
    ({"address": "192.0.2.1", "flags": ["signal", "fullmesh"]}, "mptcp_endpoints[1]: flags signal and fullmesh"),
    ({"interface": "enp4s0"}, "mptcp_endpoints[1] needs an address"),
    ({}, "mptcp_endpoints[1] needs an address"),
])
def test_normalize_spec_names_the_field_by_the_key_it_was_given(raw, message):
    with pytest.raises(MptcpError) as error:
        normalize_spec(raw, INTERFACES, kernel=KERNEL, where="mptcp_endpoints[1]")
    assert message in str(error.value)


def test_normalize_spec_extra_flags_are_accepted_but_not_kernel_flags():
    raw = {"dev": "enp4s0", "flags": ["subflow", "also-without-default-route"]}
    assert normalize_spec(raw, INTERFACES, kernel=KERNEL, need_address=False,
                          extra_flags=("also-without-default-route",))["flags"] == ["subflow"]
    with pytest.raises(MptcpError):
        normalize_spec(dict(raw, address="192.0.2.1"), INTERFACES, kernel=KERNEL)


def test_normalize_spec_canonical_form():
    assert spec(address="192.0.2.1", dev="enp1s0", flags=["backup", "subflow"]) == {
        "address": "192.0.2.1", "id": None, "port": 0, "flags": ["subflow", "backup"],
        "dev": "enp1s0", "ifindex": 3}


def test_add_when_missing():
    actions = plan_present([], [spec(address="198.51.100.1", dev="enp1s0", flags=["signal"])])
    assert [action["action"] for action in actions] == ["add"]
    assert actions[0]["endpoint"]["ifindex"] == 3


def test_nothing_to_do_when_equal_and_unspecified_fields_are_ignored():
    current = [endpoint(7, "198.51.100.1", ["signal"], ifindex=3)]
    assert plan_present(current, [spec(address="198.51.100.1", flags=["signal"])]) == []


def test_backup_change_is_made_in_place():
    current = [endpoint(2, "192.0.2.3", ["subflow"], ifindex=3)]
    actions = plan_present(current, [spec(address="192.0.2.3", flags=["subflow", "backup"])])
    assert [action["action"] for action in actions] == ["set_flags"]
    assert actions[0]["endpoint"]["id"] == 2
    assert actions[0]["endpoint"]["flags"] == ["subflow", "backup"]


def test_signal_change_deletes_and_readds_with_the_same_id():
    current = [endpoint(4, "192.0.2.3", ["subflow"])]
    actions = plan_present(current, [spec(address="192.0.2.3", flags=["signal"])])
    assert [(action["action"], action["endpoint"]["id"]) for action in actions] == [("delete", 4), ("add", 4)]


@pytest.mark.parametrize("raw", [
    {"address": "192.0.2.3", "flags": ["subflow"], "id": 9},
    {"address": "192.0.2.3", "flags": ["subflow"], "dev": "enp4s0"},
])
def test_id_or_device_change_needs_readd(raw):
    current = [endpoint(4, "192.0.2.3", ["subflow"], ifindex=3)]
    assert [action["action"] for action in plan_present(current, [spec(**raw)])] == ["delete", "add"]


def test_id_taken_by_another_endpoint_is_refused():
    current = [endpoint(5, "192.0.2.9", ["subflow"])]
    with pytest.raises(MptcpError) as error:
        plan_present(current, [spec(address="192.0.2.3", id=5)])
    assert "id 5 is already used by endpoint 192.0.2.9" in str(error.value)


def test_exclusive_removes_others_but_keeps_kernel_made_ones():
    current = [endpoint(1, "192.0.2.2", ["subflow"]), endpoint(2, "192.0.2.9", ["subflow"]),
               endpoint(3, "198.51.100.7", ["implicit"])]
    actions = plan_present(current, [spec(address="192.0.2.2", flags=["subflow"])], exclusive=True)
    assert [(action["action"], action["endpoint"]["address"]) for action in actions] == [("delete", "192.0.2.9")]


def test_exclusive_empty_list_flushes():
    current = [endpoint(1, "192.0.2.2", ["subflow"]), endpoint(2, "192.0.2.9", ["signal"])]
    actions = plan_present(current, [], exclusive=True)
    assert sorted(action["endpoint"]["id"] for action in actions) == [1, 2]
    assert predict(current, actions) == []


def test_a_flush_without_keep_implicit_removes_the_kernels_endpoints_too():
    current = [endpoint(1, "192.0.2.2", ["subflow"]), endpoint(3, "198.51.100.7", ["implicit"])]
    assert [action["endpoint"]["id"] for action in plan_present(current, [], exclusive=True)] == [1]
    actions = plan_present(current, [], exclusive=True, keep_implicit=False)
    assert sorted(action["endpoint"]["id"] for action in actions) == [1, 3]
    assert predict(current, actions) == []


def test_exclusive_frees_an_id_before_reusing_it():
    current = [endpoint(1, "192.0.2.9", ["subflow"])]
    actions = plan_present(current, [spec(address="192.0.2.2", id=1, flags=["subflow"])], exclusive=True)
    assert [action["action"] for action in actions] == ["delete", "add"]


def test_implicit_endpoint_is_replaced_by_a_wanted_one():
    current = [endpoint(3, "192.0.2.2", ["implicit"])]
    actions = plan_present(current, [spec(address="192.0.2.2", flags=["subflow"])])
    assert [action["action"] for action in actions] == ["delete", "add"]
    assert actions[1]["endpoint"]["id"] is None  # let the kernel choose, the implicit id is not ours


def test_ninth_endpoint_is_refused_before_any_change():
    current = [endpoint(index, "192.0.2.%d" % index, ["subflow"]) for index in range(1, 9)]
    with pytest.raises(MptcpError) as error:
        plan_present(current, [spec(address="192.0.2.100", flags=["subflow"])])
    assert "9 endpoints" in str(error.value) and "at most 8" in str(error.value)


@pytest.mark.parametrize("specs, message", [
    ([{"address": "192.0.2.1"}, {"address": "192.0.2.1"}], "address 192.0.2.1 is listed more than once"),
    ([{"address": "192.0.2.1", "id": 3}, {"address": "192.0.2.2", "id": 3}], "id 3 is listed more than once"),
])
def test_duplicates_in_the_wanted_list_are_refused(specs, message):
    with pytest.raises(MptcpError) as error:
        plan_present([], [spec(**raw) for raw in specs])
    assert message in str(error.value)


def test_absent_by_address_or_id():
    current = [endpoint(1, "192.0.2.2", ["subflow"]), endpoint(2, "192.0.2.9", ["signal"])]
    by_address = normalize_spec({"address": "192.0.2.9"}, INTERFACES, need_address=False)
    by_id = normalize_spec({"id": 1}, INTERFACES, need_address=False)
    missing = normalize_spec({"address": "203.0.113.1"}, INTERFACES, need_address=False)
    assert [action["endpoint"]["id"] for action in plan_absent(current, [by_address])] == [2]
    assert [action["endpoint"]["id"] for action in plan_absent(current, [by_id])] == [1]
    assert plan_absent(current, [missing]) == []


def test_predict_orders_kept_then_added():
    current = [endpoint(2, "192.0.2.2", ["subflow"])]
    actions = plan_present(current, [spec(address="192.0.2.2", flags=["subflow", "backup"]),
                                     spec(address="198.51.100.2", flags=["subflow"])])
    after = predict(current, actions)
    assert [(item["id"], item["address"], item["flags"]) for item in after] == [
        (2, "192.0.2.2", ["subflow", "backup"]), (None, "198.51.100.2", ["subflow"])]


# -- plan_sync: the systemd backend's unit ---------------------------------------
DECLARED = [{"address": "192.0.2.2", "dev": "enp4s0", "flags": ["subflow"]},
            {"address": "198.51.100.2", "flags": ["signal"]}]


def sync_actions(current, usable, exclusive=False, interfaces=None):
    actions = plan_sync(current, DECLARED, interfaces or INTERFACES, usable, exclusive=exclusive)
    return [(action["action"], action["endpoint"]["address"]) for action in actions]


def test_sync_adds_the_endpoints_whose_address_is_usable_on_their_interface():
    usable = {"192.0.2.2": {"enp4s0"}, "198.51.100.2": {"enp1s0"}}
    assert sync_actions([], usable) == [("add", "192.0.2.2"), ("add", "198.51.100.2")]


def test_sync_changes_nothing_when_the_kernel_has_the_usable_set():
    current = [endpoint(1, "192.0.2.2", ["subflow"], ifindex=2), endpoint(2, "198.51.100.2", ["signal"])]
    assert sync_actions(current, {"192.0.2.2": {"enp4s0"}, "198.51.100.2": {"enp1s0"}}) == []


@pytest.mark.parametrize("usable", [
    {"198.51.100.2": {"enp1s0"}},                                  # the address is gone (link down)
    {"192.0.2.2": {"enp1s0"}, "198.51.100.2": {"enp1s0"}},         # it is on another interface
])
def test_sync_deletes_an_endpoint_whose_address_is_not_usable_where_declared(usable):
    current = [endpoint(1, "192.0.2.2", ["subflow"], ifindex=2), endpoint(2, "198.51.100.2", ["signal"])]
    assert sync_actions(current, usable) == [("delete", "192.0.2.2")]


def test_sync_treats_a_declared_interface_that_is_not_there_as_unusable():
    current = [endpoint(1, "192.0.2.2", ["subflow"], ifindex=2)]
    interfaces = {"lo": 1, "enp1s0": 3}  # enp4s0 was unplugged
    assert sync_actions(current, {"198.51.100.2": {"enp1s0"}}, interfaces=interfaces) == [
        ("delete", "192.0.2.2"), ("add", "198.51.100.2")]


def test_sync_exclusive_removes_undeclared_endpoints_but_not_the_kernels():
    current = [endpoint(1, "192.0.2.9", ["subflow"]), endpoint(2, "203.0.113.5", ["implicit"])]
    assert sync_actions(current, {}, exclusive=True) == [("delete", "192.0.2.9")]
    assert sync_actions(current, {}, exclusive=False) == []


def test_sync_readds_with_the_declared_flags():
    current = [endpoint(4, "198.51.100.2", ["subflow"])]
    expected = [("delete", "198.51.100.2"), ("add", "198.51.100.2")]
    assert sync_actions(current, {"198.51.100.2": {"enp1s0"}}) == expected


@pytest.mark.parametrize("action, command", [
    ({"action": "delete", "endpoint": {"id": 7, "address": "192.0.2.2"}}, "ip mptcp endpoint delete id 7"),
    ({"action": "add", "endpoint": {"id": None, "address": "192.0.2.2", "dev": "link1", "port": 0,
                                    "flags": ["signal", "subflow"]}},
     "ip mptcp endpoint add 192.0.2.2 signal subflow dev link1"),
    ({"action": "add", "endpoint": {"id": 3, "address": "2001:db8::2", "dev": None, "port": 8080,
                                    "flags": ["signal"]}},
     "ip mptcp endpoint add 2001:db8::2 port 8080 id 3 signal"),
    ({"action": "set_flags", "endpoint": {"id": 2, "address": "192.0.2.2", "flags": ["subflow", "backup"]}},
     "ip mptcp endpoint change id 2 backup nofullmesh"),
])
def test_each_change_is_printed_as_the_ip_command_that_makes_it(action, command):
    assert ip_command(action) == command
