"""Helpers of the fault suite (test_faults.py), on top of conftest's Lab:
ansible-playbook runs in the background that a test can kill or race,
host state compared without the parts that legitimately change, and an
MPTCP transfer with an end-to-end hash that runs inside the lab hosts."""

import copy
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import LAB_TOOL, ROOT, VENV_BIN, PlaybookResult, ansible_env, diff_snapshots

PERMANENT = "playbooks/permanent.yml"
DISABLE = "playbooks/disable.yml"
TEMPORARY = "playbooks/temporary.yml"

# What a role writes on a host lives in these trees (conftest's snapshot
# covers them); anything new there after a fault is a leftover.
WRITTEN_TREES = ("/etc/sysctl.d", "/etc/sysctl.conf", "/etc/systemd/system",
                 "/etc/NetworkManager/system-connections", "/etc/NetworkManager/conf.d")


# -- playbooks in the background ----------------------------------------------

class BackgroundPlaybook:
    """ansible-playbook started in a session of its own, so that the test can
    SIGKILL its whole process group (controller, forks, connection processes)
    by the PID it started, or race it against another run."""

    def __init__(self, lab, path, log_path, extra_vars=None, diff=False, limit=None):
        self.argv = [str(VENV_BIN / "ansible-playbook"), "-i", lab.inventory, str(ROOT / path)]
        for item in extra_vars or []:
            self.argv += ["-e", item if isinstance(item, str) else json.dumps(item)]
        if diff:
            self.argv.append("--diff")
        if limit:
            self.argv += ["--limit", limit]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
                                     env=ansible_env(), stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid

    @property
    def output(self):
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout):
        """The finished run; a run still going after timeout is a hang: it is
        killed and the test fails."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("ansible-playbook (pid %d) still ran after %d s: hung\n%s"
                                 % (self.pid, timeout, self.output[-4000:]))
        self._log.close()
        return PlaybookResult(self.argv, self.proc.returncode, self.output, time.monotonic() - self.started)

    def wait_for_output(self, pattern, timeout):
        """Block until the run prints a line matching pattern (True), or ends or
        times out without it (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.output, re.M):
                return True
            if self.proc.poll() is not None:
                return bool(re.search(pattern, self.output, re.M))
            time.sleep(0.05)
        return False

    def kill(self):
        """SIGKILL the controller we started and everything it started: its
        process group, and the forks that ansible-core moves into sessions of
        their own (os.setsid) with their connection and module processes, each
        by PID. All are stopped (SIGSTOP) first, so none can start another
        process in between. Returns the PIDs killed."""
        frozen = []
        while True:
            new = [pid for pid in [self.pid] + descendants(self.pid) if pid not in frozen]
            if not new:
                break
            for pid in new:
                signal_pid(pid, signal.SIGSTOP)
            frozen += new
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in frozen:
            signal_pid(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()
        return frozen


def signal_pid(pid, signum):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def process_table():
    """{pid: (ppid, pgid)} of every live process (host PID namespace view)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path("/proc/%s/stat" % entry).read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] != "Z":
            table[int(entry)] = (int(fields[1]), int(fields[2]))
    return table


def descendants(pid):
    table = process_table()
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, (ppid, _pgid) in table.items() if ppid == parent]
        found += children
        frontier += children
    return found


def wait_gone(pids, timeout=30):
    """Every one of pids has ended (PIDs are not reused that fast here)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [pid for pid in pids if pid in process_table()]
        if not alive:
            return
        if time.monotonic() > deadline:
            raise AssertionError("processes survive their SIGKILL: %s" % alive)
        time.sleep(0.05)


# -- what a run did ---------------------------------------------------------------

TASK_RE = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(?:[\w.]+ : )?(.*?)\] \**$")
CHANGED_RE = re.compile(r"^changed: \[([^\]]+)\](?: => \(item=(.*?)\))?")


def changed_tasks(output):
    """{host: ["task", "task (item)", ...]} of every `changed:` line of the default callback."""
    changed, task = {}, None
    for line in output.splitlines():
        match = TASK_RE.match(line)
        if match:
            task = match.group(1)
            continue
        match = CHANGED_RE.match(line)
        if match and task:
            host, item = match.group(1), match.group(2)
            changed.setdefault(host, []).append("%s (%s)" % (task, item) if item else task)
    return changed


def assert_no_traceback(result):
    assert "Traceback (most recent call last)" not in result.output, result.output[-6000:]


def tail(result, lines=80):
    return "\n".join(result.output.splitlines()[-lines:])


# -- host state -------------------------------------------------------------------

# Runs inside a host: the sha256 of each NetworkManager keyfile without its
# timestamp= line, which NetworkManager rewrites with the time of the last
# activation whenever it saves the profile (so equal profiles differ there).
KEYFILE_SCRIPT = r'''
import glob, hashlib, json
digests = {}
for path in glob.glob("/etc/NetworkManager/system-connections/*"):
    try:
        with open(path, "rb") as handle:
            lines = [line for line in handle.read().splitlines(True) if not line.startswith(b"timestamp=")]
    except OSError:
        continue
    digests[path] = hashlib.sha256(b"".join(lines)).hexdigest()
print(json.dumps(digests))
'''


def snapshot(lab, host):
    """conftest's snapshot, with the keyfiles' digests taken without their timestamp."""
    snap = lab.snapshot(host)
    digests = json.loads(lab.exec(host, ["/usr/bin/python3", "-c", KEYFILE_SCRIPT], check=True).stdout)
    for path, digest in digests.items():
        if snap["files"].get(path, {}).get("type") == "file":
            snap["files"][path]["sha256"] = "without timestamp: " + digest
    return snap


def is_implicit(endpoint):
    return bool(endpoint.get("implicit")) or bool(int(str(endpoint.get("rawflags", "0")), 16) & 0x10)


def state(snapshot):
    """A snapshot without what differs between two equal configurations:
    endpoint ids (the kernel picks a new one at every re-add), the endpoints
    the kernel makes itself and profile UUIDs (see below)."""
    snap = copy.deepcopy(snapshot)
    # The kernel makes an endpoint itself (flag implicit, 0x10; iproute2 6.1
    # prints it as rawflags) for the local address of a subflow to an address
    # the peer announced; no role makes or removes those: traffic does.
    if isinstance(snap.get("endpoints"), list):
        snap["endpoints"] = [endpoint for endpoint in snap["endpoints"] if not is_implicit(endpoint)]
    # NetworkManager makes the in-memory profile of lo with a new UUID at every boot
    if isinstance(snap.get("nm_profiles"), dict) and "nmcli_error" not in snap["nm_profiles"]:
        snap["nm_profiles"] = sorted((profile for profile in snap["nm_profiles"].values()),
                                     key=lambda profile: json.dumps(profile, sort_keys=True))
    if isinstance(snap.get("endpoints"), list):
        snap["endpoints"] = sorted(({k: v for k, v in endpoint.items() if k != "id"} for endpoint in snap["endpoints"]),
                                   key=lambda endpoint: json.dumps(endpoint, sort_keys=True))
    return snap


def assert_state(lab, host, wanted, what):
    """The host's real state equals wanted (a state() of a snapshot)."""
    now = state(snapshot(lab, host))
    assert now == wanted, "%s: %s differs from the wanted state:\n%s" % (
        what, host, "\n".join(diff_snapshots(wanted, now)))
    return now


def file_versions(snapshot):
    """{path: descriptor} of the trees a role writes."""
    return {path: entry for path, entry in snapshot["files"].items() if path.startswith(WRITTEN_TREES)}


def mixed_versions(after, old, new):
    """Lines naming every file of `after` that is neither its old nor its new
    version (a partial write), and every file that neither had (a leftover)."""
    problems = []
    for path in sorted(set(after) | set(old) | set(new)):
        allowed = [version.get(path) for version in (old, new)]
        if after.get(path) not in allowed:
            if path not in old and path not in new:
                problems.append("%s: left over (in neither version): %r" % (path, after[path]))
            else:
                problems.append("%s: %r is neither the old %r nor the new %r"
                                % (path, after.get(path), allowed[0], allowed[1]))
    return problems


def ansible_leftovers(lab, host):
    """Ansible's own remote temporary directories left in a host (a killed
    controller cannot remove them); reported, not ours to judge."""
    result = lab.exec(host, ["sh", "-c", "ls -A /root/.ansible/tmp 2>/dev/null || true"], check=True)
    return result.stdout.split()


def module_processes(lab, host):
    """Ansible module processes still running in a host."""
    result = lab.exec(host, ["pgrep", "-af", "AnsiballZ|ansible-tmp"])
    return [line for line in result.stdout.splitlines() if "pgrep" not in line]


# -- a transfer across a fault ------------------------------------------------------

# Runs inside a lab host (Debian 12's python3, standard library only).
# `receive PORT`: accept one MPTCP connection, read to EOF, report.
# `send ADDRESS PORT BYTES RATE`: send BYTES of seeded pseudo-random data at
# about RATE bytes/s, then wait until the receiver has closed (everything
# delivered). Both print one JSON line: bytes, sha256 of the data, and
# [monotonic time, subflows] samples of MPTCP_INFO taken every 100 ms.
FLOW_SCRIPT = r'''
import hashlib, json, random, socket, sys, time
IPPROTO_MPTCP, SOL_MPTCP, MPTCP_INFO = 262, 284, 1
DEADLINE = time.monotonic() + float(sys.argv[-1])

def subflows(sock):
    try:
        return sock.getsockopt(SOL_MPTCP, MPTCP_INFO, 64)[0]
    except OSError:
        return -1  # fell back to TCP: no MPTCP_INFO

def report(**values):
    print(json.dumps(values), flush=True)

def receive(port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(1)
    listener.settimeout(DEADLINE - time.monotonic())
    print("listening", flush=True)
    conn, peer = listener.accept()
    digest, total, samples, last = hashlib.sha256(), 0, [], 0.0
    while True:
        conn.settimeout(max(DEADLINE - time.monotonic(), 0.1))
        data = conn.recv(65536)
        now = time.monotonic()
        if now - last >= 0.1:
            samples.append([round(now, 2), subflows(conn)])
            last = now
        if not data:
            break
        digest.update(data)
        total += len(data)
    conn.close()
    report(role="receiver", bytes=total, sha256=digest.hexdigest(), peer=peer[0], samples=samples)

def send(address, port, size, rate):
    rng = random.Random(20261127)
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    conn.settimeout(DEADLINE - time.monotonic())
    conn.connect((address, port))
    digest, total, samples, last = hashlib.sha256(), 0, [], 0.0
    started = time.monotonic()
    while total < size:
        chunk = rng.randbytes(min(16384, size - total))
        conn.settimeout(max(DEADLINE - time.monotonic(), 0.1))
        conn.sendall(chunk)
        digest.update(chunk)
        total += len(chunk)
        now = time.monotonic()
        if now - last >= 0.1:
            samples.append([round(now, 2), subflows(conn)])
            last = now
        pause = started + total / rate - now
        if pause > 0:
            time.sleep(pause)
    # after the data, keep sampling until the receiver has read it all and closed
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(0.1)
    while True:
        samples.append([round(time.monotonic(), 2), subflows(conn)])
        try:
            if conn.recv(1) == b"":
                break
        except socket.timeout:
            if time.monotonic() > DEADLINE:
                raise
    conn.close()
    report(role="sender", bytes=total, sha256=digest.hexdigest(), seconds=round(time.monotonic() - started, 2),
           samples=samples)

try:
    if sys.argv[1] == "receive":
        receive(int(sys.argv[2]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
except OSError as exc:
    report(role=sys.argv[1], error="%s: %s" % (type(exc).__name__, exc))
    sys.exit(1)
'''


class HostProcess:
    """A command running inside a lab host, started through the lab tool; its
    output is collected in a file."""

    def __init__(self, lab, host, argv, log_path):
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(LAB_TOOL + ["--lab", lab.name, "exec", host, "--"] + [str(a) for a in argv],
                                     stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=ROOT, start_new_session=True)

    @property
    def output(self):
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            raise AssertionError("still running after %d s:\n%s" % (timeout, self.output))
        finally:
            self._log.close()
        return self.proc.returncode

    def report(self):
        for line in reversed(self.output.splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        raise AssertionError("no report in:\n" + self.output)


def flow_argv(*args, deadline=60):
    return ["/usr/bin/python3", "-c", FLOW_SCRIPT] + [str(a) for a in args] + [str(deadline)]
