"""mptcp_limits's run() through main(): the cases are in test_mptcp_limits.yaml.

The kernel is the runner's fake (``mocks.netlink``: read through
PathManager, changed through open_netlink; ``pyroute2: false``: the real
open_netlink finds none). Beside the runner's mocks: unit files live under
tmp/units, and systemd runs unless ``systemd: false``."""

from ansible_collections.mptcp.multipath.plugins.modules import mptcp_limits


def test_mptcp_limits(case, assert_case, monkeypatch, tmp_path):
    mocks = case.get("mocks") or {}
    monkeypatch.setattr(mptcp_limits, "START_RETRY_SECONDS", 0)
    systemd = tmp_path / "run-systemd-system"
    if mocks.get("systemd", True):
        systemd.mkdir()
    monkeypatch.setattr(mptcp_limits, "SYSTEMD_RUN_DIR", str(systemd))
    monkeypatch.setattr(mptcp_limits, "SYSTEMD_UNIT_DIR", str(tmp_path / "units"))
    (tmp_path / "units").mkdir()
    assert_case(mptcp_limits, case)
