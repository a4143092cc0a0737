"""deploy/quickstart.sh end to end: the walkthrough and a clean stop.

Each test runs the quick start as README's first command does, but with
the programs of the build under test (NODETASK_QUICKSTART_BUILD), its own
state directory and free ports, so a real quick start on this machine is
not disturbed. It checks what the walkthrough printed and did (through
the REST API with the printed key), that a second start only re-prints,
and that `quickstart.sh stop` leaves no process, loop device, mount,
listening port or directory behind.

test_3_with_ceph also bootstraps the throw-away Ceph cluster; the Ceph
fixture allows one cluster per machine, so it waits for another one to
go away (and fails if it does not).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from ntlib import build_dir, cleanup, main, source_dir
from ntlib.controller import free_port
from ntlib.http import Client
from ntlib.loopdev import LoopDevice

CEPH_WAIT = 240  # s to wait for another Ceph cluster of the fixture to go
OSD_ROOT = "/var/lib/ceph/osd"
BOOTSTRAP_KEYRING = "/var/lib/ceph/bootstrap-osd/ceph.keyring"


def script():
    return os.path.join(source_dir(), "deploy", "quickstart.sh")


def _read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def processes_of(path):
    """Live processes whose command line or environment names path."""
    found = []
    needle = path.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        stat = _read("/proc/%s/stat" % entry)
        if not stat or stat[stat.rfind(")") + 2] in "ZX":
            continue
        cmd = _read("/proc/%s/cmdline" % entry, "rb") or b""
        env = _read("/proc/%s/environ" % entry, "rb") or b""
        if needle in cmd or needle in env:
            found.append((int(entry), cmd.replace(b"\0", b" ").decode(
                errors="replace")))
    return found


def loops_backed_under(path):
    """Loop devices whose backing file is under path: [(dev, file)]."""
    out = subprocess.run(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"],
                         capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].startswith(path + "/"):
            found.append((parts[0], parts[1]))
    return found


def mounts_matching(words):
    """Mount entries, in any mount namespace, naming any of words."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        text = _read("/proc/%s/mountinfo" % entry) or ""
        for line in text.splitlines():
            if any(w in line for w in words):
                found.add(line)
    return sorted(found)


def listening(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def other_ceph_daemons():
    """Running (not zombie) Ceph daemons, as ps lines."""
    proc = subprocess.run(["ps", "-C", "ceph-mon,ceph-mgr,ceph-osd", "-o",
                           "pid=,stat=,args="], capture_output=True,
                          text=True)
    return "\n".join(l for l in proc.stdout.splitlines()
                     if l.split()[1][0] != "Z")


def signatures(dev):
    proc = subprocess.run(["blkid", "-p", "-o", "export", dev],
                          capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


class QuickStart:
    """One quick start: its state directory, ports and runs of the script."""

    def __init__(self):
        # The postgres and ceph users must reach the state directory.
        self.parent = tempfile.mkdtemp(prefix="nt-qs-")
        os.chmod(self.parent, 0o755)
        self.dir = os.path.join(self.parent, "qs")
        self.http_port = free_port()
        self.agent_port = free_port()
        while self.agent_port == self.http_port:
            self.agent_port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "NODETASK_QUICKSTART_BUILD": build_dir(),
            "NODETASK_QUICKSTART_DIR": self.dir,
            "NODETASK_QUICKSTART_HTTP": "127.0.0.1:%d" % self.http_port,
            "NODETASK_QUICKSTART_AGENT_PORT": str(self.agent_port),
        })
        self._undo = cleanup.register(self._cleanup)

    def run(self, *args, stdin="", timeout=600):
        t0 = time.monotonic()
        proc = subprocess.run([script()] + list(args), input=stdin,
                              capture_output=True, text=True, env=self.env,
                              timeout=timeout, cwd=source_dir())
        proc.seconds = time.monotonic() - t0
        print("\n---- quickstart.sh %s: exit %d after %.1f s"
              % (" ".join(args), proc.returncode, proc.seconds))
        return proc

    def key(self):
        return _read(os.path.join(self.dir, "admin.key")).strip()

    def api(self):
        return Client("127.0.0.1", self.http_port, self.key())

    def devices(self):
        """The state's devices file as a dict."""
        text = _read(os.path.join(self.dir, "devices")) or ""
        return dict(l.split("=", 1) for l in text.splitlines() if "=" in l)

    def _cleanup(self):
        if os.path.exists(self.dir):
            self.run("stop", timeout=300)
        shutil.rmtree(self.parent, ignore_errors=True)

    def close(self):
        self._cleanup()
        cleanup.unregister(self._undo)


class QuickStartTest(unittest.TestCase):

    def setUp(self):
        self.qs = QuickStart()
        self.addCleanup(self.qs.close)

    def start(self, *args, stdin=""):
        proc = self.qs.run(*args, stdin=stdin)
        if proc.returncode != 0:
            self.fail("quickstart.sh %s exited %d\n--- stdout\n%s\n"
                      "--- stderr\n%s\n--- agent log\n%s"
                      % (" ".join(args), proc.returncode, proc.stdout,
                         proc.stderr,
                         _read(os.path.join(self.qs.dir, "agent.log"))))
        return proc

    # ---- checks ----------------------------------------------------------

    def assertWalkthrough(self, out, dev, answer="yes"):
        """The wipe walkthrough was printed, in order, and really ran."""
        steps = [
            '$ curl -s -H "$AUTH" "$API/nodes"',
            '$ curl -s -H "$AUTH" "$API/disks?nodeId=',
            '$ curl -s -H "$AUTH" -X POST "$API/task/runs" -d \'{"taskName":'
            ' "disk.wipe"',
            '$ curl -s -H "$AUTH" "$API/task/questions/pending"',
            '-d \'{"answer": "%s"}\'' % answer,
            '/logs"',
            '$ curl -s -H "$AUTH" "$API/task/run/',
            "$ blkid -p " + dev,
        ]
        pos = 0
        for s in steps:
            i = out.find(s, pos)
            self.assertGreaterEqual(i, 0, "walkthrough lacks %r after "
                                    "offset %d:\n%s" % (s, pos, out))
            pos = i + len(s)
        self.assertIn('"state": "online"', out)
        self.assertIn("Disk %s contains existing data. Proceed with wipe?"
                      % dev, out)
        self.assertIn('{"status": "answered"}', out)
        # The end: address, key, how to stop.
        self.assertIn("http://127.0.0.1:%d" % self.qs.http_port, out)
        self.assertIn(self.qs.key(), out)
        self.assertRegex(out, r"Stop and remove everything: .*"
                         r"quickstart\.sh stop")

        # What the API says about the run.
        api = self.qs.api()
        runs = api.get("/task/runs/recent?taskName=disk.wipe").json
        self.assertEqual(len(runs), 1, runs)
        run = api.get("/task/run/" + runs[0]["id"]).json
        self.assertEqual(run["devicePath"], dev)
        if answer == "yes":
            self.assertEqual(run["state"], "completed", run)
            self.assertEqual(run["result"]["signaturesRemoved"], ["ext4"])
            self.assertEqual(signatures(dev), "")
        lines = api.get("/task/run/%s/logs" % run["id"]).json
        self.assertTrue(lines)
        self.assertIn(lines[-1]["message"], out)
        self.assertIn('"id": "%s"' % run["id"], out)
        return run

    def assertCommandsWork(self, out):
        """Every GET curl the walkthrough printed works when typed in."""
        api = re.search(r"^  API=(\S+)$", out, re.M).group(1)
        auth = re.search(r'^  AUTH="(.+)"$', out, re.M).group(1)
        cmds = re.findall(r"^  \$ (curl -s -H \"\$AUTH\" \"[^\n]*)$", out,
                          re.M)
        self.assertGreaterEqual(len(cmds), 4, out)
        env = dict(os.environ, API=api, AUTH=auth)
        for cmd in cmds:
            proc = subprocess.run(["bash", "-c", cmd], capture_output=True,
                                  text=True, env=env, timeout=30)
            self.assertEqual(proc.returncode, 0, (cmd, proc.stderr))
            body = json.loads(proc.stdout)
            self.assertFalse(isinstance(body, dict) and
                             set(body) == {"error", "message"}, (cmd, body))

    def assertAgain(self, *args):
        """A second start while up only says so and re-prints the info."""
        proc = self.start(*args)
        self.assertIn("already runs", proc.stderr)
        self.assertIn(self.qs.key(), proc.stdout)
        self.assertNotIn("$ curl", proc.stdout)
        self.assertLess(proc.seconds, 20)
        self.assertEqual(self.qs.run("status").returncode, 0)

    def stop_and_assertGone(self, extra_mount_words=()):
        loops = [d for d, _ in loops_backed_under(self.qs.dir)]
        proc = self.qs.run("stop", timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        print(proc.stderr)
        self.assertEqual(processes_of(self.qs.dir), [])
        self.assertEqual(loops_backed_under(self.qs.dir), [])
        for dev in loops:
            self.assertNotIn(self.qs.dir, _read(
                "/sys/block/%s/loop/backing_file"
                % os.path.basename(dev)) or "")
        self.assertEqual(mounts_matching([self.qs.dir] + loops +
                                         list(extra_mount_words)), [])
        self.assertFalse(os.path.exists(self.qs.dir))
        self.assertFalse(listening(self.qs.http_port))
        self.assertFalse(listening(self.qs.agent_port))
        # Stopping again is harmless.
        self.assertEqual(self.qs.run("stop").returncode, 0)
        return proc

    # ---- the tests -------------------------------------------------------

    def test_1_loop_devices(self):
        proc = self.start()
        print(proc.stdout[-3000:])
        out = proc.stdout
        dev = self.qs.devices()["data"]
        self.assertWalkthrough(out, dev)
        self.assertCommandsWork(out)
        # The agent may write to the two loop devices only.
        allow = self.qs.devices()["allow"].split(",")
        self.assertEqual(len(allow), 2)
        self.assertEqual(sorted(allow),
                         sorted(d for d, _ in
                                loops_backed_under(self.qs.dir)))
        self.assertAgain()
        self.stop_and_assertGone()

    def test_2_named_disk(self):
        # A disk named with --disk is the operator's: the quick start
        # asks before writing, formats it only when told to, passes the
        # operator's answer to the run's question, and leaves it be.
        disk = LoopDevice.create(6 * 1024 ** 3)
        self.addCleanup(disk.destroy)
        no = self.qs.run("--disk", disk.path, stdin="no\n")
        self.assertNotEqual(no.returncode, 0)
        self.assertIn("not confirmed", no.stderr)
        self.assertFalse(os.path.exists(self.qs.dir))

        # yes (write to it), yes (format it first), yes (the question).
        proc = self.start("--disk", disk.path, stdin="yes\nyes\nyes\n")
        self.assertWalkthrough(proc.stdout, disk.path)
        self.assertEqual(self.qs.devices()["allow"], disk.path)
        self.assertEqual(loops_backed_under(self.qs.dir), [])
        self.assertAgain("--disk", disk.path)
        self.stop_and_assertGone()
        self.assertEqual(subprocess.run(
            ["losetup", disk.path], capture_output=True).returncode, 0,
            "stop detached a disk it did not make")

    def test_3_with_ceph(self):
        # tests/run.sh installs Ceph; without it this is a failure.
        self.assertIsNotNone(shutil.which("ceph-mon"), "no Ceph packages")
        deadline = time.monotonic() + CEPH_WAIT
        while other_ceph_daemons():
            if time.monotonic() > deadline:
                self.fail("another Ceph cluster runs on this machine:\n"
                          + other_ceph_daemons())
            time.sleep(5)
        keyring_before = _read(BOOTSTRAP_KEYRING, "rb")
        osd_dirs_before = sorted(os.listdir(OSD_ROOT)) \
            if os.path.isdir(OSD_ROOT) else []

        proc = self.start("--with-ceph")
        print(proc.stdout[-3000:])
        out = proc.stdout
        self.assertWalkthrough(out, self.qs.devices()["data"])
        blank = [d for d in self.qs.devices()["allow"].split(",")
                 if d != self.qs.devices()["data"]][0]
        self.assertIn('$ curl -s -H "$AUTH" -X POST "$API/ceph/osd" -d '
                      '\'{"nodeId": "', out)
        self.assertIn("$ ceph -c %s/ceph/ceph.conf osd tree" % self.qs.dir,
                      out)
        self.assertRegex(out, r"osd\.0\s+up")
        api = self.qs.api()
        runs = api.get("/task/runs/recent?taskName=ceph.create-osd").json
        self.assertEqual(len(runs), 1, runs)
        run = api.get("/task/run/" + runs[0]["id"]).json
        self.assertEqual(run["state"], "completed", run)
        self.assertEqual(run["devicePath"], blank)
        self.assertEqual(run["result"]["osdId"], 0)
        self.assertIn("ceph_bluestore", signatures(blank))
        self.assertAgain("--with-ceph")

        self.stop_and_assertGone(extra_mount_words=[OSD_ROOT + "/ceph-"])
        self.assertEqual(_read(BOOTSTRAP_KEYRING, "rb"), keyring_before)
        self.assertEqual(sorted(os.listdir(OSD_ROOT))
                         if os.path.isdir(OSD_ROOT) else [],
                         osd_dirs_before)


if __name__ == "__main__":
    main()
