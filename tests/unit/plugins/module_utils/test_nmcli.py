import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._nmcli import (
    Nmcli,
    choose_profile,
    decode_nm_flags,
    effective_nm_flags,
    encode_nm_flags,
    nm_flag_problems,
    parse_nm_flags,
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
