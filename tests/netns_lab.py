"""Throwaway MPTCP hosts made of network namespaces, for integration tests
and the netns demo.

Two namespaces, a server and a client, joined by veth links laid out as in
the seed's section 34.3 (interface names and addresses included). Each link
can be shaped with tbf. Everything lives inside the two namespaces: deleting
them (on exit) removes the veths too, and processes started with spawn()
are ended by PID first."""

import json
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The MPTCP sender/receiver the mptcp_verify role ships (module_utils/_transfer.py);
# tests and the demo run it as the role does: python -m, from the collection
# that .build/collections makes importable (the Makefile's ANSIBLE_COLLECTIONS_PATH).
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
TRANSFER_MODULE = "ansible_collections.mptcp.multipath.plugins.module_utils._transfer"


def transfer_argv(python, *args):
    """The argv that runs the transfer program with ``python``."""
    return ["env", "PYTHONPATH=" + COLLECTIONS, python, "-m", TRANSFER_MODULE] + list(args)


# (server interface, server address, client interface, client address), seed 34.3 / 34.4
SEED_LINKS = (
    ("enp4s0", "192.0.2.1/24", "enp4s0f0", "192.0.2.2/24"),
    ("enp1s0", "198.51.100.1/24", "enp4s0f1", "198.51.100.2/24"),
    ("enp7s0", "203.0.113.1/24", "enp6s0", "203.0.113.2/24"),
)


def run(argv, check=True, **kwargs):
    return subprocess.run(argv, check=check, text=True, capture_output=True, **kwargs)


class NetnsPair(object):
    """A server and a client namespace with ``links`` veth links between them."""

    def __init__(self, prefix="mptcp-test", links=2, rate=None):
        suffix = "%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 100000)
        self.server = "%s-srv-%s" % (prefix, suffix)
        self.client = "%s-cli-%s" % (prefix, suffix)
        self.links = SEED_LINKS[:links]
        self.rate = rate
        self._processes = []

    # -- set-up and clean-up ------------------------------------------------
    def __enter__(self):
        try:
            self.create()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc_info):
        self.destroy()

    def create(self):
        for namespace in (self.server, self.client):
            run(["ip", "netns", "add", namespace])
            run(["ip", "-n", namespace, "link", "set", "lo", "up"])
        for server_dev, server_addr, client_dev, client_addr in self.links:
            run(["ip", "-n", self.server, "link", "add", "name", server_dev, "type", "veth",
                 "peer", "name", client_dev, "netns", self.client])
            for namespace, dev, address in ((self.server, server_dev, server_addr),
                                            (self.client, client_dev, client_addr)):
                run(["ip", "-n", namespace, "addr", "add", address, "dev", dev])
                run(["ip", "-n", namespace, "link", "set", dev, "up"])
                if self.rate:
                    self.shape(namespace, dev, self.rate)

    def shape(self, namespace, dev, rate):
        """Limit a link's egress with tbf (this kernel has no netem)."""
        run(["ip", "netns", "exec", namespace, "tc", "qdisc", "replace", "dev", dev, "root",
             "tbf", "rate", rate, "burst", "32kbit", "latency", "50ms"])

    def destroy(self):
        for process in self._processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        self._processes = []
        for namespace in (self.server, self.client):
            run(["ip", "netns", "del", namespace], check=False)

    # -- using the hosts -------------------------------------------------------
    def exec(self, namespace, argv, check=True):
        return run(["ip", "netns", "exec", namespace] + list(argv), check=check)

    def spawn(self, namespace, argv):
        """Start a process in a namespace; it is ended by PID on destroy."""
        process = subprocess.Popen(["ip", "netns", "exec", namespace] + list(argv),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._processes.append(process)
        return process

    def link_bytes(self, namespace):
        """{interface: {"tx": bytes, "rx": bytes}} for the link interfaces."""
        data = json.loads(run(["ip", "-n", namespace, "-s", "-j", "link", "show"]).stdout)
        return dict((link["ifname"], {"tx": link["stats64"]["tx"]["bytes"],
                                      "rx": link["stats64"]["rx"]["bytes"]})
                    for link in data if link["ifname"] != "lo")

    def inventory(self, path, python):
        """An Ansible inventory where each namespace is a host reached locally."""
        hosts = {}
        for group, name, namespace, side in (("mptcp_servers", "server", self.server, 0),
                                             ("mptcp_clients", "client", self.client, 2)):
            hosts[group] = {"hosts": {name: {
                "ansible_connection": "local",
                "ansible_python_interpreter": python,
                "ansible_become": False,
                "mptcp_namespace": namespace,
                "mptcp_manage_packages": False,
                "mptcp_links": [{"interface": link[side], "address": link[side + 1].split("/", maxsplit=1)[0]}
                                for link in self.links],
            }}}
        with open(path, "w") as handle:
            json.dump({"all": {"children": hosts}}, handle, indent=2)
        return path
