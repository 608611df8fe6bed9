"""_pyroute2: which pyroute2 the modules need, found without importing it."""

import importlib.util
import types

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils import _pyroute2


def fake_package(monkeypatch, tmp_path, version, mptcp=True):
    package = tmp_path / "pyroute2"
    (package / "netlink" / "generic").mkdir(parents=True)
    if mptcp:
        (package / "netlink" / "generic" / "mptcp.py").write_text("")
    spec = types.SimpleNamespace(submodule_search_locations=[str(package)])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec if name == "pyroute2" else None)
    monkeypatch.setattr(_pyroute2, "installed_version", lambda: version)


@pytest.mark.parametrize("version, mptcp, reason", [
    ("0.7.2", True, None),  # Debian 12's
    ("0.9.7", True, None),
    (None, True, None),  # no metadata: the MPTCP module decides
    ("0.6.13", True, _pyroute2.TOO_OLD),
    ("0.5.14", False, _pyroute2.NO_MPTCP),  # Debian 11's: no MPTCP socket at all
])
def test_probe_tells_usable_from_unsupported_without_importing(monkeypatch, tmp_path, version, mptcp, reason):
    fake_package(monkeypatch, tmp_path, version, mptcp)
    installed, unsupported = _pyroute2.probe()
    assert installed is True
    if reason is None:
        assert unsupported is None
    else:
        assert reason in unsupported and "needs pyroute2 0.7 or newer" in unsupported
        assert (version or "(version unknown)") in unsupported


def test_probe_without_pyroute2(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert _pyroute2.probe() == (False, None)


def test_the_probe_agrees_with_the_import_on_this_machine():
    # _netlink imports pyroute2 and decides the same way
    from ansible_collections.mptcp.multipath.plugins.module_utils import _netlink
    installed, unsupported = _pyroute2.probe()
    assert installed == _netlink.HAS_PYROUTE2
    assert (unsupported is None) == (_netlink.PYROUTE2_UNSUPPORTED is None)
