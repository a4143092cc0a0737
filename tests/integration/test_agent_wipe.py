"""disk.wipe and node.ping end to end: controller, PostgreSQL, two agents
in their own network namespaces, and real 6 GiB loop devices.

Everything goes through the REST API the way an operator would: create a
run, watch its state and logs, answer its question, cancel it.
"""

import os
import signal
import time

from ntlib import main
from ntlib.agentcase import (AgentTestCase, children, cmdline, parent,
                             run_processes)

PROMPT = "Disk %s contains existing data. Proceed with wipe?"
MIB = 1024 * 1024


class WipeTest(AgentTestCase):

    def test_ping_each_node(self):
        for agent in self.agents:
            run = self.create_run(agent.id, "node.ping")
            done = self.wait_state(run["id"], ("completed", "failed"), 20)
            self.assertEqual(done["state"], "completed", done)
            self.assertEqual(done["nodeHostname"], agent.hostname)
            self.assertEqual(done["result"]["hostname"], agent.hostname)
            self.assertIsInstance(done["result"]["uptimeSeconds"], int)
            self.assertTrue(done["result"]["agentVersion"])
            self.assertTrue(done["startedAt"] and done["completedAt"])
            self.assertGreaterEqual(len(self.assertLogsGapless(run["id"])), 1)
        nodes = {n["id"]: n for n in self.api.get("/nodes").json}
        for agent in self.agents:
            self.assertEqual(nodes[agent.id]["state"], "online")
            self.assertEqual(nodes[agent.id]["address"],
                             agent.netns.address)

    def test_inventory_lists_loop_devices(self):
        dev = self.loop()
        node = self.agents[0].id

        def listed():
            resp = self.api.get("/disks?nodeId=" + node)
            self.assertEqual(resp.status, 200, resp)
            return [d for d in resp.json if d["devicePath"] == dev.path]
        disk = self.wait_for(listed, 60, 0.5, "%s in GET /disks" % dev.path)[0]
        self.assertAlmostEqual(disk["capacity"], 6.44, places=2)
        self.assertEqual(disk["capacityBytes"], 6 * 1024 ** 3)
        self.assertEqual(disk["nodeHostname"], self.agents[0].hostname)
        self.assertTrue(disk["available"], disk)
        self.assertEqual(disk["rejectReasons"], [])
        dev.mkfs_ext4()
        mnt = dev.mount()

        def rejected():
            d = listed()
            return d and not d[0]["available"] and d[0]
        disk = self.wait_for(rejected, 60, 0.5, "mounted disk unavailable")
        self.assertTrue(disk["hasFilesystem"])
        self.assertTrue(any(mnt in r for r in disk["rejectReasons"]), disk)

    def test_wipe_blank_device_asks_nothing(self):
        dev = self.loop()
        run = self.create_run(self.agents[0].id, "disk.wipe",
                              {"devicePath": dev.path})
        done = self.wait_state(run["id"], ("completed", "failed",
                                           "canceled"), 60)
        self.assertEqual(done["state"], "completed", done)
        self.assertIsNone(done["error"])
        self.assertEqual(done["result"]["signaturesRemoved"], [])
        self.assertGreater(done["result"]["bytesWritten"], 0)
        self.assertLogsGapless(run["id"])

    def test_wipe_ext4_yes(self):
        dev = self.loop().mkfs_ext4()
        self.assertIn("ext4", dev.signatures())
        run = self.create_run(self.agents[1].id, "disk.wipe",
                              {"devicePath": dev.path})
        q = self.wait_question(run["id"])
        self.assertEqual(q["prompt"], PROMPT % dev.path)
        self.assertEqual(q["options"], ["yes", "no"])
        self.assertEqual(q["taskName"], "disk.wipe")
        self.assertEqual(self.get_run(run["id"])["pendingQuestionId"],
                         q["id"])
        # Nothing written while the question is open.
        self.assertIn("ext4", dev.signatures())
        self.assertEqual(self.answer(q["id"], "yes"), {"status": "answered"})
        done = self.wait_state(run["id"], ("completed", "failed"), 60)
        self.assertEqual(done["state"], "completed", done)
        self.assertIn("ext4", done["result"]["signaturesRemoved"])
        self.assertEqual(dev.signatures(), "")
        self.assertEqual(dev.read(0, 10 * MIB), bytes(10 * MIB))
        self.answer(q["id"], "yes", expect=409)

    def test_wipe_ext4_no(self):
        dev = self.loop().mkfs_ext4()
        run = self.create_run(self.agents[0].id, "disk.wipe",
                              {"devicePath": dev.path})
        q = self.wait_question(run["id"])
        self.answer(q["id"], "no")
        done = self.wait_state(run["id"], ("canceled", "failed",
                                           "completed"), 30)
        self.assertEqual(done["state"], "canceled")
        self.assertEqual(done["error"], "declined by operator")
        self.assertIn("ext4", dev.signatures())

    def test_wipe_confirm_skips_question(self):
        dev = self.loop().mkfs_ext4()
        run = self.create_run(self.agents[0].id, "disk.wipe",
                              {"devicePath": dev.path, "confirm": True})
        done = self.wait_state(run["id"], ("completed", "failed",
                                           "canceled"), 60)
        self.assertEqual(done["state"], "completed", done)
        questions = self.api.get("/task/questions/pending").json
        self.assertFalse([q for q in questions if q["runId"] == run["id"]])
        self.assertEqual(dev.signatures(), "")

    def test_wipe_full_logs_progress_and_verifies(self):
        dev = self.loop()
        with open(dev.path, "r+b") as f:
            f.seek(3 * 1024 ** 3)
            f.write(b"\xa5" * MIB)
        run = self.create_run(self.agents[1].id, "disk.wipe",
                              {"devicePath": dev.path, "mode": "full",
                               "confirm": True})
        done = self.wait_state(run["id"], ("completed", "failed",
                                           "canceled"), 300)
        self.assertEqual(done["state"], "completed", done)
        self.assertEqual(done["result"]["bytesWritten"], dev.size())
        self.assertEqual(dev.read(3 * 1024 ** 3, MIB), bytes(MIB))
        lines = self.assertLogsGapless(run["id"])
        percents = []
        for line in lines:
            msg = line["message"]
            if "%" in msg:
                for word in msg.replace("(", " ").split():
                    if word.endswith("%") and word[:-1].isdigit():
                        percents.append(int(word[:-1]))
        self.assertTrue(percents, [l["message"] for l in lines])
        steps = [b - a for a, b in zip([0] + percents, percents)]
        self.assertLessEqual(max(steps), 10, percents)
        self.assertEqual(percents[-1], 100)
        self.assertTrue(any("verif" in l["message"].lower() for l in lines))

    def test_wipe_discard(self):
        dev = self.loop().mkfs_ext4()
        run = self.create_run(self.agents[0].id, "disk.wipe",
                              {"devicePath": dev.path, "mode": "discard",
                               "confirm": True})
        done = self.wait_state(run["id"], ("completed", "failed",
                                           "canceled"), 120)
        self.assertEqual(done["state"], "completed", done)
        self.assertEqual(dev.signatures(), "")
        self.assertEqual(dev.read(0, MIB), bytes(MIB))

    def test_launcher_killed_during_run(self):
        """The helper process that starts task processes (the launcher)
        dies in the middle of a full wipe: the run ends failed, none of
        its processes survive, and the next run still works."""
        agent = self.agents[0]
        dev = self.loop()
        run = self.create_run(agent.id, "disk.wipe",
                              {"devicePath": dev.path, "mode": "full",
                               "confirm": True})
        self.wait_state(run["id"], "running", 30)
        pids = self.wait_for(lambda: run_processes(run["id"]), 10,
                             what="the run's process")
        launchers = [p for p in children(agent.proc.pid)
                     if cmdline(p)[1:2] == ["task-launcher"]]
        self.assertEqual(len(launchers), 1, launchers)
        # The task process is the launcher's child, shown by its run id.
        self.assertIn(launchers[0], [parent(p) for p in pids])
        self.assertEqual(cmdline(pids[0])[1:3], ["task-exec", run["id"]])
        os.kill(launchers[0], signal.SIGKILL)
        done = self.wait_state(run["id"], ("completed", "failed",
                                           "canceled"), 30)
        self.assertEqual(done["state"], "failed", done)
        self.assertIn("killed by signal 9", done["error"])
        self.wait_for(lambda: not run_processes(run["id"]), 5, 0.05,
                      "the run's processes to be gone")
        ping = self.create_run(agent.id, "node.ping")
        done = self.wait_state(ping["id"], ("completed", "failed",
                                            "canceled"), 30)
        self.assertEqual(done["state"], "completed", done)

    def test_cancel_during_full_wipe(self):
        dev = self.loop()
        run = self.create_run(self.agents[0].id, "disk.wipe",
                              {"devicePath": dev.path, "mode": "full",
                               "confirm": True})
        self.wait_state(run["id"], "running", 30)
        self.wait_for(lambda: run_processes(run["id"]), 10,
                      what="the run's process")
        resp = self.api.post("/task/run/%s/cancel" % run["id"])
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json, {"status": "canceled"})
        canceled_at = time.monotonic()
        self.assertEqual(self.get_run(run["id"])["state"], "canceled")
        # Grace is 2 s: the run's processes are gone within grace + 1 s.
        self.wait_for(lambda: not run_processes(run["id"]), 3.0, 0.05,
                      "the run's processes to exit")
        self.assertLess(time.monotonic() - canceled_at, 3.0)

        def stopped_logged():
            return any("stop" in l["message"].lower() or
                       "cancel" in l["message"].lower()
                       for l in self.logs(run["id"]))
        self.wait_for(stopped_logged, 10, what="a log line about the stop")
        self.assertEqual(self.get_run(run["id"])["state"], "canceled")
        self.assertLogsGapless(run["id"])
        resp = self.api.post("/task/run/%s/cancel" % run["id"])
        self.assertEqual(resp.status, 409, resp)
        # The device is free again for the next run.
        again = self.create_run(self.agents[0].id, "disk.wipe",
                                {"devicePath": dev.path, "confirm": True})
        done = self.wait_state(again["id"], ("completed", "failed"), 60)
        self.assertEqual(done["state"], "completed", done)

    # ---- refusals: the run fails, the error says why, nothing written ----

    def assertRefused(self, node_id, path, words, dev=None):
        before = dev.read(0, MIB) if dev is not None else None
        run = self.create_run(node_id, "disk.wipe",
                              {"devicePath": path, "confirm": True})
        done = self.wait_state(run["id"], ("completed", "failed",
                                           "canceled"), 30)
        self.assertEqual(done["state"], "failed", done)
        for word in words:
            self.assertIn(word, done["error"])
        if dev is not None:
            self.assertEqual(dev.read(0, MIB), before)
        return done

    def test_refuse_mounted(self):
        dev = self.loop().mkfs_ext4()
        mnt = dev.mount()
        # The kernel itself writes to a mounted ext4 (lazy inode table
        # init), so its raw bytes are no witness: its data is.
        data = os.urandom(64 * 1024)
        with open(os.path.join(mnt, "keep.bin"), "wb") as f:
            f.write(data)
            os.fsync(f.fileno())
        self.assertRefused(self.agents[0].id, dev.path, [dev.path, mnt])
        self.assertTrue(os.path.ismount(mnt))
        with open(os.path.join(mnt, "keep.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertIn("ext4", dev.signatures())

    def test_refuse_outside_allowed(self):
        dev = self.loop().mkfs_ext4()
        other = self.loop()
        agent = self.start_agent("node-narrow", allow=[other.path])
        type(self).agents.append(agent)
        self.wait_online(agent)
        done = self.assertRefused(agent.id, dev.path, [dev.path], dev)
        self.assertIn("allow", done["error"])
        self.assertIn("ext4", dev.signatures())

    def test_refuse_partition(self):
        dev = self.loop()
        part = dev.partition_gpt()
        self.wait_for(lambda: os.path.exists(part), 10, what=part)
        self.assertRefused(self.agents[1].id, part, [part], dev)

    def test_refuse_nonexistent(self):
        self.assertRefused(self.agents[1].id, "/dev/nonexistent-disk",
                           ["/dev/nonexistent-disk"])

    def test_refuse_busy_device(self):
        dev = self.loop().mkfs_ext4()
        node = self.agents[0].id
        first = self.create_run(node, "disk.wipe", {"devicePath": dev.path})
        q = self.wait_question(first["id"])
        resp = self.api.post("/task/runs", {
            "taskName": "disk.wipe", "nodeId": node,
            "params": {"devicePath": dev.path, "confirm": True}})
        self.assertEqual(resp.status, 409, resp)
        self.assertEqual(resp.json["error"], "conflict")
        self.assertIn(dev.path, resp.json["message"])
        self.answer(q["id"], "no")
        self.wait_state(first["id"], "canceled", 30)
        self.assertIn("ext4", dev.signatures())


if __name__ == "__main__":
    main()
