"""Network namespaces as separate test hosts.

Each NetNs is a network namespace joined to the root namespace by a veth pair on
its own /24 (10.213.N.0/24: root side .1, namespace side .2). Programs
started with ns.wrap(cmd) run "on that host" and reach the controller at
ns.gateway. cut() and heal() take the link down and up to simulate a
network partition. Namespaces and links are removed on cleanup, also when
a test fails.
"""

import itertools
import os
import subprocess

from . import cleanup

_PREFIX = "ntt%d" % (os.getpid() % 100000)
_counter = itertools.count(1)


def _ip(*args, check=True):
    return subprocess.run(("ip",) + args, capture_output=True, text=True,
                          check=check)


class NetNs:
    def __init__(self):
        self.index = next(_counter)
        self.name = "%s-%d" % (_PREFIX, self.index)
        # Short names: interface names are at most 15 characters.
        self.host_if = "nth%d-%d" % (os.getpid() % 10000, self.index)
        self.ns_if = "ntn%d-%d" % (os.getpid() % 10000, self.index)
        subnet = 200 + (os.getpid() + self.index) % 50
        self.gateway = "10.213.%d.1" % subnet
        self.address = "10.213.%d.2" % subnet
        self._undo = cleanup.register(self.destroy)
        try:
            self._create()
        except subprocess.CalledProcessError as e:
            self.destroy()
            raise RuntimeError("netns %s: %s" % (self.name, e.stderr)) from e

    def _create(self):
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name",
            self.ns_if)
        _ip("link", "set", self.ns_if, "netns", self.name)
        _ip("addr", "add", self.gateway + "/24", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        self.exec_ip("addr", "add", self.address + "/24", "dev", self.ns_if)
        self.exec_ip("link", "set", self.ns_if, "up")
        self.exec_ip("link", "set", "lo", "up")

    def exec_ip(self, *args):
        return _ip("-n", self.name, *args)

    def wrap(self, cmd):
        """cmd run inside this namespace's network only.

        Not `ip netns exec`: that also makes a private mount namespace,
        and an agent there would not see the mounts a test makes.
        """
        return ["nsenter", "--net=/run/netns/" + self.name] + list(cmd)

    def cut(self):
        _ip("link", "set", self.host_if, "down")

    def heal(self):
        _ip("link", "set", self.host_if, "up")

    def destroy(self):
        _ip("link", "del", self.host_if, check=False)
        _ip("netns", "del", self.name, check=False)
        cleanup.unregister(self._undo)
