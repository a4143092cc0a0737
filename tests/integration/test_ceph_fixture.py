"""The Ceph test fixture and the OSD recipe the agent's ceph.create-osd
follows (docs/ceph-notes.md), against real Ceph daemons.

A one-node cluster on 127.0.0.1 comes up; an OSD is created on a 6 GiB
loop device with ceph-volume raw prepare/activate and ceph-osd; the
monitor is stopped to see ceph-volume fail within CEPH_ARGS' timeout;
then everything is stopped and nothing of the cluster may be left: no
daemons, no tmpfs mounts, no OSD directories, the bootstrap-osd keyring as
before, the loop device detached. A start that fails half-way is cleaned
up by stop as well.
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

from ntlib import main
from ntlib.ceph import BOOTSTRAP_KEYRING, OSD_ROOT, CephCluster, ceph_sh
from ntlib.loopdev import LoopDevice

WATCHED = ("/var/lib/ceph", "/var/log/ceph", "/run/ceph", "/etc/ceph")


def snapshot():
    """What the cluster could leave outside its directory: the files under
    WATCHED (with the keyring's content), mounts under OSD_ROOT, and the
    cluster's processes are checked separately."""
    files = {}
    for top in WATCHED:
        for root, dirs, names in os.walk(top):
            for n in dirs + names:
                files[os.path.join(root, n)] = None
    try:
        with open(BOOTSTRAP_KEYRING, "rb") as f:
            files[BOOTSTRAP_KEYRING] = f.read()
    except FileNotFoundError:
        pass
    with open("/proc/self/mountinfo") as f:
        mounts = sorted(line.split()[4] for line in f
                        if line.split()[4].startswith(OSD_ROOT + "/"))
    return files, mounts


def running(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1] not in ("Z", "X")
    except FileNotFoundError:
        pass
    return False


def drop_stale_partitions(dev):
    """A reused loop device can still carry kernel partitions that an
    earlier user added with partx; ceph-volume refuses such a device."""
    name = os.path.basename(dev.path)
    if any(p.startswith(name + "p") for p in os.listdir("/sys/block/" + name)):
        subprocess.run(["partx", "-d", dev.path], capture_output=True)


class CephFixtureTest(unittest.TestCase):

    def timed(self, what, fn, *args, **kwargs):
        t0 = time.monotonic()
        result = fn(*args, **kwargs)
        print("  %-28s %5.1f s" % (what, time.monotonic() - t0), flush=True)
        return result

    def test_cluster_osd_and_teardown(self):
        before = snapshot()
        cluster = CephCluster()
        self.addCleanup(cluster.stop)
        self.timed("start (monitor answers)", cluster.start)
        self.assertTrue(os.path.isfile(cluster.conf))
        self.assertEqual(cluster.env["CEPH_CONF"], cluster.conf)

        status = cluster.status()
        self.assertEqual(status["fsid"], cluster.fsid)
        self.assertEqual(status["monmap"]["num_mons"], 1)
        self.assertEqual(status["quorum_names"], ["a"])
        self.assertEqual(status["osdmap"]["num_osds"], 0)
        # The bootstrap-osd key at its fixed path works.
        tree = cluster.ceph("osd", "tree", name="client.bootstrap-osd",
                            keyring=BOOTSTRAP_KEYRING)
        self.assertEqual([n["name"] for n in tree["nodes"]], ["default"])

        dev = LoopDevice.create()
        self.addCleanup(dev.destroy)
        drop_stale_partitions(dev)
        self.assertEqual(cluster.raw_list(dev.path), {})

        osd_id, osd_uuid = self.timed(
            "ceph-volume raw prepare", cluster.prepare_osd, dev.path,
            device_class="nttest")
        listed = cluster.raw_list(dev.path)
        self.assertEqual(listed, {osd_uuid: {
            "ceph_fsid": cluster.fsid, "device": dev.path, "osd_id": osd_id,
            "osd_uuid": osd_uuid, "type": "bluestore"}})
        info = cluster.osd_info(osd_id)
        self.assertEqual(info["uuid"], osd_uuid)
        self.assertIn("new", info["state"])
        self.assertEqual((info["up"], info["in"]), (0, 1))
        self.assertIn("ceph_bluestore", dev.signatures())
        # prepare on a device that already is an OSD does nothing, exit 0.
        again = cluster.ceph_volume("raw", "prepare", "--bluestore",
                                    "--data", dev.path)
        self.assertIn("is already prepared", again.stderr)
        self.assertEqual(cluster.osd_dump()["max_osd"], osd_id + 1)

        self.timed("ceph-volume raw activate", cluster.activate_osd,
                   dev.path)
        data = "%s/ceph-%d" % (OSD_ROOT, osd_id)
        self.assertIn(data, cluster.osd_mounts())
        with open(os.path.join(data, "whoami")) as f:
            self.assertEqual(f.read().strip(), str(osd_id))

        cluster.start_osd(osd_id)
        self.timed("ceph-osd up and in", cluster.wait_osd_up, osd_id, 120)
        tree = cluster.osd_tree()
        osd = [n for n in tree["nodes"] if n["id"] == osd_id][0]
        self.assertEqual(osd["status"], "up")
        self.assertEqual(osd["device_class"], "nttest")
        hosts = [n for n in tree["nodes"] if n["type"] == "host"]
        self.assertEqual([h["children"] for h in hosts], [[osd_id]])
        self.assertEqual(tree["stray"], [])

        self.timed("manager available", cluster.wait_mgr, 60)
        self.assertTrue(cluster.mgr_available())
        status = cluster.status()
        self.assertEqual(status["monmap"]["num_mons"], 1)
        self.assertTrue(status["mgrmap"]["available"])
        self.assertEqual(status["osdmap"]["num_up_osds"], 1)

        # Monitor down: ceph-volume fails within CEPH_ARGS' mount timeout
        # instead of waiting 300 s, and allocates nothing.
        cluster.stop_mon()
        dev2 = LoopDevice.create()
        self.addCleanup(dev2.destroy)
        drop_stale_partitions(dev2)
        t0 = time.monotonic()
        proc = cluster.ceph_volume("raw", "prepare", "--bluestore", "--data",
                                   dev2.path, check=False, mount_timeout=5)
        took = time.monotonic() - t0
        print("  %-28s %5.1f s" % ("prepare, monitor down", took))
        self.assertNotEqual(proc.returncode, 0)
        self.assertLess(took, 30)
        self.assertIn("RADOS timed out (error connecting to the cluster)",
                      proc.stderr)
        self.assertIn("RuntimeError: Unable to create a new OSD id",
                      proc.stderr)
        self.assertEqual(dev2.signatures(), "")
        self.timed("monitor restart", cluster.start_mon)
        self.assertEqual(cluster.osd_dump()["max_osd"], osd_id + 1)

        self.assertTrue([p for p in cluster.processes()
                         if p[1] == "ceph-osd"])
        self.timed("stop", cluster.stop)

        self.assertEqual(cluster.processes(), [])
        self.assertEqual(snapshot(), before)
        self.assertFalse(os.path.exists(data))
        path = dev.path
        dev.destroy()
        dev2.destroy()
        self.assertFalse(os.path.exists(
            "/sys/block/%s/loop" % os.path.basename(path)))

    def test_stop_after_half_failed_start(self):
        before = snapshot()
        tmp = tempfile.mkdtemp(prefix="nt-ceph-")
        os.chmod(tmp, 0o755)
        self.addCleanup(shutil.rmtree, tmp, True)
        d = os.path.join(tmp, "c")
        self.addCleanup(subprocess.run, [ceph_sh(), "stop", d],
                        capture_output=True)
        # A monitor address not on this machine: ceph-mon keeps retrying
        # the bind, start gives up after its timeout.
        env = dict(os.environ, CEPH_FIXTURE_ADDR="192.0.2.1",
                   CEPH_FIXTURE_TIMEOUT="3")
        proc = subprocess.run([ceph_sh(), "start", d], capture_output=True,
                              text=True, env=env, timeout=60)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("did not answer", proc.stderr)
        with open(os.path.join(d, "mon.pid")) as f:
            mon = int(f.read())
        self.assertTrue(running(mon))
        self.assertTrue(os.path.exists(BOOTSTRAP_KEYRING))
        proc = subprocess.run([ceph_sh(), "stop", d], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(os.path.exists(d))
        self.assertFalse(running(mon))
        self.assertEqual(snapshot(), before)
        # Idempotent.
        proc = subprocess.run([ceph_sh(), "stop", d], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)


if __name__ == "__main__":
    main()
