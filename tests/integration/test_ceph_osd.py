"""ceph.create-osd end to end against real Ceph daemons: PostgreSQL, the
controller, one agent in its own network namespace, a one-node cluster
whose monitor listens on that namespace's gateway, and 6 GiB loop devices.

Everything goes through the REST API the way an operator would: find the
disk in GET /disks, POST /ceph/osd, answer the question, cancel, watch
the run. One cluster serves the whole class; the tests run in the order
of their names (the OSD of test_1 is refused again by test_4).
"""

import os
import time

from ntlib import main
from ntlib.agent import Agent
from ntlib.agentcase import TERMINAL, AgentTestCase, run_processes
from ntlib.ceph import CephCluster
from ntlib.loopdev import LoopDevice
from ntlib.netns import NetNs

PROMPT = "Disk %s contains existing data. Wipe it and create an OSD?"
COMMAND_TIMEOUT = 40  # s; the monitor is waited for half of it


def argv_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace")
                    for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return []


def processes_naming(word, device):
    """Live ceph-volume / ceph-osd processes whose argv holds device."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        argv = argv_of(int(entry))
        text = " ".join(argv)
        if word in text and device in argv:
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            if stat[stat.rfind(")") + 2] not in "ZX":
                found.append((int(entry), text))
    return found


class CephOsdTest(AgentTestCase):
    n_agents = 0  # the agent comes after the cluster, which needs its net

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.devices = []
        cls.osds = {}
        ns = NetNs()
        cls.addClassCleanup(ns.destroy)
        cls.ceph = CephCluster(addr=ns.gateway)
        cls.addClassCleanup(cls.ceph.stop)
        cls.ceph.start()
        url = "tcp://%s:%d" % (ns.gateway, cls.ctl.agents_port)
        agent = Agent(url, "ceph-node", token=cls.token(),
                      allow=list(cls.allow), netns=ns,
                      extra_args=["--grace", "20s", "--rescan", "2s",
                                  "--ceph-conf", cls.ceph.conf,
                                  "--ceph-command-timeout",
                                  "%ds" % COMMAND_TIMEOUT,
                                  "--osd-up-timeout", "120s"])
        cls.addClassCleanup(agent.close)
        agent.start()
        agent.id = agent.node_id()
        cls.agents.append(agent)
        cls.wait_online(agent)

    @classmethod
    def tearDownClass(cls):
        # The OSDs hold the loop devices: the cluster goes first.
        try:
            super().tearDownClass()
        finally:
            cls.ceph.stop()
            for dev in cls.devices:
                dev.destroy()

    # ---- helpers ---------------------------------------------------------

    def device(self):
        dev = LoopDevice.create(6 * 1024 ** 3)
        type(self).devices.append(dev)
        return dev

    def disk(self, dev, pred=None, timeout=30):
        """The GET /disks entry of dev (once pred(entry) holds)."""
        node = self.agents[0].id

        def find():
            resp = self.api.get("/disks?nodeId=" + node)
            self.assertEqual(resp.status, 200, resp)
            for d in resp.json:
                if d["devicePath"] == dev.path and (pred is None or
                                                    pred(d)):
                    return d
            return None
        return self.wait_for(find, timeout, 0.5,
                             "%s in GET /disks" % dev.path)

    def create_osd(self, dev, **extra):
        body = {"nodeId": self.agents[0].id,
                "diskId": self.disk(dev)["id"]}
        body.update(extra)
        resp = self.api.post("/ceph/osd", body)
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json["status"], "scheduled")
        return resp.json["runId"]

    def finished(self, run_id, timeout=180):
        return self.wait_state(run_id, ("completed", "failed", "canceled"),
                               timeout)

    def messages(self, run_id):
        return [l["message"] for l in self.assertLogsGapless(run_id)]

    def assertOsdUp(self, osd_id, device_class=None):
        nodes = {n["id"]: n for n in self.ceph.osd_tree()["nodes"]}
        self.assertIn(osd_id, nodes, self.ceph.osd_tree())
        self.assertEqual(nodes[osd_id]["status"], "up", nodes[osd_id])
        if device_class:
            self.assertEqual(nodes[osd_id]["device_class"], device_class)
        self.assertTrue(self.ceph.osd_up(osd_id))

    # ---- the tests -------------------------------------------------------

    def test_1_blank_device(self):
        dev = self.device()
        run_id = self.create_osd(dev)
        done = self.finished(run_id)
        self.assertEqual(done["state"], "completed", done)
        self.assertEqual(done["taskName"], "ceph.create-osd")
        osd_id = done["result"]["osdId"]
        self.assertIsInstance(osd_id, int)
        self.assertEqual(len(done["result"]["osdFsid"]), 36)
        self.assertOsdUp(osd_id)
        info = self.ceph.osd_info(osd_id)
        self.assertEqual(info["uuid"], done["result"]["osdFsid"])
        lines = self.messages(run_id)
        for want in ("Running command: /usr/bin/ceph-authtool",
                     "raw clear prepare successful for: " + dev.path,
                     "raw activate successful for osd ID: %d" % osd_id,
                     "no systemd as PID 1",
                     "osd.%d is up and in" % osd_id):
            self.assertTrue(any(want in m for m in lines),
                            "no log line with %r:\n%s"
                            % (want, "\n".join(lines)))
        self.assertFalse([m for m in lines if "AQ" in m and "==" in m],
                         "a key reached the log")
        self.assertFalse(self.api.get("/task/questions/pending").json)
        disk = self.disk(dev, lambda d: d["isOsd"])
        self.assertFalse(disk["available"], disk)
        type(self).osds["blank"] = (dev, osd_id)

    def test_2_ext4_yes(self):
        dev = self.device().mkfs_ext4()
        run_id = self.create_osd(dev, deviceClass="ssd")
        q = self.wait_question(run_id)
        self.assertEqual(q["prompt"], PROMPT % dev.path)
        self.assertEqual(q["options"], ["yes", "no"])
        self.assertEqual(q["taskName"], "ceph.create-osd")
        self.assertIn("ext4", dev.signatures())  # nothing written yet
        self.answer(q["id"], "yes")
        done = self.finished(run_id)
        self.assertEqual(done["state"], "completed", done)
        osd_id = done["result"]["osdId"]
        self.assertOsdUp(osd_id, device_class="ssd")
        self.assertNotIn(osd_id, [o[1] for o in self.osds.values()])
        lines = self.messages(run_id)
        self.assertTrue(any("erased ext4 signature" in m for m in lines))

    def test_3_ext4_no(self):
        dev = self.device().mkfs_ext4()
        before = dev.read(0, 4 * 1024 * 1024)
        osds = len(self.ceph.osd_dump()["osds"])
        run_id = self.create_osd(dev)
        q = self.wait_question(run_id)
        self.answer(q["id"], "no")
        done = self.finished(run_id, 30)
        self.assertEqual(done["state"], "canceled", done)
        self.assertEqual(done["error"], "declined by operator")
        self.assertIn("ext4", dev.signatures())
        self.assertEqual(dev.read(0, 4 * 1024 * 1024), before)
        self.assertEqual(len(self.ceph.osd_dump()["osds"]), osds)

    def test_4_same_device_again(self):
        self.assertIn("blank", self.osds, "test_1 made no OSD")
        dev, osd_id = self.osds["blank"]
        run_id = self.create_osd(dev, confirm=True)
        done = self.finished(run_id, 60)
        self.assertEqual(done["state"], "failed", done)
        self.assertIn("already backs osd.%d" % osd_id, done["error"])
        self.assertIn(self.ceph.fsid, done["error"])
        self.assertOsdUp(osd_id)  # untouched

    def test_5_cancel_during_prepare(self):
        dev = self.device()
        osds = len(self.ceph.osd_dump()["osds"])
        run_id = self.create_osd(dev)

        def in_mkfs():
            return any("--mkfs" in m for m in self.messages(run_id)) or \
                self.get_run(run_id)["state"] in TERMINAL
        self.wait_for(in_mkfs, 60, 0.1, "ceph-osd --mkfs to start")
        t0 = time.monotonic()
        resp = self.api.post("/task/run/%s/cancel" % run_id, {})
        self.assertEqual(resp.status, 200, resp)
        done = self.finished(run_id, 40)
        self.assertEqual(done["state"], "canceled", done)
        self.assertLess(time.monotonic() - t0, 25)
        self.wait_for(lambda: not run_processes(run_id), 10, 0.2,
                      "the run's processes to end")
        self.assertEqual(processes_naming("ceph-volume", dev.path), [])
        self.assertEqual([p for p in processes_naming("ceph-osd", dev.path)
                          if "--mkfs" in p[1]], [])
        lines = self.messages(run_id)
        self.assertTrue(any("undoing what this run made" in m
                            for m in lines), "\n".join(lines))
        # The id it got was purged; the device is usable again.
        self.assertEqual(len(self.ceph.osd_dump()["osds"]), osds,
                         self.ceph.osd_dump()["osds"])
        self.assertNotIn("ceph_bluestore", dev.signatures(),
                         "\n".join(lines))
        wipe = self.create_run(self.agents[0].id, "disk.wipe",
                               {"devicePath": dev.path, "confirm": True})
        wiped = self.finished(wipe["id"], 60)
        self.assertEqual(wiped["state"], "completed", wiped)

    def test_6_monitor_down(self):
        dev = self.device()
        disk_id = self.disk(dev)["id"]
        self.ceph.stop_mon()
        self.addCleanup(self.ceph.start_mon)
        t0 = time.monotonic()
        resp = self.api.post("/ceph/osd", {"nodeId": self.agents[0].id,
                                           "diskId": disk_id})
        self.assertEqual(resp.status, 201, resp)
        done = self.finished(resp.json["runId"], COMMAND_TIMEOUT + 30)
        took = time.monotonic() - t0
        self.assertEqual(done["state"], "failed", done)
        self.assertIn("RADOS timed out (error connecting to the cluster)",
                      done["error"])
        self.assertLess(took, COMMAND_TIMEOUT + 10)
        self.assertEqual(dev.signatures(), "")


if __name__ == "__main__":
    main()
