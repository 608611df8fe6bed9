"""Fixtures for system tests: the collection's roles and playbooks run by
ansible-playbook against real lab hosts (tests/lab: Debian 12 systemd-nspawn
machines with NetworkManager), exactly as a user runs them.

    def test_something(lab_factory):
        lab = lab_factory("h9-example")              # booted once per session
        before = lab.snapshot("client")
        result = lab.playbook("playbooks/enable.yml", extra_vars={...})
        assert result.rc == 0, result.output
        lab.exec("client", ["ip", "mptcp", "endpoint", "show"]).stdout

The lab is driven through its command line (tests/lab/mptcp-lab), so these
fixtures depend only on what tests/lab/README.md documents (which includes
its polling helper, mptcp_lab.util.wait_for, shared with the tests). They never skip:
without root, or when a lab cannot boot, the tests fail.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
LAB_TOOL = [sys.executable, str(ROOT / "tests" / "lab" / "mptcp-lab")]
if str(ROOT / "tests" / "lab") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests" / "lab"))
COLLECTIONS = ROOT / ".build" / "collections"
STATE_ROOT = Path(os.environ.get("MPTCP_LAB_STATE", "/run/mptcp-lab"))

# Units whose state a snapshot always records, besides those it finds
# (every unit with a drop-in directory under /etc/systemd/system).
SNAPSHOT_UNITS = ("set_mptcp_limit.service", "NetworkManager.service", "iperf3.service",
                  "ssh.service")


def ansible_env():
    """The environment of every ansible-playbook run: this checkout as the
    collection, community.docker (nsenter connection) from the venv's
    `ansible` package, no colours, no retry files."""
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "true",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "PATH": "%s:%s" % (VENV_BIN, env.get("PATH", "")),
    })
    return env


class PlaybookResult:
    """One ansible-playbook run: rc, the whole output (stdout and stderr
    interleaved, as a user sees it), the command and how long it took."""

    def __init__(self, argv, rc, output, seconds):
        self.argv = argv
        self.rc = rc
        self.output = output
        self.seconds = seconds

    @property
    def recap(self):
        """PLAY RECAP per host: {'client': {'ok': 3, 'changed': 1, ...}}."""
        recap = {}
        in_recap = False
        for line in self.output.splitlines():
            if line.startswith("PLAY RECAP"):
                in_recap = True
                continue
            if in_recap:
                match = re.match(r"^(\S+)\s+:\s+(.*)$", line)
                if not match:
                    continue
                recap[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
        return recap

    def __repr__(self):
        return "<PlaybookResult rc=%d %.1fs %s>" % (self.rc, self.seconds, " ".join(self.argv))


# Runs inside a lab host (its /usr/bin/python3, Debian 12): prints one JSON
# document with everything the collection's roles may change on a host.
SNAPSHOT_SCRIPT = r'''
import glob, hashlib, json, os, stat, subprocess, sys

args = json.loads(sys.argv[1])

def run(argv):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
    except OSError as exc:
        return 127, "", str(exc)
    return p.returncode, p.stdout, p.stderr

def run_json(argv):
    rc, out, err = run(argv)
    if rc != 0:
        return {"rc": rc, "error": err.strip()}
    try:
        return json.loads(out or "null")
    except ValueError:
        return {"unparsed": out}

def describe(path):
    try:
        st = os.lstat(path)
    except OSError as exc:
        return {"error": exc.strerror}
    entry = {"mode": "%04o" % stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
    if stat.S_ISLNK(st.st_mode):
        entry["type"] = "symlink"
        entry["target"] = os.readlink(path)
    elif stat.S_ISDIR(st.st_mode):
        entry["type"] = "dir"
    elif stat.S_ISREG(st.st_mode):
        entry["type"] = "file"
        with open(path, "rb") as f:
            data = f.read()
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        if args["with_content"] and len(data) <= 16384 and not path.startswith("/etc/NetworkManager/system-connections"):
            entry["content"] = data.decode("utf-8", "replace")
    else:
        entry["type"] = "other"
    return entry

def tree(top):
    found = {}
    if not os.path.lexists(top):
        return found
    found[top] = describe(top)
    if os.path.isdir(top) and not os.path.islink(top):
        for dirpath, dirnames, filenames in os.walk(top):
            for name in sorted(dirnames + filenames):
                path = os.path.join(dirpath, name)
                found[path] = describe(path)
    return found

snap = {}

sysctls = {}
for path in sorted(glob.glob("/proc/sys/net/mptcp/*")):
    key = "net.mptcp." + os.path.basename(path)
    try:
        with open(path) as f:
            sysctls[key] = f.read().strip()
    except OSError as exc:
        sysctls[key] = "unreadable: " + exc.strerror
for key in args["sysctls"]:
    path = "/proc/sys/" + key.replace(".", "/")
    try:
        with open(path) as f:
            sysctls[key] = f.read().strip()
    except OSError as exc:
        sysctls[key] = "unreadable: " + exc.strerror
snap["sysctl"] = sysctls

snap["endpoints"] = run_json(["ip", "-j", "mptcp", "endpoint", "show"])
def limits(prefix):
    # iproute2 6.1 prints the limits as text even with -j: "add_addr_accepted 0 subflows 2"
    rc, out, err = run(["ip"] + prefix + ["mptcp", "limits", "show"])
    if rc != 0:
        return {"rc": rc, "error": err.strip()}
    words = out.split()
    return {k: int(v) if v.isdigit() else v for k, v in zip(words[::2], words[1::2])}

snap["limits"] = limits([])
rc, out, err = run(["ip", "netns", "list"])
netns = {}
for line in out.splitlines():
    name = line.split()[0] if line.split() else ""
    if name:
        netns[name] = {"endpoints": run_json(["ip", "-n", name, "-j", "mptcp", "endpoint", "show"]),
                       "limits": limits(["-n", name])}
snap["netns"] = netns

files = {}
for top in ["/etc/sysctl.d", "/etc/sysctl.conf", "/etc/systemd/system",
            "/etc/NetworkManager/system-connections", "/etc/NetworkManager/conf.d"] + args["paths"]:
    files.update(tree(top))
for top in sorted(glob.glob("/var/tmp/mptcp-verify*")):
    files.update(tree(top))
snap["files"] = files
with open("/var/lib/dpkg/status", "rb") as f:
    snap["dpkg_status_sha256"] = hashlib.sha256(f.read()).hexdigest()

units = set(args["units"])
for path in glob.glob("/etc/systemd/system/*.d"):
    name = os.path.basename(path)[:-2]
    if "." in name:
        units.add(name)
unit_state = {}
for unit in sorted(units):
    rc, out, err = run(["systemctl", "show", "--property=LoadState,ActiveState,UnitFileState,DropInPaths,NeedDaemonReload", unit])
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    rc, enabled, err = run(["systemctl", "is-enabled", unit])
    props["is-enabled"] = enabled.strip() or err.strip()
    unit_state[unit] = props
snap["units"] = unit_state

profiles = {}
rc, out, err = run(["nmcli", "-t", "-f", "UUID", "connection", "show"])
if rc != 0:
    profiles = {"nmcli_error": (err or out).strip()}
for uuid in out.split():
    rc, values, err = run(["nmcli", "-g", "connection.id,connection.interface-name,connection.mptcp-flags",
                           "connection", "show", uuid])
    lines = values.splitlines()
    profiles[uuid] = {"id": lines[0] if lines else None,
                      "interface-name": lines[1] if len(lines) > 1 else None,
                      "mptcp-flags": lines[2] if len(lines) > 2 else (err.strip() or None)}
snap["nm_profiles"] = profiles

json.dump(snap, sys.stdout, sort_keys=True)
'''


class Lab:
    """A booted lab, driven through tests/lab/mptcp-lab."""

    def __init__(self, name, topology="two-links", backend="nspawn"):
        self.name = name
        self.topology = topology
        self.backend = backend
        self.state_dir = STATE_ROOT / name
        self.boot_seconds = None

    # -- lifecycle -------------------------------------------------------------
    def _tool(self, *args, check=True, timeout=600, capture=True):
        argv = LAB_TOOL + ["--lab", self.name] + [str(a) for a in args]
        result = subprocess.run(argv, stdout=subprocess.PIPE if capture else None,
                                stderr=subprocess.STDOUT if capture else None,
                                text=True, timeout=timeout, check=False, cwd=ROOT)
        if check and result.returncode != 0:
            raise AssertionError("%s failed (rc %d):\n%s" % (" ".join(argv), result.returncode, result.stdout))
        return result

    @property
    def is_up(self):
        return (self.state_dir / "state.json").exists()

    def up(self):
        if self.is_up:
            # left over by an interrupted earlier session: start clean
            self._tool("down")
        started = time.monotonic()
        result = self._tool("up", "--topology", self.topology, "--backend", self.backend,
                            check=False, timeout=1800)
        if result.returncode != 0:
            self._tool("down", check=False)
            raise AssertionError("lab %s did not come up:\n%s" % (self.name, result.stdout))
        self.boot_seconds = time.monotonic() - started
        return self

    def down(self):
        return self._tool("down", check=False)

    # -- inventory ---------------------------------------------------------------
    @property
    def inventory(self):
        """Path of the lab's Ansible inventory (rewritten by every reboot)."""
        return str(self.state_dir / "inventory.yml")

    def inventory_data(self):
        return yaml.safe_load(Path(self.inventory).read_text())

    @property
    def hosts(self):
        return list(self.inventory_data()["all"]["hosts"])

    def hostvars(self, host):
        return self.inventory_data()["all"]["hosts"][host]

    # -- actions -----------------------------------------------------------------
    def exec(self, host, argv, check=False, timeout=120, input=None):
        """Run argv inside host; a CompletedProcess with text stdout/stderr."""
        full = LAB_TOOL + ["--lab", self.name, "exec", host, "--"] + [str(a) for a in argv]
        result = subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                                input=input, check=False, cwd=ROOT)
        if check and result.returncode != 0:
            raise AssertionError("%s on %s failed (rc %d):\n%s\n%s" % (
                " ".join(map(str, argv)), host, result.returncode, result.stdout, result.stderr))
        return result

    def playbook(self, path, extra_vars=None, check=False, diff=False, limit=None,
                 extra_args=(), timeout=900, env=None):
        """ansible-playbook PATH against the lab's inventory, as a user runs it.

        extra_vars: a dict (passed as one `-e` JSON document), a string (passed
        as it is to `-e`) or a list of such. A relative path is taken from the
        repository root (e.g. "playbooks/enable.yml")."""
        argv = [str(VENV_BIN / "ansible-playbook"), "-i", self.inventory, str(ROOT / path)]
        if extra_vars is not None:
            for item in extra_vars if isinstance(extra_vars, list) else [extra_vars]:
                argv += ["-e", item if isinstance(item, str) else json.dumps(item)]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        if limit:
            argv += ["--limit", limit if isinstance(limit, str) else ",".join(limit)]
        argv += list(extra_args)
        run_env = ansible_env()
        run_env.update(env or {})
        started = time.monotonic()
        result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                timeout=timeout, check=False, cwd=ROOT, env=run_env)
        return PlaybookResult(argv, result.returncode, result.stdout, time.monotonic() - started)

    def reboot(self, host):
        """A real reboot (systemd inside goes down and boots again); returns
        when the host is ready and its links have their addresses."""
        self._tool("reboot", host)

    def link(self, name, state):
        """Take a link down or up, both ends."""
        assert state in ("up", "down"), state
        self._tool("link", state, name)

    def shape(self, name, rate):
        self._tool("shape", name, "--rate", rate)

    def delay(self, name, delay, loss="0%", hosts=()):
        """The lab's delay line on a link (one way, into each of hosts; default both ends)."""
        self._tool("delay", name, "--delay", delay, "--loss", loss, *["--host=%s" % host for host in hosts])

    def snapshot(self, host, units=(), paths=(), sysctls=(), with_content=True):
        """Everything the collection's roles may change on host, as one dict:
        net.mptcp.* sysctls (and `sysctls`), endpoints and limits (also in
        every named netns), files under /etc/sysctl.d, /etc/systemd/system
        (drop-in directories and enablement links included),
        /etc/NetworkManager/{system-connections,conf.d} and `paths` (mode,
        owner, sha256 and content), the verify role's work directories, the
        dpkg status hash, the state of the limits unit and of every unit with
        a drop-in directory (and `units`), and each NetworkManager profile's
        connection.mptcp-flags. Compare two with `==`, show with diff_snapshots."""
        args = {"units": sorted(set(SNAPSHOT_UNITS) | set(units)), "paths": list(paths),
                "sysctls": list(sysctls), "with_content": with_content}
        result = self.exec(host, ["/usr/bin/python3", "-c", SNAPSHOT_SCRIPT, json.dumps(args)],
                           check=True)
        return json.loads(result.stdout)


def diff_snapshots(before, after, prefix=""):
    """The differences between two snapshots, one readable line each."""
    lines = []
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            if key not in after:
                lines.append("%s%s: removed (was %r)" % (prefix, key, before[key]))
            elif key not in before:
                lines.append("%s%s: added %r" % (prefix, key, after[key]))
            else:
                lines += diff_snapshots(before[key], after[key], "%s%s." % (prefix, key))
    elif before != after:
        lines.append("%s: %r -> %r" % (prefix.rstrip("."), before, after))
    return lines


def findings(prefix, title):
    """(note, fixture) for a module that reports what it measured: note()
    prints a finding at once; the module-scoped fixture lists them all, and
    the module's run time, at its end. Bind both at module level."""
    lines = []

    def note(line):
        lines.append(line)
        print("%s: %s" % (prefix, line), flush=True)

    @pytest.fixture(scope="module", autouse=True)
    def report():
        started = time.monotonic()
        yield
        note("module run time %.1f s" % (time.monotonic() - started))
        print("\n".join(["", title + ":"] + ["  " + line for line in lines]), flush=True)

    return note, report


@pytest.fixture(scope="session")
def lab_factory():
    """lab_factory(name, topology="two-links", backend="nspawn") -> Lab,
    booted the first time a name is asked for and shared by the session;
    every lab booted here is brought down at the end of the session, also
    when tests fail or the run is interrupted."""
    if os.geteuid() != 0:
        pytest.fail("tests/system need root (the lab boots systemd-nspawn machines)")
    labs = {}

    def make(name, topology="two-links", backend="nspawn"):
        if name in labs:
            lab = labs[name]
            assert (lab.topology, lab.backend) == (topology, backend), (
                "lab %s is already up with topology %s/%s" % (name, lab.topology, lab.backend))
            return lab
        lab = Lab(name, topology, backend)
        labs[name] = lab  # registered first: a half-booted lab is downed too
        lab.up()
        return lab

    try:
        yield make
    finally:
        failures = []
        for lab in labs.values():
            result = lab.down()
            if result.returncode != 0:
                failures.append("%s: %s" % (lab.name, result.stdout))
        if failures:
            raise AssertionError("could not bring labs down:\n" + "\n".join(failures))
