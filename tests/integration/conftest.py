"""Fixtures for integration tests: real network namespaces, real kernel, the
modules run by ansible-playbook exactly as a user runs them."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, TESTS)

from netns_lab import NetnsPair  # noqa: E402

# The modules must work with Debian 12's pyroute2 0.7 and with the current 0.9:
# every playbook runs once with each interpreter.
INTERPRETERS = {
    "pyroute2-0.9": sys.executable,           # the virtualenv, pinned pyroute2 0.9
    "pyroute2-0.7": "/usr/bin/python3",       # Debian 12's python3-pyroute2
}


def pytest_sessionstart(session):
    if os.geteuid() != 0:
        raise pytest.UsageError("integration tests need root (network namespaces, netlink)")


@pytest.fixture(params=sorted(INTERPRETERS), scope="session")
def interpreter(request):
    python = INTERPRETERS[request.param]
    version = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version(\"pyroute2\"))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    expected = request.param.split("-")[1]
    assert version.startswith(expected), "%s has pyroute2 %s, not %s" % (python, version, expected)
    return python


@pytest.fixture
def lab():
    with NetnsPair(prefix="mptcp-it", links=2) as pair:
        yield pair


def run_playbook(playbook, inventory, *extra_args, expect_failure=False):
    """ansible-playbook on a playbook of tests/integration/playbooks (or a path);
    asserts it succeeded, or failed when ``expect_failure``."""
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
               "-i", inventory, os.path.join(HERE, "playbooks", playbook)] + list(extra_args)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if expect_failure:
        assert result.returncode != 0, "%s succeeded but should have failed:\n%s" % (playbook, result.stdout[-20000:])
    else:
        assert result.returncode == 0, "%s failed:\n%s\n%s" % (playbook, result.stdout[-20000:], result.stderr[-5000:])
    return result
