"""The runner of the modules' tables (model: community.general's
tests/unit/plugins/modules/test_ip_netns.yaml and its runner).

Each ``test_<module>.py`` here has a ``test_<module>.yaml`` beside it: a list
of cases, each run through the module's own ``main()`` (argument spec,
``run()``, ``exit_json``/``fail_json``) with only the process, netlink and
file boundaries mocked:

    - id: a short name
      check_mode: true               # optional, false by default
      args: {...}                     # the module's parameters
      mocks:
        run_command:                  # every call, in order, and nothing else
          - argv: [ip, -j, address, show]
            rc: 0
            out: "[]"
            err: ""
        bin_paths: {ip: null}         # get_bin_path's answers (default: the bare name)
        netlink: {...}                # a fake MptcpNetlink and PathManager, see FakeNetlink
        pyroute2: false               # the module sees no pyroute2
        pyroute2_unsupported: message # the installed pyroute2 is too old (pyroute2_probe's answer)
        proc: {sys/net/mptcp/enabled: "1"}   # files under /proc the module reads
        read_only: [available_schedulers]    # /proc/sys/net/mptcp files without write bits
        refuse: {scheduler: EINVAL}          # runtime writes the kernel refuses
        sock_diag: {ipv4: [...], ipv6: [...]}  # what the MPTCP sock_diag dump returns
        events: [[...], {overrun: true}]       # batches a fake EventSocket receives
        open_error: message                    # the EventSocket cannot be opened
        files: {relative/path: content}        # files laid under the case's tmp dir
      output: {...}                   # keys of the result, each compared exactly
                                      # (msg_contains: a part of msg)
      files_after: {relative/path: content or null}   # the files after the run

``{tmp}`` in any string stands for the case's temporary directory."""

import builtins
import contextlib
import errno
import json
import os
import time

import pytest
import yaml

from ansible.module_utils import basic
from ansible.module_utils.common import warnings

from ansible_collections.mptcp.multipath.plugins.module_utils import _common, _diag, _netlink, _sysctl
from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._netlink import MptcpNetlink

try:
    from ansible.module_utils import _internal as module_utils_internal  # ansible-core 2.19+
except ImportError:
    module_utils_internal = None

try:
    from ansible.module_utils.testing import patch_module_args  # ansible-core 2.19+
except ImportError:  # older ansible-core (make core-units): the same through basic._ANSIBLE_ARGS
    @contextlib.contextmanager
    def patch_module_args(args):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


def pytest_generate_tests(metafunc):
    """A test that takes ``case`` runs once per case of the YAML file beside it."""
    if "case" not in metafunc.fixturenames:
        return
    path = os.path.splitext(metafunc.module.__file__)[0] + ".yaml"
    with open(path) as handle:
        cases = yaml.safe_load(handle)["test_cases"]
    metafunc.parametrize("case", cases, ids=[case["id"] for case in cases])


def fill(value, tmp):
    """``value`` with ``{tmp}`` replaced in every string."""
    if isinstance(value, str):
        return value.replace("{tmp}", tmp)
    if isinstance(value, list):
        return [fill(item, tmp) for item in value]
    if isinstance(value, dict):
        return dict((fill(key, tmp), fill(item, tmp)) for key, item in value.items())
    return value


class RunCommand(object):
    """AnsibleModule.run_command answering from the table, in order."""

    def __init__(self, expected):
        # a list inside the list stands for its calls (a YAML alias of several calls)
        self.expected = []
        pending = list(expected)
        while pending:
            call = pending.pop(0)
            if isinstance(call, list):
                pending[:0] = call
            else:
                self.expected.append(call)
        self.calls = []

    def __call__(self, module, args, **kwargs):
        argv = list(args)
        self.calls.append(argv)
        if not self.expected:
            pytest.fail("unexpected run_command %r (calls so far: %r)" % (argv, self.calls[:-1]))
        call = self.expected.pop(0)
        assert argv == call["argv"], "run_command call %d" % len(self.calls)
        return call.get("rc", 0), call.get("out", ""), call.get("err", "")


class FakeNetlink(object):
    """Stands in for MptcpNetlink (the netlink boundary). The table gives:

    limits, endpoints: what successive reads return (a list of reads; the
        last one repeats), or one value for every read;
    open_error: MptcpNetlink() fails with this message;
    errors: {method: message}: that call fails with this message;
    calls: the changing calls expected, in order ({method: arguments}).

    ``apply`` is MptcpNetlink's own, so a plan turns into the same
    add/delete/set_flags calls as on a real kernel."""

    apply = MptcpNetlink.apply

    def __init__(self, table):
        self.table = table
        self.calls = []
        self.reads = {"limits": 0, "endpoints": 0}
        if table.get("open_error"):
            raise MptcpError(table["open_error"])

    def __call__(self):
        return self  # the module calls the class; the instance is the class

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.closed = True

    def read(self, what):
        values = self.table[what]
        if what == "endpoints" and (not values or isinstance(values[0], dict)):
            values = [values]
        elif what == "limits" and isinstance(values, dict):
            values = [values]
        index = min(self.reads[what], len(values) - 1)
        self.reads[what] += 1
        return json.loads(json.dumps(values[index]))  # a fresh copy each read

    def limits(self):
        return self.read("limits")

    def endpoints(self):
        return self.read("endpoints")

    def change(self, method, **arguments):
        self.calls.append({method: arguments})
        message = self.table.get("errors", {}).get(method)
        if message:
            raise MptcpError(message)

    def set_limits(self, **limits):
        self.change("set_limits", **limits)

    def add_endpoint(self, address, endpoint_id=None, port=0, flags=(), ifindex=0):
        self.change("add_endpoint", address=address, endpoint_id=endpoint_id, port=port, flags=list(flags),
                    ifindex=ifindex)

    def delete_endpoint(self, endpoint_id):
        self.change("delete_endpoint", endpoint_id=endpoint_id)

    def set_endpoint_flags(self, endpoint_id, address, flags):
        self.change("set_endpoint_flags", endpoint_id=endpoint_id, address=address, flags=list(flags))


class FakeEventSocket(object):
    """Stands in for _monitor.EventSocket: each receive() returns the next
    batch of the table (``{overrun: true}`` for a full socket buffer), then
    waits out the time left."""

    def __init__(self, batches, open_error=None):
        if open_error:
            raise MptcpError(open_error)
        self.batches = list(batches)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def receive(self, timeout):
        if not self.batches:
            time.sleep(timeout)
            return [], False
        batch = self.batches.pop(0)
        if isinstance(batch, dict):
            return [], bool(batch.get("overrun"))
        return [dict(event) for event in batch], False


def warning_text(warning):
    """A warning's text: ansible-core 2.19 returns each as a WarningSummary dict."""
    if isinstance(warning, dict):
        return warning.get("event", {}).get("msg", warning)
    return warning


def lay_files(root, files):
    for relative, content in (files or {}).items():
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(content)


def read_files(root, names):
    result = {}
    for relative in names:
        path = os.path.join(root, relative)
        if os.path.exists(path):
            with open(path) as handle:
                result[relative] = handle.read()
        else:
            result[relative] = None
    return result


@pytest.fixture
def assert_case(monkeypatch, capsys, tmp_path):
    """Run ``module``'s main() for one case and check the result against the table."""

    def run(module, case):
        tmp = str(tmp_path)
        case = fill(case, tmp)
        mocks = case.get("mocks") or {}

        run_command = RunCommand(mocks.get("run_command", []))

        def fake_run_command(self, args, **kwargs):
            return run_command(self, args, **kwargs)
        monkeypatch.setattr(basic.AnsibleModule, "run_command", fake_run_command)
        bin_paths = mocks.get("bin_paths", {})

        def get_bin_path(self, arg, required=False, opt_dirs=None):
            path = bin_paths.get(arg, arg)
            if path is None and required:
                self.fail_json(msg="Failed to find required executable \"%s\"" % arg)
            return path
        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)

        # /proc: the module and the module_utils it reads through read from tmp/proc
        proc = os.path.join(tmp, "proc")
        lay_files(proc, mocks.get("proc"))
        mptcp_dir = os.path.join(proc, "sys", "net", "mptcp")
        monkeypatch.setattr(_sysctl, "PROC_DIR", mptcp_dir)
        for key in mocks.get("read_only", []):
            os.chmod(os.path.join(mptcp_dir, key), 0o444)
        refuse = mocks.get("refuse", {})

        def proc_open(path, mode="r", *args, **kwargs):
            if isinstance(path, str) and path.startswith("/proc/"):
                path = os.path.join(proc, path[len("/proc/"):])
            if "w" in mode and os.path.basename(path) in refuse and path.startswith(mptcp_dir):
                code = getattr(errno, refuse[os.path.basename(path)])
                raise OSError(code, os.strerror(code))
            return builtins.open(path, mode, *args, **kwargs)
        for owner in (_sysctl, _diag, module):
            monkeypatch.setattr(owner, "open", proc_open, raising=False)
        if hasattr(module, "MPTCP_ENABLED_PATH"):
            monkeypatch.setattr(module, "MPTCP_ENABLED_PATH", "/proc/sys/net/mptcp/enabled")
        if hasattr(module, "ENDPOINT_WAIT_SECONDS"):
            monkeypatch.setattr(module, "ENDPOINT_WAIT_SECONDS", -1)  # one look, no waiting
        # a namespace is looked up under tmp/netns, never entered
        monkeypatch.setattr(_common, "NETNS_RUN_DIR", os.path.join(tmp, "netns"))

        diag = mocks.get("sock_diag", {})
        monkeypatch.setattr(_diag, "_dump", lambda family: iter(diag.get(
            "ipv4" if family == 2 else "ipv6", [])))

        # the kernel: one fake for the pyroute2 reader/writer (MptcpNetlink), the
        # standard-library reader (PathManager) and open_netlink (pyroute2 imported
        # only for a change; with pyroute2: false the real one finds none)
        netlink = None
        table = mocks.get("netlink", {})
        for reader in ("MptcpNetlink", "PathManager"):
            if hasattr(module, reader):
                if table.get("open_error"):
                    monkeypatch.setattr(module, reader, lambda: FakeNetlink(table))
                else:
                    netlink = netlink or FakeNetlink(table)
                    monkeypatch.setattr(module, reader, netlink)
        has_pyroute2 = mocks.get("pyroute2", True)
        if hasattr(module, "open_netlink"):
            if not has_pyroute2:
                monkeypatch.setattr(_netlink, "HAS_PYROUTE2", False)
                monkeypatch.setattr(_netlink, "PYROUTE2_IMPORT_ERROR", "no pyroute2")
            elif netlink is not None:
                monkeypatch.setattr(module, "open_netlink", netlink)
        if hasattr(module, "pyroute2_probe"):  # (installed, unsupported message), found without importing it
            monkeypatch.setattr(module, "pyroute2_probe", lambda: (has_pyroute2, mocks.get("pyroute2_unsupported")))
        if hasattr(module, "HAS_PYROUTE2"):
            monkeypatch.setattr(module, "HAS_PYROUTE2", has_pyroute2)
            monkeypatch.setattr(module, "PYROUTE2_IMPORT_ERROR", None if has_pyroute2 else "no pyroute2", raising=False)
        if hasattr(module, "interface_indexes"):
            interfaces = (mocks.get("netlink") or {}).get("interfaces", {})
            monkeypatch.setattr(module, "interface_indexes", lambda: dict(interfaces))
        if hasattr(module, "usable_addresses"):
            usable = (mocks.get("netlink") or {}).get("usable", {})
            monkeypatch.setattr(module, "usable_addresses",
                                lambda: dict((address, set(names)) for address, names in usable.items()))
        if hasattr(module, "EventSocket"):
            monkeypatch.setattr(module, "EventSocket", lambda: FakeEventSocket(
                mocks.get("events", []), mocks.get("open_error")))
        if hasattr(module, "LIBRARY_GLOBS"):
            monkeypatch.setattr(module, "LIBRARY_GLOBS", tuple(tmp + pattern for pattern in module.LIBRARY_GLOBS))

        # warnings are module-global in ansible-core: each case starts without any
        for name in ("_global_warnings", "_global_deprecations"):
            monkeypatch.setattr(warnings, name, type(getattr(warnings, name))())
        # ansible-core 2.19+ sends a module's warnings to the controller's display once a
        # test has imported controller code (a filter plugin): the module runs on a host here
        if hasattr(module_utils_internal, "is_controller"):
            monkeypatch.setattr(module_utils_internal, "is_controller", False)

        lay_files(tmp, mocks.get("files"))
        args = dict(dict(_ansible_check_mode=bool(case.get("check_mode")), _ansible_diff=True,
                         _ansible_tmpdir=tmp), **(case.get("args") or {}))
        capsys.readouterr()
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module.main()
        result = json.loads(capsys.readouterr().out)
        if "warnings" in result:
            result["warnings"] = [warning_text(warning) for warning in result["warnings"]]

        expected = case["output"]
        if not expected.get("failed"):
            assert not result.get("failed"), result.get("msg")
        for key, value in expected.items():
            if key == "msg_contains":
                assert value in result.get("msg", ""), result.get("msg")
            else:
                assert result.get(key) == value, "result[%r] of %s" % (key, case["id"])
        assert not run_command.expected, "run_command calls never made: %r" % run_command.expected
        if netlink is not None:
            assert netlink.calls == case.get("mocks", {}).get("netlink", {}).get("calls", [])
        if "files_after" in case:
            assert read_files(tmp, case["files_after"]) == case["files_after"]
        return result

    return run
