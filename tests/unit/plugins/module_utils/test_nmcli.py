import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._links import parse_addresses
from ansible_collections.mptcp.multipath.plugins.module_utils._nmcli import (
    Nmcli,
    choose_profile,
    choose_profiles,
    decode_nm_flags,
    effective_nm_flags,
    encode_nm_flags,
    missing_nm_endpoints,
    nm_addresses,
    nm_device_endpoints,
    nm_flag_problems,
    parse_nm_flags,
    parse_profiles_fields,
    parse_version,
    split_terse,
)


def test_split_terse_handles_escaped_colons_and_backslashes():
    assert split_terse(r"my\:profile:1234:ethernet:eth0:yes") == ["my:profile", "1234", "ethernet", "eth0", "yes"]
    assert split_terse(r"a\\b::") == ["a\\b", "", ""]


@pytest.mark.parametrize("text, version", [
    ("nmcli tool, version 1.42.4", (1, 42, 4)),
    ("nmcli tool, version 1.56.0-1", (1, 56, 0)),
    ("1.40", (1, 40)),
])
def test_parse_version(text, version):
    assert parse_version(text) == version


def test_parse_version_refuses_garbage():
    with pytest.raises(MptcpError):
        parse_version("nmcli: command not found")


@pytest.mark.parametrize("text, bits", [
    ("0x28", 0x28), ("0x0", 0), ("40", 40), ("", 0),
    ("signal,subflow,also-without-default-route", 0x38),
    ("default", 0), ("disabled", 1),
])
def test_parse_nm_flags_reads_numbers_and_names(text, bits):
    assert parse_nm_flags(text) == bits


def test_names_and_bits_round_trip():
    names = ["also-without-default-route", "signal", "subflow"]
    assert decode_nm_flags(encode_nm_flags(names)) == names
    assert decode_nm_flags(0x200 | 0x20) == ["subflow", "0x200"]


def test_enabled_is_implied_by_endpoint_flags():
    assert effective_nm_flags(0x30) == effective_nm_flags(0x32)
    assert effective_nm_flags(0) == 0  # default stays default
    assert effective_nm_flags(0x1) == 0x1  # disabled stays disabled


@pytest.mark.parametrize("names, version, message", [
    (["signal", "fullmesh"], (1, 42, 4), "signal and fullmesh"),
    (["disabled", "subflow"], (1, 42, 4), "disabled cannot be combined"),
    (["laminar", "subflow"], (1, 42, 4), "laminar needs NetworkManager 1.56 or newer (this host has 1.42.4)"),
])
def test_nm_flag_problems(names, version, message):
    assert any(message in problem for problem in nm_flag_problems(names, version))


def test_laminar_is_fine_on_new_networkmanager():
    assert nm_flag_problems(["laminar", "subflow"], (1, 56, 0)) == []


PROFILES = [
    {"name": "link1", "uuid": "u1", "type": "ethernet", "device": "eth1", "active": True},
    {"name": "link2", "uuid": "u2", "type": "ethernet", "device": None, "active": False},
    {"name": "spare", "uuid": "u3", "type": "ethernet", "device": None, "active": False},
]


def test_choose_profile_by_name_uuid_and_interface():
    assert choose_profile(PROFILES, name="link2")["uuid"] == "u2"
    assert choose_profile(PROFILES, uuid="u3")["name"] == "spare"
    assert choose_profile(PROFILES, interface="eth1")["uuid"] == "u1"
    assert choose_profile(PROFILES, interface="eth2", interface_names={"u2": "eth2", "u3": None})["uuid"] == "u2"


def test_choose_profile_errors_list_the_candidates():
    with pytest.raises(MptcpError) as missing:
        choose_profile(PROFILES, name="wifi")
    assert "no NetworkManager profile with name 'wifi'" in str(missing.value)
    assert "link1 (u1)" in str(missing.value)
    with pytest.raises(MptcpError) as several:
        choose_profile(PROFILES, interface="eth2", interface_names={"u2": "eth2", "u3": "eth2"})
    assert "several NetworkManager profiles match interface 'eth2'" in str(several.value)


def test_choose_profiles_names_every_bad_entry_by_its_path():
    entries = [("profiles[0]", {"interface": "eth1"}), ("profiles[1]", {"name": "wifi"}),
               ("profiles[2]", {"uuid": "u1"})]
    with pytest.raises(MptcpError) as error:
        choose_profiles(PROFILES, entries)
    assert str(error.value).startswith("profiles[1].name: no NetworkManager profile with name 'wifi'")
    assert str(error.value).endswith("; profiles[2].uuid: profile link1 (u1) is chosen by profiles[0] too")


def test_choose_profiles_keeps_the_order_and_the_single_form_unnamed():
    chosen = choose_profiles(PROFILES, [("profiles[0]", {"uuid": "u3"}), ("profiles[1]", {"interface": "eth1"})])
    assert [(where, profile["uuid"]) for where, _entry, profile in chosen] == [
        ("profiles[0].uuid", "u3"), ("profiles[1].interface", "u1")]
    assert choose_profiles(PROFILES, [(None, {"name": "link2"})])[0][0] is None


def test_parse_profiles_fields_groups_by_uuid():
    text = "connection.uuid:u1\nconnection.interface-name:eth\\:1\n\nconnection.uuid:u2\nconnection.interface-name:\n"
    assert parse_profiles_fields(text) == {"u1": {"connection.interface-name": "eth:1"},
                                           "u2": {"connection.interface-name": ""}}


class FakeModule(object):
    """Records the argv nmcli would get; mocks only the process boundary."""

    def __init__(self, outputs):
        self.outputs = outputs
        self.calls = []

    def get_bin_path(self, name):
        return "/usr/bin/" + name

    def run_command(self, argv, environ_update=None):
        self.calls.append((argv, environ_update))
        return self.outputs.pop(0)


def test_runner_builds_argv_lists_in_the_c_locale():
    module = FakeModule([(0, "", "")])
    Nmcli(module).set_mptcp_flags("u1", ["signal", "subflow"])
    argv, env = module.calls[0]
    assert argv == ["/usr/bin/nmcli", "connection", "modify", "uuid", "u1", "connection.mptcp-flags", "signal,subflow"]
    assert env["LC_ALL"] == "C"


def test_runner_resets_to_default_with_0x0_and_reports_failures():
    module = FakeModule([(0, "", ""), (10, "", "Error: unknown connection 'u9'.")])
    runner = Nmcli(module)
    runner.set_mptcp_flags("u1", [])
    assert module.calls[0][0][-1] == "0x0"
    with pytest.raises(MptcpError) as error:
        runner.up("u9")
    assert "unknown connection 'u9'" in str(error.value) and "rc=10" in str(error.value)


def test_runner_parses_profiles():
    module = FakeModule([(0, "link1:u1:802-3-ethernet:eth1:yes\nmy\\:lab:u2:802-3-ethernet::no\n", "")])
    assert Nmcli(module).profiles() == [
        {"name": "link1", "uuid": "u1", "type": "802-3-ethernet", "device": "eth1", "active": True},
        {"name": "my:lab", "uuid": "u2", "type": "802-3-ethernet", "device": None, "active": False},
    ]


def test_not_running_is_a_clear_error():
    module = FakeModule([(0, "asleep\n", "")])
    with pytest.raises(MptcpError) as error:
        Nmcli(module).check_running()
    assert "NetworkManager is not running" in str(error.value)


# NetworkManager's endpoint rules, as mptcp_nm_profile models them to notice
# endpoints removed behind NetworkManager's back.
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


def test_batch_runner_reads_several_profiles_and_devices_in_one_run_each():
    module = FakeModule([
        (0, "connection.uuid:u1\nconnection.mptcp-flags:0x38\n\nconnection.uuid:u2\nconnection.mptcp-flags:default\n", ""),
        (0, "eth1:/org/freedesktop/NetworkManager/Devices/2\neth2:/org/freedesktop/NetworkManager/Devices/3\n", ""),
    ])
    runner = Nmcli(module, batch=True)
    assert runner.mptcp_flags_of(["u1", "u2"]) == {"u1": 0x38, "u2": 0}
    assert runner.device_paths(["eth2", "eth9"]) == {"eth2": "/org/freedesktop/NetworkManager/Devices/3", "eth9": None}
    assert [argv[1:] for argv, _env in module.calls] == [
        ["-t", "-f", "connection.uuid,connection.mptcp-flags", "connection", "show", "uuid", "u1", "uuid", "u2"],
        ["-t", "-f", "DEVICE,DBUS-PATH", "device", "status"]]


def test_batch_runner_refuses_output_without_a_profile_asked_for():
    module = FakeModule([(0, "connection.uuid:u1\nconnection.mptcp-flags:0x38\n", "")])
    with pytest.raises(MptcpError) as error:
        Nmcli(module, batch=True).mptcp_flags_of(["u1", "u2"])
    assert str(error.value) == "nmcli printed no connection.mptcp-flags of the profiles u2"
