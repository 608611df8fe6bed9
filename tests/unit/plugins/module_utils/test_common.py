import errno
import os

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils import _common
from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError, version_tuple


@pytest.mark.parametrize("text, version", [
    ("nmcli tool, version 1.42.4", (1, 42, 4)),   # NetworkManager
    ("6.18.0-1-amd64", (6, 18, 0)),               # a kernel release
    ("0.9.1.post1", (0, 9, 1)),                   # a Python package
    ("systemd 257 (257.13-1)\n+PAM", (257,)),     # the first number only
    ("unknown", ()),
    ("", ()),
    (None, ()),
])
def test_the_first_version_number_as_integers(text, version):
    assert version_tuple(text) == version


@pytest.mark.parametrize("namespace, path", [
    ("blue", "/run/netns/blue"),                      # a name as `ip netns` uses it
    ("/proc/1234/ns/net", "/proc/1234/ns/net"),       # an absolute path is taken as it is
])
def test_namespace_path(namespace, path):
    assert _common.namespace_path(namespace) == path


@pytest.mark.parametrize("namespace", ["a/b", ".", ".."])
def test_a_namespace_name_that_is_a_path_is_refused_by_name(namespace):
    with pytest.raises(MptcpError, match="namespace %r is not a valid network namespace name" % namespace):
        _common.namespace_path(namespace)


@pytest.mark.parametrize("namespace", [None, ""])
def test_no_namespace_enters_none(monkeypatch, namespace):
    opened = []
    monkeypatch.setattr(_common.os, "open", lambda *args: opened.append(args))
    assert _common.enter_namespace(namespace) is None
    assert opened == []


def open_fds():
    return set(os.listdir("/proc/self/fd"))


def test_a_missing_namespace_is_named_with_its_file(tmp_path):
    missing = str(tmp_path / "gone")
    with pytest.raises(MptcpError) as raised:
        _common.enter_namespace(missing)
    assert str(raised.value) == "network namespace %r does not exist (no %s)" % (missing, missing)


def test_a_namespace_that_cannot_be_opened_says_why(tmp_path):
    (tmp_path / "file").write_text("")
    below_a_file = str(tmp_path / "file" / "ns")
    with pytest.raises(MptcpError) as raised:
        _common.enter_namespace(below_a_file)
    assert str(raised.value) == "cannot open network namespace %r: Not a directory" % below_a_file


def test_a_file_that_is_no_namespace_is_refused_by_the_kernel_and_closed(tmp_path):
    # setns(2) on a regular file: EINVAL, with or without privileges; the
    # ctypes path on Python < 3.12, os.setns on newer ones
    plain = tmp_path / "plain"
    plain.write_text("")
    before = open_fds()
    with pytest.raises(MptcpError) as raised:
        _common.enter_namespace(str(plain))
    assert str(raised.value) == "cannot enter network namespace %r: Invalid argument" % str(plain)
    assert open_fds() == before


def test_setns_through_libc_raises_the_errno(tmp_path, monkeypatch):
    # Python < 3.12 has no os.setns: libc's, with its errno as an OSError
    monkeypatch.delattr(_common.os, "setns", raising=False)
    plain = tmp_path / "plain"
    plain.write_text("")
    fd = os.open(str(plain), os.O_RDONLY)
    try:
        with pytest.raises(OSError) as raised:
            _common._setns(fd)
    finally:
        os.close(fd)
    assert raised.value.errno == errno.EINVAL


class FakeModule(object):
    """exit_json/fail_json as AnsibleModule's: they end the module."""

    def __init__(self):
        self.exited = None

    def exit_json(self, **result):
        self.exited = ("exit_json", result)
        raise SystemExit(0)

    def fail_json(self, **result):
        self.exited = ("fail_json", result)
        raise SystemExit(1)


def test_run_module_exits_with_the_result():
    module = FakeModule()
    with pytest.raises(SystemExit):
        _common.run_module(module, lambda: {"changed": True, "limits": {"subflows": 2}})
    assert module.exited == ("exit_json", {"changed": True, "limits": {"subflows": 2}})


def test_run_module_turns_an_mptcp_error_into_fail_json_with_its_details():
    def refuse():
        raise MptcpError("subflows 9 is above the kernel's maximum 8", maximum=8)
    module = FakeModule()
    with pytest.raises(SystemExit):
        _common.run_module(module, refuse)
    assert module.exited == ("fail_json", {"msg": "subflows 9 is above the kernel's maximum 8", "maximum": 8})


def test_other_errors_are_not_swallowed():
    def broken():
        raise KeyError("address")
    module = FakeModule()
    with pytest.raises(KeyError):
        _common.run_module(module, broken)
    assert module.exited is None


def test_closes_socket_closes_its_socket_also_on_an_error():
    class Sock(object):
        closed = False

        def close(self):
            self.closed = True

    class Holder(_common.ClosesSocket):
        def __init__(self):
            self.sock = Sock()

    holder = Holder()
    with pytest.raises(ValueError):
        with holder as entered:
            assert entered is holder
            raise ValueError("inside")
    assert holder.sock.closed


def test_interface_indexes(monkeypatch):
    monkeypatch.setattr(_common.socket, "if_nameindex", lambda: [(1, "lo"), (2, "eth0"), (3, "eth1")])
    assert _common.interface_indexes() == {"lo": 1, "eth0": 2, "eth1": 3}
