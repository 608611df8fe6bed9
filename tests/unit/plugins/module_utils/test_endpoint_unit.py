import ast
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
