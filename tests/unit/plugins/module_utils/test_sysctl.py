import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._sysctl import (
    FILE_HEADER,
    check_sysctls,
    file_value,
    normalize_value,
    short_name,
    update_file,
)

CHOICES = {"available_schedulers": "default bpf_first", "available_path_managers": "kernel userspace"}


def normalize(key, value):
    return normalize_value(key, value, choices_of=CHOICES.get)


@pytest.mark.parametrize("name", ["enabled", "net.mptcp.enabled", "net/mptcp/enabled", " net.mptcp.enabled "])
def test_short_name_accepts_every_spelling(name):
    assert short_name(name) == "enabled"


def test_short_name_refuses_other_subsystems():
    with pytest.raises(MptcpError) as error:
        short_name("net.ipv4.tcp_congestion_control")
    assert "net.ipv4.tcp_congestion_control" in str(error.value)


@pytest.mark.parametrize("key, value, expected", [
    ("enabled", 1, "1"), ("enabled", True, "1"), ("enabled", "yes", "1"),
    ("enabled", 0, "0"), ("enabled", False, "0"), ("enabled", "off", "0"),
    ("add_addr_timeout", 60, "60"), ("add_addr_timeout", "0120", "120"),
    ("pm_type", "1", "1"), ("syn_retrans_before_tcp_fallback", 255, "255"),
    ("scheduler", "bpf_first", "bpf_first"), ("path_manager", "userspace", "userspace"),
    ("some_future_key", "7", "7"),
])
def test_normalize_value(key, value, expected):
    assert normalize(key, value) == expected


@pytest.mark.parametrize("key, value, message", [
    ("enabled", 2, "must be 0 or 1, not 2"),
    ("enabled", "maybe", "not 'maybe'"),
    ("pm_type", 2, "from 0 to 1, not 2"),
    ("add_addr_timeout", -1, "not -1"),
    ("add_addr_timeout", "soon", "not 'soon'"),
    ("close_timeout", True, "whole number"),
    ("stale_loss_cnt", 0, "from 1 to"),
    ("syn_retrans_before_tcp_fallback", 256, "0 to 255, not 256"),
    ("scheduler", "fastest", "one of default, bpf_first, not 'fastest'"),
    ("path_manager", "netlink", "one of kernel, userspace, not 'netlink'"),
    ("some_future_key", "a\nb", "one-line value"),
])
def test_normalize_value_refuses_with_the_value_named(key, value, message):
    with pytest.raises(MptcpError) as error:
        normalize(key, value)
    assert message in str(error.value)
    assert "net.mptcp." + key in str(error.value)


def test_new_file_gets_header_and_line():
    assert update_file(None, "enabled", "1") == FILE_HEADER + "net.mptcp.enabled = 1\n"


def test_existing_line_in_users_spelling_is_kept_when_right():
    text = "net.mptcp.enabled=1\n"
    assert update_file(text, "enabled", "1") == text


def test_value_is_replaced_in_place_and_duplicates_dropped():
    text = "# mine\nnet.mptcp.enabled=0\nnet.ipv4.ip_forward = 1\nnet/mptcp/enabled = 0\n"
    assert update_file(text, "enabled", "1") == "# mine\nnet.mptcp.enabled = 1\nnet.ipv4.ip_forward = 1\n"


def test_removal_keeps_other_settings_and_drops_an_empty_managed_file():
    assert update_file("net.mptcp.enabled = 1\nnet.mptcp.scheduler = default\n", "enabled", None) == \
        "net.mptcp.scheduler = default\n"
    assert update_file(FILE_HEADER + "net.mptcp.enabled = 1\n", "enabled", None) is None
    assert update_file("# the admin's note\nnet.mptcp.enabled = 1\n", "enabled", None) == "# the admin's note\n"


def test_file_value_last_line_wins_and_ignores_comments():
    text = "# net.mptcp.enabled = 5\nnet.mptcp.enabled = 0\n-net.mptcp.enabled=1\n"
    assert file_value(text, "enabled") == "1"
    assert file_value(text, "scheduler") is None
    assert file_value(None, "enabled") is None


# -- a whole dict of sysctls, checked before any is written --

KEYS = ["add_addr_timeout", "available_schedulers", "checksum_enabled", "enabled", "scheduler"]


def check(sysctls, check_values=True):
    return check_sysctls(sysctls, KEYS, "mptcp_sysctls", check_values=check_values,
                         writable=lambda key: not key.startswith("available_"), choices_of=CHOICES.get)


def test_check_sysctls_normalizes_every_spelling():
    assert check({"net.mptcp.checksum_enabled": "yes", "add_addr_timeout": "60", "scheduler": "default"}) == {
        "checksum_enabled": "1", "add_addr_timeout": "60", "scheduler": "default"}
    assert check({}) == {}
    assert check(None) == {}


@pytest.mark.parametrize("sysctls, message", [
    ({"nosuch": 1}, "mptcp_sysctls.nosuch: this kernel has no sysctl net.mptcp.nosuch; it has: add_addr_timeout"),
    ({"net.ipv4.ip_forward": 1}, "mptcp_sysctls.net.ipv4.ip_forward: sysctl 'net.ipv4.ip_forward' is not a net.mptcp"),
    ({"available_schedulers": "x"}, "mptcp_sysctls.available_schedulers: sysctl net.mptcp.available_schedulers is read-only"),
    ({"checksum_enabled": 2}, "mptcp_sysctls.checksum_enabled: net.mptcp.checksum_enabled must be 0 or 1, not 2"),
    ({"add_addr_timeout": -1}, "must be a whole number from 0 to 2147483, not -1"),
    ({"scheduler": "fastest"}, "mptcp_sysctls.scheduler: net.mptcp.scheduler must be one of default, bpf_first"),
    ({"scheduler": None}, "mptcp_sysctls.scheduler: net.mptcp.scheduler needs a one-line value, not None"),
    ({"scheduler": {"a": 1}}, "needs a one-line value, not {'a': 1}"),
    ({"": 1}, "mptcp_sysctls.: this kernel has no sysctl net.mptcp."),
])
def test_check_sysctls_names_the_variable_key_and_value(sysctls, message):
    with pytest.raises(MptcpError) as error:
        check(sysctls)
    assert message in str(error.value)


def test_check_sysctls_without_values_only_checks_the_keys():
    # to remove keys from the file (state disabled), their values do not matter
    assert check({"checksum_enabled": 2}, check_values=False) == {"checksum_enabled": None}
    with pytest.raises(MptcpError):
        check({"nosuch": 1}, check_values=False)
