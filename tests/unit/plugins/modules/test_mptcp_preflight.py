"""mptcp_preflight's run() through main(): the cases are in test_mptcp_preflight.yaml.

Beside the runner's mocks, a case may give ``mptcpd`` (an mptcpd process
runs here), ``systemd`` (false: /run/systemd/system is absent) and
``kernel`` (the running kernel's version, [6, 18] by default)."""

from ansible_collections.mptcp.multipath.plugins.modules import mptcp_preflight


def test_mptcp_preflight(case, assert_case, monkeypatch, tmp_path):
    mocks = case.get("mocks") or {}
    monkeypatch.setattr(mptcp_preflight, "PYROUTE2_USABLE", mocks.get("pyroute2", True))
    monkeypatch.setattr(mptcp_preflight, "PYROUTE2_UNSUPPORTED", None)
    monkeypatch.setattr(mptcp_preflight, "mptcpd_running", lambda: mocks.get("mptcpd", False))
    monkeypatch.setattr(mptcp_preflight, "kernel_version", lambda: tuple(mocks.get("kernel", [6, 18])))
    systemd = tmp_path / "run-systemd-system"
    if mocks.get("systemd", True):
        systemd.mkdir()
    monkeypatch.setattr(mptcp_preflight, "SYSTEMD_RUN_DIR", str(systemd))
    # the role's unit files: under tmp/units (mocks.files), none unless a case lays one
    monkeypatch.setattr(mptcp_preflight, "SYSTEMD_UNIT_DIR", str(tmp_path / "units"))
    assert_case(mptcp_preflight, case)
