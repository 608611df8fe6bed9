"""mptcp_limits's run() through main(): the cases are in test_mptcp_limits.yaml.

Beside the runner's mocks: the kernel's limits are read with the standard
library's netlink (KernelLimits) and changed through pyroute2
(open_netlink), both the one fake of ``mocks.netlink`` here, whose ``calls``
are the changes it must receive (``pyroute2: false``: the real
open_netlink finds no pyroute2); unit files live under tmp/units, and
systemd runs unless ``systemd: false``."""

from conftest import FakeNetlink

from ansible_collections.mptcp.multipath.plugins.module_utils import _netlink
from ansible_collections.mptcp.multipath.plugins.modules import mptcp_limits


def test_mptcp_limits(case, assert_case, monkeypatch, tmp_path):
    mocks = case.get("mocks") or {}
    table = mocks.get("netlink") or {}
    kernel = None
    if table.get("open_error"):
        monkeypatch.setattr(mptcp_limits, "KernelLimits", lambda: FakeNetlink(table))
    else:
        kernel = FakeNetlink(table)
        monkeypatch.setattr(mptcp_limits, "KernelLimits", kernel)
        if mocks.get("pyroute2", True):
            monkeypatch.setattr(mptcp_limits, "open_netlink", kernel)
        else:
            monkeypatch.setattr(_netlink, "HAS_PYROUTE2", False)
            monkeypatch.setattr(_netlink, "PYROUTE2_IMPORT_ERROR", "no pyroute2")
    monkeypatch.setattr(mptcp_limits, "START_RETRY_SECONDS", 0)
    systemd = tmp_path / "run-systemd-system"
    if mocks.get("systemd", True):
        systemd.mkdir()
    monkeypatch.setattr(mptcp_limits, "SYSTEMD_RUN_DIR", str(systemd))
    monkeypatch.setattr(mptcp_limits, "SYSTEMD_UNIT_DIR", str(tmp_path / "units"))
    (tmp_path / "units").mkdir()
    assert_case(mptcp_limits, case)
    if kernel is not None:
        assert kernel.calls == table.get("calls", [])
