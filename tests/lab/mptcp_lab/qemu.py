"""Hosts as qemu VMs (TCG: KVM guests hang on this machine kind).

Every VM boots the image's Debian cloud kernel and initramfs (-kernel,
-initrd) with its root on a qcow2 overlay of the image's raw ext4 disk, plus
a small read-only "seed" disk with its hostname, NM profiles and the lab's
ssh key (applied by mptcp-lab-seed.service in the image). NICs:

  mgmt   user-mode networking, restrict=on (no way out), ssh forwarded from
         127.0.0.1:<port>; its NM profile has mptcp-flags=disabled and no
         gateway so it never carries MPTCP subflows;
  <link> one virtio NIC per link, a `-netdev dgram` UDP tunnel between the
         two VMs on 127.0.0.1 ports (works in any start order).

Every NIC has an explicit MAC (two VMs would otherwise get the same ones);
the seed script renames NICs by MAC to the link names.
"""

import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .hostfiles import nm_profile, write_tree
from .nspawn import WAIT_NETWORK_MANAGER
from .util import LabError, log, pid_alive, run, wait_for

SSH_OPTIONS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
               "-o", "ConnectTimeout=5"]
VM_MEMORY_MB = 1024


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class QemuBackend:
    name = "qemu"

    def __init__(self, lab):
        self.lab = lab

    def host_dir(self, host):
        return self.lab.state_dir / "hosts" / host

    @property
    def key(self):
        return self.lab.state_dir / "ssh" / "id_ed25519"

    def _ensure_key(self):
        if not self.key.exists():
            self.key.parent.mkdir(parents=True, exist_ok=True)
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"mptcp-lab-{self.lab.name}",
                 "-f", self.key])
        return self.key.with_suffix(".pub").read_text()

    # -- lifecycle -----------------------------------------------------------
    def prepare(self, host, files):
        """qcow2 overlay, seed disk and port plan for host."""
        vm_files = self.lab.image.ensure_vm_files()
        hdir = self.host_dir(host)
        hdir.mkdir(parents=True, exist_ok=True)
        pubkey = self._ensure_key()
        plan = self.lab.state.setdefault("qemu", {}).setdefault(host, {})
        plan.setdefault("ssh_port", free_port())
        plan["mgmt_mac"] = self.lab.mac(host, 0)
        files = dict(files)
        files["/root/.ssh/authorized_keys"] = (pubkey, 0o600)
        files["/etc/NetworkManager/system-connections/mgmt.nmconnection"] = (
            nm_profile(self.lab.name, host, "mgmt", ifname="mgmt", mptcp_flags=1,
                       addresses=[{"cidr": "10.0.2.15/24", "family": 4}]), 0o600)
        ifnames = [f"{plan['mgmt_mac']} mgmt"]
        for link, end in self.lab.links_of(host):
            ifnames.append(f"{self.lab.mac(host, self.lab.link_index(link))} {end['ifname']}")
        with tempfile.TemporaryDirectory(dir=hdir) as seed_dir:
            seed = Path(seed_dir)
            write_tree(seed / "files", files)
            (seed / "files" / "root" / ".ssh").chmod(0o700)
            (seed / "ifnames").write_text("\n".join(ifnames) + "\n")
            run(["mkfs.ext4", "-q", "-F", "-L", "mptcplab-seed", "-d", seed, hdir / "seed.img", "4M"],
                capture=True)
        disk = hdir / "disk.qcow2"
        if not disk.exists():
            run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                 vm_files / "root.raw", disk])

    def _link_ports(self, link):
        """Two UDP ports per link, one per end, fixed for the lab's life."""
        ports = self.lab.state.setdefault("qemu_links", {})
        if link not in ports:
            ports[link] = [free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)]
        return ports[link]

    def argv(self, host):
        hdir = self.host_dir(host)
        vm = self.lab.image.recipe["vm"]
        vm_files = self.lab.image.vm_dir
        plan = self.lab.state["qemu"][host]
        argv = ["qemu-system-x86_64", "-name", f"{self.lab.name}-{host}",
                "-machine", "q35", "-accel", "tcg,tb-size=256", "-cpu", "max",
                "-smp", "1", "-m", str(VM_MEMORY_MB),
                "-kernel", vm_files / "vmlinuz", "-initrd", vm_files / "initrd.img",
                "-append", vm["cmdline"],
                "-drive", f"file={hdir / 'disk.qcow2'},if=virtio,format=qcow2",
                "-drive", f"file={hdir / 'seed.img'},if=virtio,format=raw,readonly=on",
                "-netdev", f"user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:{plan['ssh_port']}-:22",
                "-device", f"virtio-net-pci,netdev=mgmt,mac={plan['mgmt_mac']}",
                "-display", "none", "-serial", f"file:{hdir / 'console.log'}",
                "-monitor", f"unix:{hdir / 'monitor.sock'},server=on,wait=off",
                "-pidfile", hdir / "qemu.pid", "-daemonize"]
        for link, _end in self.lab.links_of(host):
            ports = self._link_ports(link)
            hosts = list(self.lab.topo["links"][link])
            mine, theirs = (ports if hosts.index(host) == 0 else ports[::-1])
            argv += ["-netdev", f"dgram,id={link},local.type=inet,local.host=127.0.0.1,"
                                f"local.port={mine},remote.type=inet,remote.host=127.0.0.1,"
                                f"remote.port={theirs}",
                     "-device", f"virtio-net-pci,netdev={link},"
                                f"mac={self.lab.mac(host, self.lab.link_index(link))}"]
        return [str(a) for a in argv]

    def start(self, host):
        hdir = self.host_dir(host)
        pidfile = hdir / "qemu.pid"
        pidfile.unlink(missing_ok=True)
        run(self.argv(host))
        pid = int(pidfile.read_text())
        return {"qemu_pid": pid, "started": time.time(), "boot_id": None}

    def ssh_argv(self, host, argv=(), tty=False):
        plan = self.lab.state["qemu"][host]
        # ssh hands the guest's shell one string: quote each word, or
        # ["sh", "-c", "a; b"] would run "sh -c a" and then "b".
        return ["ssh", *SSH_OPTIONS, "-i", str(self.key), "-p", str(plan["ssh_port"]),
                *(["-t"] if tty else []), "root@127.0.0.1", *([shlex.join(argv)] if argv else [])]

    def _boot_id(self, host):
        out = self._ssh_quietly(host, ["cat", "/proc/sys/kernel/random/boot_id"])
        return out.stdout.strip() if out and out.returncode == 0 else None

    def _ssh_quietly(self, host, argv):
        """Run argv over ssh; None when ssh hangs (a VM going down can)."""
        try:
            return subprocess.run(self.ssh_argv(host, argv), stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=30, check=False)
        except subprocess.TimeoutExpired:
            return None

    def wait_ready(self, host, runtime, timeout=300):
        """Ready = ssh answers (in a new boot), systemd booted, NM started."""
        def ssh_up():
            if not pid_alive(runtime["qemu_pid"]):
                raise LabError(f"{host}: qemu exited; see {self.host_dir(host)}/console.log")
            boot_id = self._boot_id(host)
            return boot_id if boot_id and boot_id != runtime.get("boot_id") else None

        runtime["boot_id"] = wait_for(ssh_up, timeout, f"{host} ssh", interval=1)
        run(self.ssh_argv(host, ["systemctl", "is-system-running", "--wait"]), check=False,
            capture=True)
        run(self.ssh_argv(host, WAIT_NETWORK_MANAGER))

    def stop(self, host, runtime, timeout=60):
        pid = runtime.get("qemu_pid")
        if not (pid and pid_alive(pid) and self._is_ours(pid, host)):
            return
        # A clean poweroff first (keeps the overlay consistent), then SIGTERM.
        self._ssh_quietly(host, ["systemctl", "poweroff"])
        try:
            wait_for(lambda: not pid_alive(pid), timeout, f"{host} to power off", interval=0.5)
        except TimeoutError:
            log(f"{host}: no clean poweroff in {timeout} s, terminating qemu {pid}")
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not pid_alive(pid), 20, f"qemu {pid} to exit")

    def _is_ours(self, pid, host):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return False
        return b"qemu-system" in cmdline[0] and f"{self.lab.name}-{host}".encode() in cmdline

    def reboot(self, host, runtime, timeout=300):
        """A guest reboot: qemu resets the VM in place, NICs stay plugged."""
        self._ssh_quietly(host, ["systemctl", "reboot"])
        return dict(runtime)  # same qemu process; wait_ready waits for a new boot_id

    def teardown(self, host):
        pass

    # -- running things inside --------------------------------------------------
    def exec_argv(self, host, runtime, argv):
        return self.ssh_argv(host, argv)

    def net_argv(self, host, runtime, argv):
        return self.ssh_argv(host, argv)

    def interactive_argv(self, host, runtime):
        return self.ssh_argv(host, tty=True)

    # -- links: the dgram tunnels exist as long as the VMs run ------------------
    def plug(self, link, ends):
        pass

    def host_inventory(self, host, runtime):
        plan = self.lab.state["qemu"][host]
        return {
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": plan["ssh_port"],
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.key),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            "ansible_ssh_pipelining": True,
        }
