import ast
import errno
import io
import json
import os
import socket
import threading
import time

import pytest
import yaml

from ansible_collections.mptcp.multipath.plugins.module_utils import _endpoint_unit
from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_unit import main


@pytest.mark.parametrize("argv", [[], ["sync"], ["apply", "/etc/mptcp-endpoints.conf"],
                                  ["sync", "/etc/mptcp-endpoints.conf", "now"]])
def test_an_unknown_command_prints_the_usage(argv, capsys):
    assert main(argv) == 2
    assert "usage: mptcp-endpoints sync|check|watch CONFIG" in capsys.readouterr().err


def test_a_set_that_cannot_be_read_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_endpoint_unit, "LOCK", str(tmp_path / "lock"))
    config = tmp_path / "endpoints.conf"
    config.write_text("endpoint 192.0.2.2 - - - subflow\n")  # the old line format, not JSON
    assert main(["check", str(config)]) == 1
    assert capsys.readouterr().err.startswith("mptcp-endpoints: ")


class FakeKernel(object):
    """MptcpNetlink with one endpoint nobody declared; records what is applied."""

    def __init__(self):
        self.applied = []

    def __call__(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    @staticmethod
    def endpoints():
        return [{"id": 5, "address": "198.51.100.9", "port": 0, "flags": ["signal"], "dev": None, "ifindex": 0}]

    def apply(self, actions):
        self.applied.extend(actions)


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A host with eth1 (index 3) holding 192.0.2.2, and a declared set of
    two endpoints, one on an address no interface has."""
    kernel = FakeKernel()
    monkeypatch.setattr(_endpoint_unit, "LOCK", str(tmp_path / "lock"))
    monkeypatch.setattr(_endpoint_unit, "MptcpNetlink", kernel)
    monkeypatch.setattr(_endpoint_unit, "interface_indexes", lambda: {"eth1": 3})
    monkeypatch.setattr(_endpoint_unit, "usable_addresses", lambda: {"192.0.2.2": ["eth1"]})
    config = tmp_path / "endpoints.conf"
    config.write_text(json.dumps({"exclusive": True, "endpoints": [
        {"address": "192.0.2.2", "dev": "eth1", "flags": ["subflow"]},
        {"address": "203.0.113.7", "flags": ["subflow"]}]}))
    return kernel, str(config)


LINES = "ip mptcp endpoint delete id 5\nip mptcp endpoint add 192.0.2.2 subflow dev eth1\n"


def test_check_makes_no_change(host):
    kernel, config = host
    assert main(["check", config]) == 0
    assert kernel.applied == []


def test_a_dry_run_prints_the_changes_it_would_make(host):
    kernel, config = host
    out = io.StringIO()
    _endpoint_unit.sync(config, dry_run=True, out=out)
    assert out.getvalue() == LINES
    assert kernel.applied == []


def test_sync_applies_each_change_it_prints(host):
    kernel, config = host
    out = io.StringIO()
    _endpoint_unit.sync(config, out=out)
    assert out.getvalue() == LINES
    assert [(action["action"], action["endpoint"]["address"]) for action in kernel.applied] == [
        ("delete", "198.51.100.9"), ("add", "192.0.2.2")]


@pytest.mark.parametrize("program, tasks_file, task_name", [
    ("_endpoint_unit.py", "roles/mptcp/tasks/systemd.yml", "Copy the module_utils the endpoints program runs"),
    ("_transfer.py", "roles/mptcp_verify/tasks/main.yml", "Ship the transfer program and the module_utils it imports"),
])
def test_the_roles_copy_every_module_utils_their_program_imports(program, tasks_file, task_name):
    """The roles list the module_utils they copy to the host by name; an
    import added to any of them must be added there too."""
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
    module_utils = os.path.join(root, "plugins", "module_utils")
    prefix = "ansible_collections.mptcp.multipath.plugins.module_utils."
    needed, queue = set(), [program]
    while queue:
        name = queue.pop()
        if name in needed:
            continue
        needed.add(name)
        with open(os.path.join(module_utils, name)) as handle:
            tree = ast.parse(handle.read())
        queue += [node.module[len(prefix):] + ".py" for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(prefix)]
    with open(os.path.join(root, tasks_file)) as handle:
        tasks = yaml.safe_load(handle)
    # a task may sit in a block
    tasks += [inner for task in tasks for inner in task.get("block", [])]
    copied = [task["loop"] for task in tasks if task["name"] == task_name]
    assert copied and set(copied[0]) == needed


def test_the_events_are_the_kernels_link_and_address_groups():
    """The groups `ip monitor link address` joins: RTMGRP_LINK,
    RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR (no privilege needed to listen)."""
    events = _endpoint_unit.subscribe()
    try:
        assert events.family == socket.AF_NETLINK
        assert events.proto == socket.NETLINK_ROUTE
        assert events.getsockname()[1] == 0x1 | 0x10 | 0x100
    finally:
        events.close()


class Watched(object):
    """watch() on one end of a socket pair instead of the kernel's events:
    each call of sync runs the next step, which sends events (one datagram
    each) on the other end, or closes it (the events end)."""

    def __init__(self, monkeypatch, steps):
        self.events, self.kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.steps = list(steps)
        self.syncs = 0
        monkeypatch.setattr(_endpoint_unit, "sync", self.sync)

    def sync(self, config):
        assert config == "/etc/mptcp-endpoints.conf"
        self.syncs += 1
        self.steps.pop(0)(self)

    def send(self, count=1):
        for number in range(count):
            self.kernel.send(b"RTM_NEWADDR %d" % number)

    def end(self):
        self.kernel.close()

    def watch(self):
        return _endpoint_unit.watch("/etc/mptcp-endpoints.conf", self.events)


def test_watch_syncs_once_per_burst_and_exits_1_when_the_events_end(monkeypatch, capsys):
    watched = Watched(monkeypatch, [lambda w: w.send(3), lambda w: w.send(1), Watched.end])
    assert watched.watch() == 1
    assert watched.syncs == 3  # at the start, after the burst of three, after the single event
    assert watched.events.fileno() == -1  # closed
    assert capsys.readouterr().err == ""


def test_events_closer_than_the_quiet_time_make_one_sync(monkeypatch):
    monkeypatch.setattr(_endpoint_unit, "QUIET", 1.0)

    def trickle(watched):
        watched.send()
        time.sleep(0.1)  # well within QUIET: the same burst
        watched.send()

    watched = Watched(monkeypatch, [lambda w: threading.Thread(target=trickle, args=(w,)).start(), Watched.end])
    assert watched.watch() == 1
    assert watched.syncs == 2


def test_a_refused_sync_is_one_line_and_the_next_event_tries_again(monkeypatch, capsys):
    def refused(watched):
        watched.send()
        raise MptcpError("kernel refused to add endpoint 192.0.2.2: EEXIST (errno 17)")

    watched = Watched(monkeypatch, [refused, Watched.end])
    assert watched.watch() == 1
    assert watched.syncs == 2
    assert capsys.readouterr().err == "mptcp-endpoints: kernel refused to add endpoint 192.0.2.2: EEXIST (errno 17)\n"


class Failing(object):
    """A readable event socket whose first recv fails with ``code``; the
    events end after it."""

    def __init__(self, code):
        self.readable, self.peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.peer.send(b"RTM_NEWLINK")
        self.code = code
        self.closed = False

    def fileno(self):
        return self.readable.fileno()

    def recv(self, size):
        if self.peer.fileno() == -1:
            return self.readable.recv(size)
        self.peer.close()
        raise OSError(self.code, os.strerror(self.code))

    def close(self):
        self.closed = True
        self.readable.close()


def test_lost_events_are_said_and_synced(monkeypatch, capsys):
    """ENOBUFS: the kernel dropped events the socket had no room for; the
    state they would have announced is read by the next sync."""
    events = Failing(errno.ENOBUFS)
    syncs = []
    monkeypatch.setattr(_endpoint_unit, "sync", syncs.append)
    assert _endpoint_unit.watch("/etc/mptcp-endpoints.conf", events) == 1
    assert syncs == ["/etc/mptcp-endpoints.conf"] * 2
    assert capsys.readouterr().err.startswith("mptcp-endpoints: link and address events lost ([Errno 105] ")
    assert events.closed


def test_events_that_cannot_be_read_end_the_watch_with_1(monkeypatch, capsys):
    events = Failing(errno.EBADF)
    syncs = []
    monkeypatch.setattr(_endpoint_unit, "sync", syncs.append)
    assert _endpoint_unit.watch("/etc/mptcp-endpoints.conf", events) == 1
    assert len(syncs) == 1
    assert capsys.readouterr().err == "mptcp-endpoints: link and address events: [Errno 9] Bad file descriptor\n"
    assert events.closed


def test_main_watches_the_config_it_is_given(monkeypatch):
    watched = []
    monkeypatch.setattr(_endpoint_unit, "watch", lambda config: watched.append(config) or 1)
    assert main(["watch", "/etc/mptcp-endpoints.conf"]) == 1
    assert watched == ["/etc/mptcp-endpoints.conf"]
