"""The Debian packages and systemd units of deploy/.

Builds the packages of the current build tree (`cmake --build BUILD
--target package`) and checks their metadata and contents, runs lintian on
them (no error or warning allowed) and `systemd-analyze verify` on both
units. Installing and purging them is tested by test_deploy_ansible.py.

Needs dpkg-dev, lintian and systemd (for systemd-analyze; systemd need not
run). Changes nothing outside a temporary directory and the build tree.
"""

import glob
import os
import shutil
import subprocess
import tempfile
import unittest

from ntlib import build_dir, source_dir

COMPONENTS = ("controller", "agent")


def run(cmd, timeout=600, **kw):
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout, **kw)


class DeployPackagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("dpkg-deb", "dpkg-shlibdeps", "lintian",
                     "systemd-analyze"):
            if shutil.which(tool) is None:
                raise AssertionError("%s is missing: install dpkg-dev, "
                                     "lintian and systemd" % tool)
        proc = run(["cmake", "--build", build_dir(), "--target", "package"],
                   timeout=900)
        if proc.returncode != 0:
            raise AssertionError("package build failed:\n" + proc.stdout +
                                 proc.stderr)
        cls.debs = {}
        for comp in COMPONENTS:
            files = glob.glob(os.path.join(build_dir(),
                                           "nodetask-%s_*.deb" % comp))
            if not files:
                raise AssertionError("no nodetask-%s .deb was built" % comp)
            cls.debs[comp] = max(files, key=os.path.getmtime)

    def field(self, comp, name):
        proc = run(["dpkg-deb", "-f", self.debs[comp], name])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout.strip()

    def contents(self, comp):
        proc = run(["dpkg-deb", "-c", self.debs[comp]])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # "-rwxr-xr-x root/root 1234 date time ./usr/sbin/x"
        return {line.split()[5].lstrip(".").rstrip("/") or "/":
                line.split()[0] for line in proc.stdout.splitlines()}

    def control_files(self, comp):
        tmp = tempfile.mkdtemp(prefix="nt-deb-")
        try:
            proc = run(["dpkg-deb", "-e", self.debs[comp], tmp])
            self.assertEqual(proc.returncode, 0, proc.stderr)
            files = {}
            for name in os.listdir(tmp):
                path = os.path.join(tmp, name)
                with open(path) as f:
                    files[name] = (os.stat(path).st_mode & 0o777, f.read())
            return files
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_names_versions_and_dependencies(self):
        version = self.field("controller", "Version")
        for comp in COMPONENTS:
            name = "nodetask-" + comp
            self.assertEqual(self.field(comp, "Package"), name)
            self.assertEqual(self.field(comp, "Version"), version)
            arch = self.field(comp, "Architecture")
            self.assertEqual(os.path.basename(self.debs[comp]),
                             "%s_%s_%s.deb" % (name, version, arch))
        ctl = self.field("controller", "Depends")
        for lib in ("adduser", "libnng1", "libprotobuf-c1", "libpq5",
                    "libcivetweb1", "libcjson1", "libssl3"):
            self.assertIn(lib, ctl)
        agent = self.field("agent", "Depends")
        for lib in ("libnng1", "libprotobuf-c1", "libcjson1", "libblkid1",
                    "libmount1"):
            self.assertIn(lib, agent)
        self.assertIn("ceph-osd", self.field("agent", "Recommends"))
        self.assertIn("ceph-common", self.field("agent", "Recommends"))

    def test_contents(self):
        for comp in COMPONENTS:
            name = "nodetask-" + comp
            files = self.contents(comp)
            for path in ("/usr/sbin/" + name,
                         "/lib/systemd/system/%s.service" % name,
                         "/etc/nodetask/%s.conf" % comp,
                         "/usr/share/doc/%s/copyright" % name,
                         "/usr/share/doc/%s/changelog.gz" % name,
                         "/usr/share/man/man8/%s.8.gz" % name):
                self.assertIn(path, files, "%s lacks %s" % (name, path))
            self.assertTrue(files["/usr/sbin/" + name].startswith("-rwxr-xr-x"))
            control = self.control_files(comp)
            self.assertEqual(control["conffiles"][1].split(),
                             ["/etc/nodetask/%s.conf" % comp])
            for script in ("postinst", "prerm", "postrm"):
                mode, text = control[script]
                self.assertEqual(mode, 0o755, script)
                self.assertTrue(text.startswith("#!/bin/sh"), script)
        self.assertIn("/var/lib/nodetask-agent", self.contents("agent"))
        postinst = self.control_files("controller")["postinst"][1]
        self.assertIn("adduser", postinst)
        self.assertIn("/run/systemd/system", postinst)

    def test_lintian(self):
        proc = run(["lintian", "--fail-on", "error,warning"]
                   + sorted(self.debs.values()), timeout=300)
        self.assertEqual(proc.returncode, 0,
                         "lintian:\n" + proc.stdout + proc.stderr)

    def test_units_verify(self):
        # systemd-analyze wants ExecStart's program to exist: point the
        # copies at the programs in the build tree.
        tmp = tempfile.mkdtemp(prefix="nt-units-")
        try:
            units = []
            for comp in COMPONENTS:
                name = "nodetask-" + comp
                src = os.path.join(source_dir(), "deploy", "systemd",
                                   name + ".service")
                with open(src) as f:
                    text = f.read()
                self.assertIn("ExecStart=/usr/sbin/%s --config "
                              "/etc/nodetask/%s.conf" % (name, comp), text)
                self.assertIn("Restart=on-failure", text)
                text = text.replace("/usr/sbin/" + name, os.path.join(
                    build_dir(), comp, name))
                units.append(os.path.join(tmp, name + ".service"))
                with open(units[-1], "w") as f:
                    f.write(text)
            proc = run(["systemd-analyze", "verify", "--man=no"] + units,
                       timeout=120)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            self.assertEqual(proc.stdout + proc.stderr, "",
                             "systemd-analyze verify printed findings")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_agent_unit_keeps_ceph_daemons(self):
        with open(os.path.join(source_dir(), "deploy", "systemd",
                               "nodetask-agent.service")) as f:
            text = f.read()
        self.assertIn("\nKillMode=process\n", text)
        self.assertIn("\nStateDirectory=nodetask-agent\n", text)
        # No private mount namespace: ceph-volume's mounts must reach the
        # host.
        for option in ("ProtectSystem=", "ProtectHome=", "PrivateTmp=",
                       "PrivateDevices=", "ReadWritePaths="):
            self.assertNotIn("\n" + option, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
