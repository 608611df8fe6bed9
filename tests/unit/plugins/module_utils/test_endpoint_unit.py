import ast
import os

import pytest
import yaml

from ansible_collections.mptcp.multipath.plugins.module_utils import _endpoint_unit
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_unit import describe, main


@pytest.mark.parametrize("action, command", [
    ({"action": "delete", "endpoint": {"id": 7, "address": "192.0.2.2"}}, "ip mptcp endpoint delete id 7"),
    ({"action": "add", "endpoint": {"id": None, "address": "192.0.2.2", "dev": "link1", "port": 0,
                                    "flags": ["signal", "subflow"]}},
     "ip mptcp endpoint add 192.0.2.2 dev link1 signal subflow"),
    ({"action": "add", "endpoint": {"id": 3, "address": "2001:db8::2", "dev": None, "port": 8080,
                                    "flags": ["signal"]}},
     "ip mptcp endpoint add 2001:db8::2 id 3 port 8080 signal"),
    ({"action": "set_flags", "endpoint": {"id": 2, "address": "192.0.2.2", "flags": ["subflow", "backup"]}},
     "ip mptcp endpoint change id 2 backup nofullmesh"),
])
def test_each_change_is_printed_as_the_ip_command_that_makes_it(action, command):
    assert describe(action) == command


@pytest.mark.parametrize("argv", [[], ["apply"], ["sync", "now"]])
def test_an_unknown_command_prints_the_usage(argv, capsys):
    assert main(argv, "/nonexistent") == 2
    assert "usage: mptcp-endpoints sync|check|watch" in capsys.readouterr().err


def test_a_set_that_cannot_be_read_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_endpoint_unit, "LOCK", str(tmp_path / "lock"))
    config = tmp_path / "endpoints.conf"
    config.write_text("endpoint 192.0.2.2 - - - subflow\n")  # the old line format, not JSON
    assert main(["check"], str(config)) == 1
    assert capsys.readouterr().err.startswith("mptcp-endpoints: ")


def test_the_role_copies_every_module_utils_the_program_imports():
    """roles/mptcp/tasks/systemd.yml lists the files it copies to the host by
    name; an import added to any of them must be added there too."""
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
    module_utils = os.path.join(root, "plugins", "module_utils")
    prefix = "ansible_collections.mptcp.multipath.plugins.module_utils."
    needed, queue = set(), ["_endpoint_unit.py"]
    while queue:
        name = queue.pop()
        if name in needed:
            continue
        needed.add(name)
        with open(os.path.join(module_utils, name)) as handle:
            tree = ast.parse(handle.read())
        queue += [node.module[len(prefix):] + ".py" for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(prefix)]
    with open(os.path.join(root, "roles", "mptcp", "tasks", "systemd.yml")) as handle:
        tasks = yaml.safe_load(handle)
    copied = [task["loop"] for task in tasks if task["name"] == "Copy the module_utils the endpoints program runs"]
    assert copied and set(copied[0]) == needed
