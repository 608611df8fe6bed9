import ast
import io
import json
import os

import pytest
import yaml

from ansible_collections.mptcp.multipath.plugins.module_utils import _endpoint_unit
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
