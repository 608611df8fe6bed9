"""A lab: hosts booted from the cached image, wired by a topology.

Everything a lab starts is recorded in its state directory
(STATE_ROOT/<lab name>/state.json): the PIDs of the processes it started,
the mounts it made, link states, shaping and delay lines. `down` stops exactly those
PIDs and undoes exactly those mounts, so several labs can coexist.
"""

import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from . import topology as topology_mod
from .hostfiles import host_files
from .image import Image
from .nspawn import NspawnBackend
from .qemu import QemuBackend
from .topology import end_addresses, host_links, segment_of
from .util import LabError, log, pid_alive, run, wait_for

DELAYLINE = Path(__file__).resolve().with_name("delayline.py")
# the delay lines' packets wait in the kernel's queue <link index> of the
# receiving host, taken from the raw table before anything else sees them
DELAY_RULE = ["-t", "raw", "{action}", "PREROUTING", "-i", "{ifname}", "-j", "NFQUEUE", "--queue-num", "{queue}"]

STATE_ROOT = Path(os.environ.get("MPTCP_LAB_STATE", "/run/mptcp-lab"))
BACKENDS = {"nspawn": NspawnBackend, "qemu": QemuBackend}
INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
# Every booted nspawn host holds about 9 inotify instances (systemd, dbus,
# NetworkManager...), all counted against root on this machine: with the
# usual limit of 128 the 15th host or so never finishes booting.
MIN_INOTIFY_INSTANCES = 1024


def ensure_inotify_instances():
    """Raise fs.inotify.max_user_instances to MIN_INOTIFY_INSTANCES if lower.

    Never lowered again at `down`: other labs may still be running."""
    current = int(INOTIFY_INSTANCES.read_text())
    if current < MIN_INOTIFY_INSTANCES:
        INOTIFY_INSTANCES.write_text(f"{MIN_INOTIFY_INSTANCES}\n")
        log(f"fs.inotify.max_user_instances raised from {current} to {MIN_INOTIFY_INSTANCES}")


class Lab:
    def __init__(self, name, state_dir=None):
        self.name = name
        self.state_dir = Path(state_dir) if state_dir else STATE_ROOT / name
        self.state_file = self.state_dir / "state.json"
        self.state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        self._image = None

    # -- state ---------------------------------------------------------------
    @property
    def exists(self):
        return bool(self.state)

    def save(self):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        tmp.rename(self.state_file)

    @property
    def topo(self):
        return self.state["topology"]

    @property
    def image(self):
        if self._image is None:
            self._image = Image(self.state["image"])
        return self._image

    @property
    def backend(self):
        return BACKENDS[self.state["backend"]](self)

    def runtime(self, host):
        return self.state["hosts"][host]

    def links_of(self, host):
        for link, ends in self.topo["links"].items():
            if host in ends:
                yield link, ends[host]

    def link_index(self, link):
        return list(self.topo["links"]).index(link) + 1

    def mac(self, host, nic_index):
        """Locally administered, unique per lab, host and NIC."""
        lab_byte = hashlib.sha256(self.name.encode()).digest()[0]
        host_index = list(self.topo["hosts"]).index(host) + 1
        return f"02:6d:{lab_byte:02x}:{host_index:02x}:{nic_index:02x}:01"

    def timing(self, key, seconds):
        self.state.setdefault("timings", {})[key] = round(seconds, 2)
        log(f"{key}: {seconds:.1f} s")

    # -- up / down -----------------------------------------------------------
    def up(self, topology, backend="nspawn", image="debian12", inventory_copies=()):
        if self.exists:
            raise LabError(f"lab {self.name} is already up (state in {self.state_dir}); "
                           "run `down` first")
        topo = topology_mod.load(topology)
        if backend != "nspawn" and topology_mod.network_of(topo) != "networkmanager":
            # a VM's management NIC has a NetworkManager profile of its own
            raise LabError(f"topology {topology}: network {topo['network']} is for nspawn hosts only")
        if backend != "nspawn" and topo.get("segments"):
            # the VMs' links are UDP tunnels between two of them
            raise LabError(f"topology {topology}: segments ({', '.join(topo['segments'])}) are for nspawn hosts only")
        img = Image(image)
        build_s = img.ensure()
        self.state = {"name": self.name, "backend": backend, "image": image,
                      "image_dir": str(img.dir), "topology": topo, "hosts": {},
                      "links": {link: {"up": True, "rate": None} for link in topo["links"]},
                      "inventory_copies": [str(Path(p).resolve()) for p in inventory_copies]}
        self._image = img
        self.save()
        if build_s:
            self.timing("image_build", build_s)
        backend_impl = self.backend
        if backend == "nspawn":
            ensure_inotify_instances()
        started = time.monotonic()
        try:
            for host in topo["hosts"]:
                backend_impl.prepare(host, host_files(self.name, topo, host))
                self.save()  # record mounts/ports as soon as they exist
            for host in topo["hosts"]:
                self.state["hosts"][host] = backend_impl.start(host)
                self.save()
            for segment in topo.get("segments", {}):
                self.state.setdefault("switches", {})[segment] = backend_impl.start_switch(segment)
                self.save()
            for link in topo["links"]:
                self.plug(link)
            for host in topo["hosts"]:
                backend_impl.wait_ready(host, self.runtime(host))
            self.wait_addresses(topo["links"])
        except BaseException:
            self.save()
            log("up failed; run `down` to clean up (state kept for it)")
            raise
        self.timing("boot", time.monotonic() - started)
        self.save()
        self.write_inventory()

    def down(self):
        if not self.exists:
            log(f"lab {self.name} is not up")
            return
        backend_impl = self.backend
        for host in list(self.state.get("delaylines", {})):
            self._stop_delayline(host)
        for host in list(self.state.get("hosts", {})):
            backend_impl.stop(host, self.runtime(host))
        for segment, runtime in self.state.get("switches", {}).items():
            backend_impl.stop_switch(segment, runtime)
        for host in self.topo["hosts"]:
            backend_impl.teardown(host)
        for path in self.state.get("inventory_copies", []):
            Path(path).unlink(missing_ok=True)
        # Never recurse into a mount that is still there (it would delete
        # through the overlay): refuse and leave the state for another try.
        with open("/proc/mounts") as mounts:
            left = [line.split()[1] for line in mounts
                    if line.split()[1].startswith(str(self.state_dir) + "/")]
        if left:
            raise LabError(f"still mounted, state kept: {', '.join(left)}")
        shutil.rmtree(self.state_dir)
        self.state = {}
        log(f"lab {self.name} is down")

    # -- links ---------------------------------------------------------------
    def _ends(self, link):
        ends = []
        for host, end in self.topo["links"][link].items():
            ends.append((host, self.runtime(host), end, self.mac(host, self.link_index(link))))
        return ends

    def plug(self, link, only=None):
        """Connect a link's two ends (on a segment: each end, or only host
        `only`'s, to the bridge), then re-apply its recorded state."""
        segment = segment_of(self.topo, link)
        if segment is None:
            self.backend.plug(link, self._ends(link))
        for host, runtime, end, mac in self._ends(link) if segment else ():
            if only in (None, host):
                port = f"p{list(self.topo['hosts']).index(host) + 1}-{self.link_index(link)}"
                self.backend.plug_port(end, runtime, mac, self.state["switches"][segment], segment, port)
        status = self.state["links"][link]
        if status["rate"]:
            self._apply_shape(link, status["rate"])
        for host, rate in status.get("host_rates", {}).items():
            if only in (None, host):
                self._apply_shape(link, rate, hosts=[host])
        # A link recorded as down is taken down again once the hosts are
        # ready (see reboot): NetworkManager sets it up while it boots.

    def _set_link(self, link, updown):
        backend_impl = self.backend
        for host, runtime, end, _mac in self._ends(link):
            argv = ["ip", "link", "set", "dev", end["ifname"], updown]
            run(backend_impl.net_argv(host, runtime, argv))

    def set_link(self, link, updown):
        self._check_link(link)
        self._set_link(link, updown)
        self.state["links"][link]["up"] = updown == "up"
        self.save()
        if updown == "up":
            # NetworkManager re-activates the profile once carrier is back.
            self.wait_addresses({link: self.topo["links"][link]}, strict=False)

    def _apply_shape(self, link, rate, hosts=None):
        backend_impl = self.backend
        for host, runtime, end, _mac in self._ends(link):
            if hosts is not None and host not in hosts:
                continue
            dev = end["ifname"]
            if rate == "none":
                argv = ["tc", "qdisc", "del", "dev", dev, "root"]
            else:
                # tbf (there is no netem here): burst of at least 10 ms at
                # rate, and a queue of at most 100 ms.
                bits = parse_rate(rate)
                burst = max(bits // 8 // 100, 16 * 1024)
                argv = ["tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate,
                        "burst", str(burst), "latency", "100ms"]
            run(backend_impl.net_argv(host, runtime, argv), check=rate != "none")

    def shape(self, link, rate, hosts=None):
        """tbf at rate on link's ends: every end, or only the ends of hosts
        (on a segment, a link with an end on many hosts, the ones to limit;
        the others, and the bridge, stay unshaped)."""
        self._check_link(link)
        status = self.state["links"][link]
        if hosts:
            unknown = [host for host in hosts if host not in self.topo["links"][link]]
            if unknown:
                raise LabError(f"link {link} has no end on {', '.join(unknown)}; "
                               f"its hosts: {', '.join(self.topo['links'][link])}")
            self._apply_shape(link, rate, hosts=hosts)
            rates = status.setdefault("host_rates", {})
            for host in hosts:
                if rate == "none":
                    rates.pop(host, None)
                else:
                    rates[host] = rate
        else:
            self._apply_shape(link, rate)
            status["rate"] = None if rate == "none" else rate
            status.pop("host_rates", None)
        self.save()

    def delay(self, link, delay, loss="0%", hosts=None):
        """Delay (one way) and lose packets arriving on link's ends: every
        end, or only those of hosts; delay "none" removes both. A delay line
        per host (delayline.py, its PID in the state) holds them."""
        self._check_link(link)
        if self.state["backend"] != "nspawn":
            raise LabError("delay is for nspawn hosts (a VM's kernel has netem: use tc there)")
        unknown = [host for host in hosts or () if host not in self.topo["links"][link]]
        if unknown:
            raise LabError(f"link {link} has no end on {', '.join(unknown)}; "
                           f"its hosts: {', '.join(self.topo['links'][link])}")
        delays = self.state["links"][link].setdefault("delays", {})
        wanted = None if delay == "none" else {"delay_ms": parse_delay(delay), "loss_percent": parse_loss(loss)}
        for host in hosts or list(self.topo["links"][link]):
            if wanted is None:
                delays.pop(host, None)
            else:
                delays[host] = wanted
            self._apply_delays(host)
        self.save()

    def _apply_delays(self, host):
        """(Re)start host's delay line for its delayed links, then send
        those links' packets to it."""
        self._stop_delayline(host)
        queues = [(self.link_index(link), end["ifname"], self.state["links"][link]["delays"][host])
                  for link, end in self.links_of(host) if host in self.state["links"][link].get("delays", {})]
        if not queues:
            return
        runtime = self.runtime(host)
        ready = self.state_dir / f"delayline-{host}.ready"
        ready.unlink(missing_ok=True)
        argv = [sys.executable, DELAYLINE, "--ready", ready,
                *[f"{queue}:{d['delay_ms']}:{d['loss_percent']}" for queue, _ifname, d in queues]]
        with open(self.state_dir / f"delayline-{host}.log", "w") as out:
            proc = subprocess.Popen([str(a) for a in self.backend.net_argv(host, runtime, argv)],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        self.state.setdefault("delaylines", {})[host] = {"pid": proc.pid, "ready": str(ready), "queues": [
            {"queue": queue, "ifname": ifname} for queue, ifname, _d in queues]}
        self.save()

        def bound():
            if proc.poll() is not None:
                raise LabError(f"{host}'s delay line exited ({proc.returncode}): "
                               f"{(self.state_dir / f'delayline-{host}.log').read_text().strip()}")
            return ready.exists()

        wait_for(bound, 10, f"{host}'s delay line")
        self._delay_rules(host, "-A", self.state["delaylines"][host]["queues"])

    def _delay_rules(self, host, action, queues, check=True):
        """Add (-A) or delete (-D) the rules sending queues' links to host's delay line."""
        runtime = self.runtime(host)
        for queue in queues:
            for tool in ("iptables", "ip6tables"):
                rule = [part.format(action=action, ifname=queue["ifname"], queue=queue["queue"])
                        for part in DELAY_RULE]
                run(self.backend.net_argv(host, runtime, [tool, "-w", *rule]), check=check, capture=not check)

    def _stop_delayline(self, host):
        """Take host's delay rules out (its packets pass again), then end its
        delay line, if it is ours."""
        line = self.state.get("delaylines", {}).pop(host, None)
        if line is None:
            return
        # the host may be gone already (down after a failed boot)
        self._delay_rules(host, "-D", line["queues"], check=False)
        pid = line["pid"]
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            cmdline = b""
        if pid_alive(pid) and str(DELAYLINE).encode() in cmdline and line["ready"].encode() in cmdline:
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not pid_alive(pid), 10, f"{host}'s delay line to end")
        try:
            os.waitpid(pid, os.WNOHANG)  # ours when started by this same process
        except ChildProcessError:
            pass
        Path(line["ready"]).unlink(missing_ok=True)
        self.save()

    def _check_link(self, link):
        if link not in self.topo["links"]:
            raise LabError(f"no link {link!r}; links: {', '.join(self.topo['links'])}")

    def wait_addresses(self, links, strict=True, timeout=30):
        """Wait until each end of links carries all its topology addresses,
        usable (IPv6: duplicate address detection over, not tentative), and
        a client's first link its default routes."""
        for link, ends in links.items():
            for host, end in ends.items():
                runtime = self.runtime(host)
                what = (f"{' '.join(a['address'] for a in end_addresses(end))} on {host}:{end['ifname']}"
                        + (f" and default routes via {' '.join(end['gateways'])}"
                           if end.get("gateways") else ""))

                try:
                    wait_for(functools.partial(self._end_ready, host, runtime, end), timeout, what)
                except TimeoutError:
                    if strict:
                        raise
                    log(f"warning: {host}:{end['ifname']} is not as the topology says after "
                        f"{timeout} s: {what} (its profile may have been changed)")

    def _end_ready(self, host, runtime, end):
        backend_impl = self.backend

        def ip_json(*args):
            out = run(backend_impl.net_argv(host, runtime, ["ip", "-j", *args]),
                      check=False, capture=True) or "[]"
            try:
                return json.loads(out)
            except json.JSONDecodeError:
                return []

        have = {}
        for info in ip_json("address", "show", "dev", end["ifname"]):
            for addr in info.get("addr_info", []):
                have[addr.get("local")] = addr
        for want in end_addresses(end):
            addr = have.get(want["address"])
            if addr is not None and addr.get("dadfailed"):
                raise LabError(f"{host}:{end['ifname']}: {want['address']} failed duplicate "
                               "address detection")
            if addr is None or addr.get("tentative"):
                return False
        for gateway in end.get("gateways", ()):
            family = "-6" if ":" in gateway else "-4"
            routes = ip_json(family, "route", "show", "default", "dev", end["ifname"])
            if not any(route.get("gateway") == gateway for route in routes):
                return False
        return True

    # -- reboot --------------------------------------------------------------
    def reboot(self, host):
        if host not in self.topo["hosts"]:
            raise LabError(f"no host {host!r}; hosts: {', '.join(self.topo['hosts'])}")
        backend_impl = self.backend
        started = time.monotonic()
        # its delay line would keep the old network namespace (and its veth ends) alive
        self._stop_delayline(host)
        self.state["hosts"][host] = backend_impl.reboot(host, self.runtime(host))
        self.save()
        # A dead netns took its veth ends (and so the whole pairs) with it.
        for link, _end in self.links_of(host):
            if self.state["backend"] == "nspawn":
                self.plug(link, only=host)
        backend_impl.wait_ready(host, self.runtime(host))
        up_links = {link: self.topo["links"][link] for link, _end in self.links_of(host)
                    if self.state["links"][link]["up"]}
        self.wait_addresses(up_links, strict=False)
        for link, _end in self.links_of(host):
            if not self.state["links"][link]["up"]:
                self._set_link(link, "down")
        self._apply_delays(host)
        self.timing(f"reboot_{host}", time.monotonic() - started)
        self.save()
        self.write_inventory()

    # -- inventory -----------------------------------------------------------
    def inventory(self):
        backend_impl = self.backend
        hosts = {}
        groups = {}
        for host, spec in self.topo["hosts"].items():
            interfaces = {}
            for link, end, peer, peer_end in host_links(self.topo, host):
                interfaces[link] = {"ifname": end["ifname"], "address": end["address"],
                                    "prefix": end["prefix"], "cidr": end["cidr"],
                                    "addresses": [a["address"] for a in end_addresses(end)],
                                    "cidrs": [a["cidr"] for a in end_addresses(end)],
                                    "peer": peer, "peer_address": peer_end["address"],
                                    "peer_addresses": [a["address"] for a in end_addresses(peer_end)],
                                    "gateways": list(end.get("gateways", [])),
                                    "mac": self.mac(host, self.link_index(link))}
            hostvars = backend_impl.host_inventory(host, self.runtime(host))
            hostvars.update({"mptcp_lab_interfaces": interfaces,
                             "mptcp_lab_groups": spec["groups"]})
            if not spec.get("forward"):
                # the collection's playbooks describe a host by its links, in the
                # topology's order (the first one has a client's default route);
                # a router (forward: true) is no MPTCP end
                hostvars["mptcp_links"] = [{"interface": info["ifname"], "address": info["address"],
                                            "addresses": info["addresses"]} for info in interfaces.values()]
            hosts[host] = hostvars
            for group in spec["groups"]:
                groups.setdefault(group, {"hosts": {}})["hosts"][host] = None
        return {"all": {
            "vars": {"ansible_python_interpreter": "/usr/bin/python3",
                     # the lab's connections are root already (and the image has no sudo)
                     "ansible_become": False,
                     "mptcp_lab_name": self.name,
                     "mptcp_lab_backend": self.state["backend"],
                     # what configures the addresses: networkmanager or networkd
                     "mptcp_lab_network": topology_mod.network_of(self.topo),
                     "mptcp_lab_links": self.topo["links"]},
            "hosts": hosts,
            "children": groups,
        }}

    @property
    def inventory_path(self):
        return self.state_dir / "inventory.yml"

    def write_inventory(self):
        text = ("# Written by tests/lab (mptcp-lab); rewritten on every reboot.\n"
                + yaml.safe_dump(self.inventory(), sort_keys=False))
        for path in [self.inventory_path, *map(Path, self.state.get("inventory_copies", []))]:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text)
            tmp.rename(path)

    # -- status --------------------------------------------------------------
    def status(self):
        lines = [f"lab {self.name}: backend {self.state['backend']}, image {self.state['image_dir']}",
                 f"state {self.state_dir}, inventory {self.inventory_path}"]
        for host, runtime in self.state["hosts"].items():
            pids = ", ".join(f"{k}={v}" for k, v in runtime.items() if k.endswith("_pid"))
            alive = all(pid_alive(v) for k, v in runtime.items() if k.endswith("_pid"))
            lines.append(f"  host {host}: {'running' if alive else 'DEAD'} ({pids})")
        for segment, runtime in self.state.get("switches", {}).items():
            alive = pid_alive(runtime["switch_pid"])
            lines.append(f"  segment {segment}: {'running' if alive else 'DEAD'} (switch_pid={runtime['switch_pid']}), "
                         f"links {', '.join(self.topo['segments'][segment])}")
        for link, ends in self.topo["links"].items():
            st = self.state["links"][link]
            desc = " <-> ".join(f"{h} {e['ifname']} {' '.join(a['cidr'] for a in end_addresses(e))}"
                                + (f" (default route via {', '.join(e['gateways'])}"
                                   + (f", metric {e['metric']})" if "metric" in e else ")")
                                   if e.get("gateways") else "")
                                for h, e in ends.items())
            lines.append(f"  link {link}: {'up' if st['up'] else 'DOWN'}"
                         f"{', rate ' + st['rate'] if st['rate'] else ''}"
                         + "".join(f", rate {rate} at {host}" for host, rate in st.get("host_rates", {}).items())
                         + "".join(f", delay {d['delay_ms']:g} ms" + (f" loss {d['loss_percent']:g}%" if d["loss_percent"] else "")
                                   + f" into {host}" for host, d in st.get("delays", {}).items())
                         + f": {desc}")
        for key, value in self.state.get("timings", {}).items():
            lines.append(f"  timing {key}: {value} s")
        return "\n".join(lines)


def parse_delay(text):
    """'10ms' -> 10.0 (milliseconds, one way); also 's', 'us' and a bare number of ms."""
    return _number("delay", text, {"ms": 1.0, "us": 0.001, "s": 1000.0, "": 1.0}, 10000,
                   "10ms, 0.5s or none", "from 0 to 10 s")


def parse_loss(text):
    """'1%' or '1' -> 1.0 (percent of the packets dropped)."""
    return _number("loss", text, {"%": 1.0, "": 1.0}, 100, "1%", "from 0% to 100%")


def _number(what, text, units, highest, example, bounds):
    """A number with one of units' suffixes (the first that matches; "" for
    none), scaled by it, from 0 to highest."""
    value = str(text).strip().lower()
    suffix = next(suffix for suffix in units if value.endswith(suffix))
    try:
        number = float(value[: len(value) - len(suffix)]) * units[suffix]
    except ValueError:
        raise LabError(f"{what} {text!r}: use e.g. {example}") from None
    if not 0 <= number <= highest:
        raise LabError(f"{what} {text!r}: {bounds}")
    return number


def parse_rate(rate):
    """'10mbit' -> 10_000_000 (bits per second), as tc understands rates."""
    units = {"kbit": 10**3, "mbit": 10**6, "gbit": 10**9, "bit": 1}
    for suffix, factor in units.items():
        if rate.lower().endswith(suffix):
            return int(float(rate[: -len(suffix)]) * factor)
    raise LabError(f"rate {rate!r}: use e.g. 10mbit, 500kbit, 1gbit or none")
