"""What every benchmark section shares (bench.py, control.py): the lab a
section boots and takes down, running a command or a playbook, the machine."""

import json
import os
import platform
import re
import resource
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lab"))

import yaml  # noqa: E402

from mptcp_lab.lab import Lab  # noqa: E402

LAB_CLI = [sys.executable, str(ROOT / "tests" / "lab" / "mptcp-lab")]
BIN = Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"),
           ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="true", ANSIBLE_FORKS="16", ANSIBLE_NOCOLOR="1",
           ANSIBLE_HOST_KEY_CHECKING="false", ANSIBLE_RETRY_FILES_ENABLED="false")
PREFIX = ["bench"]  # the smoke run has its own labs: it may run beside a full one


def log(message):
    print("bench: %s" % message, flush=True)


class BenchError(Exception):
    pass


def run(argv, timeout=900, env=None):
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, env=env,
                            check=False)
    if result.returncode:
        said = (result.stderr or result.stdout).strip()[-2000:]
        raise BenchError("%s failed (%d): %s" % (shlex.join(str(a) for a in argv[:8]), result.returncode, said))
    return result.stdout


# -- the lab ------------------------------------------------------------------
class LabRun(object):
    """One lab, up for a `with` block and down after it, whatever happens."""

    def __init__(self, name, topology):
        self.name, self.topology = "%s-%s" % (PREFIX[0], name), topology

    def __enter__(self):
        self.cli("down")  # a leftover from an interrupted run
        started = time.monotonic()
        self.cli("up", "--topology", self.topology)
        self.boot_seconds = time.monotonic() - started
        self.lab = Lab(self.name)
        return self

    def __exit__(self, *exc_info):
        self.cli("down")

    def cli(self, *args):
        return run(LAB_CLI + ["--lab", self.name] + list(args), timeout=600)

    @property
    def inventory(self):
        return str(Lab(self.name).inventory_path)

    def hosts(self):
        return list(Lab(self.name).state["hosts"])

    def netns(self, host, argv):
        """argv in a host's network namespace only, with this machine's binaries."""
        return ["nsenter", "--target=%s" % Lab(self.name).runtime(host)["leader_pid"], "--net", "--"] + argv

    def sh(self, host, command):
        """A shell command inside a host (its own binaries, files and systemd)."""
        return self.cli("exec", host, "--", "sh", "-c", command)

    def address(self, host, link):
        return self.lab.topo["links"][link][host]["address"]

    def links_overlay(self, path, backup=()):
        """An inventory file that gives every host its lab mptcp_links with
        the links named in backup marked `backup: true` (the role's intent;
        the plan puts backup on the endpoints of both ends); a host without
        mptcp_links (a router) is left out. Given after the
        lab's inventory (`-i lab -i overlay`), its host variables win."""
        hosts = yaml.safe_load(Path(self.inventory).read_text())["all"]["hosts"]
        overlay = {"all": {"hosts": {host: {"mptcp_links": [
            dict(link, backup=True) if link["interface"] in backup else link for link in hostvars["mptcp_links"]]}
            for host, hostvars in hosts.items() if hostvars.get("mptcp_links")}}}
        Path(path).write_text(yaml.safe_dump(overlay, sort_keys=False))
        return str(path)

    def links(self):
        return list(self.lab.topo["links"])

    def playbook(self, path, extra=(), callback=None, env=None):
        """Wall time, summed changed count and output of one ansible-playbook run
        (``env``: more environment; ``self.last_cpu`` is then the CPU seconds
        of the run's whole process tree)."""
        env = dict(ENV, **(env or {}))
        if callback:
            env["ANSIBLE_STDOUT_CALLBACK"] = callback
        started = time.monotonic()
        # nothing else of this process runs meanwhile: its children's CPU is the run's
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        # Its own process group: a stopped benchmark ends its forked workers too, not only the parent.
        process = subprocess.Popen([str(BIN / "ansible-playbook"), "-i", self.inventory, str(path)] + list(extra),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT),
                                   start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=1800)
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        seconds = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.last_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        recap = re.findall(r"^(\S+)\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                           result.stdout, re.M)
        if result.returncode or (not callback and not recap) or any(int(u) or int(f) for _h, _o, _c, u, f in recap):
            failed = sorted(set(re.findall(r"^fatal: \[([^\]]+)\]", result.stdout, re.M)))
            # The first failed task and its message, on the first line: that line is what the report keeps.
            task = re.search(r"^(?:TASK|RUNNING HANDLER) \[([^\]]*)\][^\n]*\n(?:(?!TASK \[|RUNNING HANDLER \[).*\n)*?"
                             r"fatal: \[[^\]]+\]: \w+! => (.*)$", result.stdout, re.M)
            what = "task %r: %s" % (task.group(1), task.group(2)[:400]) if task else "?"
            raise BenchError("%s on lab %s failed (%d) on %s: %s; units: %s\n%s" % (
                Path(path).name, self.name, result.returncode, ", ".join(failed) or "?", what,
                self.failed_units(failed[:3]), (result.stdout + result.stderr)[-3000:]))
        return seconds, sum(int(c) for _h, _o, c, _u, _f in recap), result.stdout

    def failed_units(self, hosts):
        """What systemd says of failed units on hosts (e.g. a limits unit's status=219/CGROUP)."""
        said = []
        for host in hosts:
            try:
                said.append("%s: %s" % (host, " | ".join(self.sh(host, (
                    "systemctl --failed --no-legend --plain; systemctl status --no-pager -n 0 set_mptcp_limit.service "
                    "| grep -i 'process\\|status='; journalctl -b --no-pager -q -n 3 -u set_mptcp_limit.service"
                )).split("\n")).strip()))
            except BenchError as exc:
                said.append("%s: %s" % (host, exc))
        return "; ".join(said)

    def configured_endpoints(self, host):
        """The host's kernel endpoints now, without the kernel's own implicit
        ones (0x10, iproute2 6.1 prints rawflags 10): what the plan made."""
        listed = json.loads(run(self.netns(host, ["ip", "-j", "mptcp", "endpoint", "show"])) or "[]")
        return sorted(e["address"] for e in listed if not e.get("implicit") and e.get("rawflags") != "10")

    def wait_endpoints(self, host, addresses, timeout=60):
        """Until every address is a kernel endpoint of host (NetworkManager adds them on activation)."""
        deadline = time.monotonic() + timeout
        while True:
            listed = run(self.netns(host, ["ip", "-j", "mptcp", "endpoint", "show"]))
            shown = {e.get("address") for e in json.loads(listed or "[]")}
            if set(addresses) <= shown:
                return
            if time.monotonic() > deadline:
                raise BenchError("%s: endpoints %s not back within %d s (have %s)" % (
                    host, sorted(addresses), timeout, sorted(shown)))
            time.sleep(0.2)


def machine():
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "cpu": model,
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30),
            "os": Path("/etc/debian_version").read_text().strip() if Path("/etc/debian_version").exists() else "",
            "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True, check=False).stdout.strip()}
