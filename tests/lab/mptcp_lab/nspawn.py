"""Hosts as systemd-nspawn machines; links as veth pairs.

Each machine boots (`-b`) its own overlayfs mount: the image rootfs is the
read-only lower layer shared by all, the upper layer is the machine's disk
state, kept across reboots until `down`. Links are veth pairs created
directly inside the two machines' network namespaces (`ip link add NAME
netns PID ... peer NAME netns PID`), because nspawn's own
--network-interface needs udev on the host. A veth pair dies with either
netns, so links are re-plugged after a reboot.

A segment (several links on one subnet) is a bridge in a network namespace
of its own, held by a shell started in a new session (`unshare --net`):
each end of its links is a veth pair from the host to a bridge port there.
`down` ends that process group, and the namespace with it.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

from .hostfiles import write_tree
from .util import LabError, log, pid_alive, run, wait_for

CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# NetworkManager's startup, on the hosts that run it (a networkd topology
# masks it; the lab then waits for the addresses alone).
WAIT_NETWORK_MANAGER = ["sh", "-c", "if systemctl -q is-enabled NetworkManager.service; then "
                        "exec nm-online --wait-for-startup --timeout=60 --quiet; fi"]


def enter_argv(leader_pid, argv):
    """argv run inside all namespaces of a machine, with a clean environment."""
    return ["nsenter", f"--target={leader_pid}", "--mount", "--uts", "--ipc", "--net",
            "--pid", "--cgroup", "--root", "--wd", "--",
            "/usr/bin/env", "-i", f"PATH={CONTAINER_PATH}", "HOME=/root",
            f"TERM={os.environ.get('TERM', 'dumb')}", *argv]


def netns_argv(leader_pid, argv):
    """argv run in a machine's network namespace only (host binaries)."""
    return ["nsenter", f"--target={leader_pid}", "--net", "--", *argv]


def _children(pid):
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


class NspawnBackend:
    name = "nspawn"

    def __init__(self, lab):
        self.lab = lab

    # -- paths -------------------------------------------------------------
    def host_dir(self, host):
        return self.lab.state_dir / "hosts" / host

    def root(self, host):
        return self.host_dir(host) / "root"

    # -- lifecycle ---------------------------------------------------------
    def prepare(self, host, files):
        """Create and mount the machine's overlay and write its files."""
        hdir = self.host_dir(host)
        for sub in ("upper", "work", "root"):
            (hdir / sub).mkdir(parents=True, exist_ok=True)
        write_tree(hdir / "upper", files)
        self.mount(host)

    def mount(self, host):
        hdir = self.host_dir(host)
        if self.mounted(host):
            return
        run(["mount", "-t", "overlay", f"mptcp-lab-{self.lab.name}-{host}", "-o",
             f"lowerdir={self.lab.image.rootfs},upperdir={hdir / 'upper'},workdir={hdir / 'work'}",
             hdir / "root"])

    def mounted(self, host):
        target = str(self.root(host))
        with open("/proc/mounts") as mounts:
            return any(line.split()[1] == target for line in mounts)

    def start(self, host):
        """Start nspawn for host; return its runtime record (PIDs)."""
        hdir = self.host_dir(host)
        self.mount(host)
        console = open(hdir / "console.log", "ab")
        argv = ["systemd-nspawn", "--boot", "--directory", str(self.root(host)),
                f"--machine={self.lab.name}-{host}", f"--hostname={host}",
                "--private-network", "--register=no", "--keep-unit",
                "--console=read-only", "--kill-signal=SIGRTMIN+3"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=console,
                                stderr=subprocess.STDOUT, start_new_session=True)
        console.close()
        # The container's PID 1 (systemd) is nspawn's direct child; its
        # network namespace exists from the start, before systemd runs.
        leader = wait_for(lambda: self._leader(proc.pid), 20, f"{host}'s init to start")
        return {"nspawn_pid": proc.pid, "leader_pid": leader, "started": time.time()}

    def _leader(self, nspawn_pid):
        if not pid_alive(nspawn_pid):
            raise LabError("systemd-nspawn exited early; see console.log")
        own_netns = os.readlink("/proc/self/ns/net")
        for child in _children(nspawn_pid):
            try:
                if os.readlink(f"/proc/{child}/ns/net") != own_netns:
                    return child
            except FileNotFoundError:
                continue
        return None

    def wait_ready(self, host, runtime, timeout=120):
        """Ready = systemd finished booting and NetworkManager is up."""
        leader = runtime["leader_pid"]

        def booted():
            if not pid_alive(runtime["nspawn_pid"]):
                raise LabError(f"{host}: systemd-nspawn exited during boot; see {self.host_dir(host)}/console.log")
            state = run(enter_argv(leader, ["systemctl", "is-system-running"]),
                        check=False, capture=True).strip()
            return state in ("running", "degraded")

        wait_for(booted, timeout, f"{host} to boot")
        run(enter_argv(leader, WAIT_NETWORK_MANAGER))

    def stop(self, host, runtime, timeout=30):
        """Power the machine off (SIGRTMIN+3 to its systemd via nspawn)."""
        pid = runtime.get("nspawn_pid")
        if pid and pid_alive(pid) and self._is_ours(pid, host):
            os.kill(pid, signal.SIGTERM)  # nspawn forwards --kill-signal to init
            try:
                wait_for(lambda: not pid_alive(pid), timeout, f"{host} to power off")
            except TimeoutError:
                log(f"{host}: did not power off in {timeout} s, killing nspawn {pid}")
                # Killing the container's PID 1 ends its whole PID namespace.
                leader = runtime.get("leader_pid")
                if leader and pid_alive(leader):
                    os.kill(leader, signal.SIGKILL)
                os.killpg(pid, signal.SIGKILL)
                wait_for(lambda: not pid_alive(pid), 10, f"{host} nspawn to die")
        self._reap(pid)

    def _is_ours(self, pid, host):
        """Guard against a recycled PID: check it is our nspawn command."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return False
        return (cmdline[0].endswith(b"systemd-nspawn")
                and f"--machine={self.lab.name}-{host}".encode() in cmdline)

    @staticmethod
    def _reap(pid):
        # nspawn was started by an earlier run of this tool; when it is our
        # child (same process) collect its exit status.
        try:
            os.waitpid(pid, os.WNOHANG)
        except (ChildProcessError, TypeError):
            pass

    def reboot(self, host, runtime, timeout=60):
        """systemctl reboot inside; nspawn exits (status 133) and we start it again."""
        pid = runtime["nspawn_pid"]
        run(enter_argv(runtime["leader_pid"], ["systemctl", "reboot"]), check=False)
        wait_for(lambda: not pid_alive(pid), timeout, f"{host} to shut down")
        self._reap(pid)
        return self.start(host)

    def teardown(self, host):
        if self.mounted(host):
            run(["umount", self.root(host)])

    # -- running things inside --------------------------------------------
    def exec_argv(self, host, runtime, argv):
        return enter_argv(runtime["leader_pid"], argv)

    def net_argv(self, host, runtime, argv):
        return netns_argv(runtime["leader_pid"], argv)

    # -- links ---------------------------------------------------------------
    def plug(self, link, ends):
        """ends: [(host, runtime, end, mac)] x2; creates the veth pair."""
        (h1, rt1, e1, mac1), (h2, rt2, e2, mac2) = ends
        run(["ip", "link", "add", e1["ifname"], "netns", rt1["leader_pid"], "address", mac1,
             "type", "veth", "peer", "name", e2["ifname"], "netns", rt2["leader_pid"],
             "address", mac2])

    def plug_port(self, end, runtime, mac, switch, bridge, port):
        """One end of a segment's link: a veth pair from the host to a port of the bridge."""
        run(["ip", "link", "add", end["ifname"], "netns", runtime["leader_pid"], "address", mac,
             "type", "veth", "peer", "name", port, "netns", switch["switch_pid"]])
        run(netns_argv(switch["switch_pid"], ["ip", "link", "set", "dev", port, "master", bridge, "up"]))

    # -- segments: a bridge in a namespace of its own ----------------------------
    def _switch_marker(self, segment):
        return f"mptcp-lab-{self.lab.name}-{segment}"

    def start_switch(self, segment):
        """A network namespace holding the segment's bridge (named after it);
        returns its runtime record."""
        argv = ["unshare", "--net", "--", "sh", "-c", "while :; do sleep 3600; done", self._switch_marker(segment)]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        own_netns = os.readlink("/proc/self/ns/net")

        def in_own_netns():
            if not pid_alive(proc.pid):
                raise LabError(f"segment {segment}: unshare exited early")
            try:
                return os.readlink(f"/proc/{proc.pid}/ns/net") != own_netns and self._is_switch(proc.pid, segment)
            except FileNotFoundError:
                return False

        wait_for(in_own_netns, 10, f"segment {segment}'s namespace")
        # no STP: a port forwards as soon as it is up
        run(netns_argv(proc.pid, ["ip", "link", "add", segment, "type", "bridge", "stp_state", "0"]))
        run(netns_argv(proc.pid, ["ip", "link", "set", "dev", segment, "up"]))
        return {"switch_pid": proc.pid}

    def _is_switch(self, pid, segment):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return False
        return self._switch_marker(segment).encode() in cmdline

    def stop_switch(self, segment, runtime):
        pid = runtime.get("switch_pid")
        if pid and pid_alive(pid) and self._is_switch(pid, segment):
            # the shell and its sleep: the session we started it in
            os.killpg(pid, signal.SIGTERM)
            wait_for(lambda: not pid_alive(pid), 10, f"segment {segment}'s namespace to go")
        self._reap(pid)

    def host_inventory(self, host, runtime):
        return {
            "ansible_connection": "community.docker.nsenter",
            "ansible_nsenter_pid": runtime["leader_pid"],
        }

    def interactive_argv(self, host, runtime):
        return enter_argv(runtime["leader_pid"], ["bash", "-l"])
