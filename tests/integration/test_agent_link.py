"""The agent link under faults and attacks: enrollment, ownership of runs,
heartbeats and offline nodes, questions that expire or outlive a
controller restart, and agents or controllers killed in the middle of a
run that logs steadily. Real processes, real network namespaces.
"""

import os
import signal
import time

from ntlib import main
from ntlib.agentcase import AgentTestCase, link_probe, run_processes


class LinkTest(AgentTestCase):
    controller_args = ("--offline-after", "3s", "--poll-hold", "1s",
                       "--question-ttl", "4s")

    def url(self):
        return "tcp://127.0.0.1:%d" % self.ctl.agents_port

    def secret(self, agent):
        path = os.path.join(agent.state_dir, "node_secret")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        with open(path) as f:
            return f.read().strip()

    def test_bad_enrollment_token_refused(self):
        fake_node = "0b0e8c1e-3c9a-4a57-9f0e-7d4c51b0a001"
        self.assertEqual(link_probe(self.url(), fake_node, "hello",
                                    "--token", "nte_" + "0" * 64), "DENIED")
        self.assertEqual(link_probe(self.url(), fake_node, "hello"),
                         "DENIED")
        self.assertEqual(self.api.get("/node/" + fake_node).status, 404)
        # The real agent program with a bad token does not get in either.
        from ntlib.agent import Agent
        rogue = Agent(self.url(), "rogue", token="nte_" + "1" * 64,
                      extra_args=self.agent_args)
        self.addCleanup(rogue.close)
        rogue.start()
        rogue_id = rogue.node_id()
        time.sleep(2)
        self.assertEqual(self.api.get("/node/" + rogue_id).status, 404)
        self.assertIn("denied", rogue.log_text().lower())
        rogue.stop()
        self.assertIn("refused", self.ctl.log_text())

    def test_token_is_single_use_and_secret_authenticates(self):
        token = self.token()
        node = "0b0e8c1e-3c9a-4a57-9f0e-7d4c51b0a002"
        self.assertEqual(link_probe(self.url(), node, "hello", "--token",
                                    token), "OK")
        other = "0b0e8c1e-3c9a-4a57-9f0e-7d4c51b0a003"
        self.assertEqual(link_probe(self.url(), other, "hello", "--token",
                                    token), "DENIED")
        secret = self.secret(self.agents[0])
        self.assertEqual(link_probe(self.url(), self.agents[0].id, "hello",
                                    "--secret", secret), "OK")
        self.assertEqual(link_probe(self.url(), self.agents[1].id, "hello",
                                    "--secret", secret), "DENIED")
        self.assertEqual(link_probe(self.url(), self.agents[0].id, "hello",
                                    "--secret", secret, "--version", "99"),
                         "INCOMPATIBLE")

    def test_agent_cannot_report_on_another_nodes_run(self):
        victim = self.agents[1]
        run = self.create_run(victim.id, "node.ping")
        self.wait_state(run["id"], "completed", 20)
        before = self.logs(run["id"])
        attacker = self.agents[0]
        answer = link_probe(self.url(), attacker.id, "log", "--secret",
                            self.secret(attacker), run["id"], "99",
                            "forged line")
        self.assertEqual(answer, "REJECTED")
        self.assertEqual(self.logs(run["id"]), before)
        # On its own run a resent event (seq already stored) is a no-op.
        own = self.create_run(attacker.id, "node.ping")
        self.wait_state(own["id"], "completed", 20)
        lines = self.logs(own["id"])
        answer = link_probe(self.url(), attacker.id, "log", "--secret",
                            self.secret(attacker), own["id"], "1",
                            "resent line")
        self.assertEqual(answer, "DUPLICATE")
        self.assertEqual(self.logs(own["id"]), lines)
        self.wait_online(attacker)

    def test_offline_and_back_and_pending_run_starts(self):
        agent = self.agents[1]
        agent.netns.cut()
        try:
            self.wait_for(lambda: self.node(agent.id)["state"] == "offline",
                          15, 0.2, "node %s offline" % agent.hostname)
            run = self.create_run(agent.id, "node.ping")
            time.sleep(1.5)
            self.assertEqual(self.get_run(run["id"])["state"], "pending")
        finally:
            agent.netns.heal()
        self.wait_for(lambda: self.node(agent.id)["state"] == "online",
                      30, 0.2, "node %s back online" % agent.hostname)
        done = self.wait_state(run["id"], ("completed", "failed"), 30)
        self.assertEqual(done["state"], "completed", done)

    def test_question_expires(self):
        dev = self.loop().mkfs_ext4()
        run = self.create_run(self.agents[0].id, "disk.wipe",
                              {"devicePath": dev.path})
        q = self.wait_question(run["id"])
        done = self.wait_state(run["id"], ("failed", "completed",
                                           "canceled"), 20)
        self.assertEqual(done["state"], "failed")
        self.assertIn("expired", done["error"])
        self.answer(q["id"], "yes", expect=409)
        self.wait_for(lambda: not run_processes(run["id"]), 10, 0.1,
                      "the expired run's process to stop")
        self.assertIn("ext4", dev.signatures())

    def test_cancel_closes_open_question(self):
        dev = self.loop().mkfs_ext4()
        run = self.create_run(self.agents[1].id, "disk.wipe",
                              {"devicePath": dev.path})
        q = self.wait_question(run["id"])
        resp = self.api.post("/task/run/%s/cancel" % run["id"])
        self.assertEqual(resp.status, 200, resp)
        pending = self.api.get("/task/questions/pending").json
        self.assertNotIn(q["id"], [p["id"] for p in pending])
        self.answer(q["id"], "yes", expect=409)
        self.wait_for(lambda: not run_processes(run["id"]), 10, 0.1,
                      "the canceled run's process to stop")
        self.assertIn("ext4", dev.signatures())


class RestartTest(AgentTestCase):
    """Faults: kill -9 of the agent or of the controller mid-run."""
    n_agents = 1
    controller_args = ("--offline-after", "5s", "--poll-hold", "1s")

    def full_wipe(self, dev):
        return self.create_run(self.agents[0].id, "disk.wipe",
                               {"devicePath": dev.path, "mode": "full",
                                "confirm": True})

    def wait_some_logs(self, run_id, n):
        self.wait_for(lambda: len(self.logs(run_id)) >= n, 60, 0.05,
                      "%d log lines of run %s" % (n, run_id))

    def test_question_survives_controller_restart(self):
        dev = self.loop().mkfs_ext4()
        run = self.create_run(self.agents[0].id, "disk.wipe",
                              {"devicePath": dev.path})
        q = self.wait_question(run["id"])
        self.ctl.stop()
        self.ctl.restart()
        pending = self.api.get("/task/questions/pending").json
        self.assertIn(q["id"], [p["id"] for p in pending])
        self.answer(q["id"], "yes")
        done = self.wait_state(run["id"], ("completed", "failed",
                                           "canceled"), 60)
        self.assertEqual(done["state"], "completed", done)
        self.assertEqual(dev.signatures(), "")

    def test_agent_killed_during_run(self):
        agent = self.agents[0]
        dev = self.loop()
        run = self.full_wipe(dev)
        self.wait_state(run["id"], "running", 30)
        self.wait_some_logs(run["id"], 3)
        pids = self.wait_for(lambda: run_processes(run["id"]), 10,
                             what="the run's process")
        agent.kill()
        agent.start()
        done = self.wait_state(run["id"], ("failed", "completed",
                                           "canceled"), 60)
        self.assertEqual(done["state"], "failed", done)
        self.assertIn("agent restarted", done["error"])
        # None of the processes the run had survives the agent's crash.
        self.assertEqual(run_processes(run["id"]), [])
        self.assertFalse(set(pids) & set(run_processes(run["id"])))
        self.assertLogsGapless(run["id"])
        self.wait_online(agent)

    def test_controller_killed_during_run(self):
        dev = self.loop()
        run = self.full_wipe(dev)
        self.wait_state(run["id"], "running", 30)
        self.wait_some_logs(run["id"], 3)
        self.ctl.proc.send_signal(signal.SIGKILL)
        self.ctl.proc.wait()
        self.ctl.proc = None
        time.sleep(1)
        self.ctl.restart()
        done = self.wait_state(run["id"], ("failed", "completed",
                                           "canceled"), 300)
        self.assertEqual(done["state"], "completed", done)
        self.assertLogsGapless(run["id"])
        self.assertEqual(done["result"]["bytesWritten"], dev.size())


if __name__ == "__main__":
    main()
