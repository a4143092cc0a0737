"""AgentTestCase: PostgreSQL, a controller, and real agents on test hosts.

Per test class: a private PostgreSQL, one controller listening for agents
on all addresses, and n_agents agents, each in its own network namespace
(its own address) with its own state directory and hostname, enrolled with
a one-time token from `nodetask-controller node token create`. Tests make
loop devices as they need them. Everything is removed after the class,
also when something fails; agents and controller must exit 0 on SIGTERM.
"""

import os
import subprocess
import sys
import time

from . import build_dir
from .agent import Agent
from .case import TracksFailures
from .controller import Controller, ControllerError
from .loopdev import LoopDevice
from .netns import NetNs
from .pg import PgCluster

TERMINAL = ("completed", "failed", "canceled")


class AgentController(Controller):
    """A controller whose agent port listens on every address and stays
    the same across restarts (agents keep dialing the same URL)."""

    def __init__(self, db, base_args=(), name="controller"):
        super().__init__(db, base_args, name)
        self.base_args = list(base_args)

    def _spawn(self):
        # A later --agents overrides the loopback one Controller sets.
        self.extra_args = self.base_args + [
            "--agents", "tcp://0.0.0.0:%d" % self.agents_port]
        return super()._spawn()

    def restart(self, timeout=40.0):
        self._spawn()
        if not self._wait_healthy(timeout):
            raise ControllerError("controller did not come back; log:\n%s"
                                  % self.log_text())


class AgentTestCase(TracksFailures):
    n_agents = 2
    controller_args = ("--offline-after", "3s", "--poll-hold", "1s")
    agent_args = ("--grace", "2s")
    allow = ("/dev/loop*",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._failed = False
        cls.agents = []
        cls.pg = PgCluster()
        cls.addClassCleanup(cls.pg.stop)
        cls.pg.start()
        cls.ctl = AgentController(cls.pg.conninfo, cls.controller_args,
                                  name="%s.%s" % (cls.__module__,
                                                  cls.__name__))
        cls.addClassCleanup(cls._dump_logs_if_failed)
        cls.addClassCleanup(cls.ctl.close)
        cls.ctl.start()
        cls.admin_key = cls.ctl.create_key("it-admin", "admin")
        cls.api = cls.ctl.client(cls.admin_key)
        for i in range(cls.n_agents):
            cls.agents.append(cls.start_agent("node-%d" % (i + 1)))
        for agent in cls.agents:
            cls.wait_online(agent)

    @classmethod
    def start_agent(cls, hostname, allow=None, extra_args=None):
        ns = NetNs()
        cls.addClassCleanup(ns.destroy)
        url = "tcp://%s:%d" % (ns.gateway, cls.ctl.agents_port)
        agent = Agent(url, hostname, token=cls.token(),
                      allow=list(allow or cls.allow), netns=ns,
                      extra_args=list(extra_args or cls.agent_args))
        cls.addClassCleanup(agent.close)
        agent.start()
        agent.id = agent.node_id()
        return agent

    @classmethod
    def token(cls):
        proc = cls.ctl.cli("node", "token", "create", "--ttl", "10m")
        if proc.returncode != 0:
            raise ControllerError("node token create failed: %s"
                                  % proc.stderr)
        return proc.stdout.strip()

    @classmethod
    def node(cls, node_id):
        resp = cls.api.get("/node/" + node_id)
        return resp.json if resp.status == 200 else None

    @classmethod
    def wait_online(cls, agent, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = cls.node(agent.id)
            if node and node["state"] == "online":
                return node
            time.sleep(0.1)
        raise AssertionError("node %s (%s) never came online; agent log:\n%s"
                             % (agent.hostname, agent.id, agent.log_text()))

    @classmethod
    def tearDownClass(cls):
        errors = []
        for agent in cls.agents:
            try:
                agent.stop()
            except AssertionError as e:
                errors.append(str(e))
        try:
            if cls.ctl.running():
                cls.ctl.stop()
        except AssertionError as e:
            errors.append(str(e))
        if errors:
            cls._failed = True
            raise AssertionError("\n".join(errors))
        super().tearDownClass()

    @classmethod
    def _dump_logs_if_failed(cls):
        if not cls._failed:
            return
        sys.stderr.write("\n==== controller log ====\n%s"
                         % cls.ctl.log_text())
        for agent in cls.agents:
            sys.stderr.write("\n==== agent %s log ====\n%s"
                             % (agent.hostname, agent.log_text()))
        sys.stderr.write("==== end of logs ====\n")

    # ---- helpers ---------------------------------------------------------

    def loop(self, size=6 * 1024 ** 3, **kw):
        dev = LoopDevice.create(size, **kw)
        self.addCleanup(dev.destroy)
        return dev

    def create_run(self, node_id, task, params=None, expect=201):
        body = {"taskName": task, "nodeId": node_id}
        if params is not None:
            body["params"] = params
        resp = self.api.post("/task/runs", body)
        self.assertEqual(resp.status, expect, resp)
        return resp.json

    def get_run(self, run_id):
        resp = self.api.get("/task/run/" + run_id)
        self.assertEqual(resp.status, 200, resp)
        return resp.json

    def logs(self, run_id):
        resp = self.api.get("/task/run/%s/logs" % run_id)
        self.assertEqual(resp.status, 200, resp)
        return resp.json

    def wait_for(self, fn, timeout=30.0, interval=0.05, what="condition"):
        deadline = time.monotonic() + timeout
        while True:
            value = fn()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail("timed out after %.0f s waiting for %s"
                          % (timeout, what))
            time.sleep(interval)

    def wait_state(self, run_id, states, timeout=60.0):
        if isinstance(states, str):
            states = (states,)
        return self.wait_for(
            lambda: (lambda r: r if r["state"] in states else None)(
                self.get_run(run_id)),
            timeout, what="run %s to reach %s" % (run_id, "/".join(states)))

    def wait_question(self, run_id, timeout=30.0):
        def find():
            resp = self.api.get("/task/questions/pending")
            self.assertEqual(resp.status, 200, resp)
            for q in resp.json:
                if q["runId"] == run_id:
                    return q
            return None
        return self.wait_for(find, timeout,
                             what="a question of run %s" % run_id)

    def answer(self, question_id, answer, expect=200):
        resp = self.api.post("/task/question/%s/answer" % question_id,
                             {"answer": answer})
        self.assertEqual(resp.status, expect, resp)
        return resp.json

    def assertLogsGapless(self, run_id):
        lines = self.logs(run_id)
        self.assertEqual([l["seq"] for l in lines],
                         list(range(1, len(lines) + 1)),
                         "log seqs of run %s have gaps or duplicates"
                         % run_id)
        return lines


def cmdline(pid):
    """The arguments of process pid ([] when it is gone)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def parent(pid):
    """The parent pid of pid (0 when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return 0
    return int(stat[stat.rfind(")") + 2:].split()[1])


def children(pid):
    """Pids whose parent is pid."""
    return [int(e) for e in os.listdir("/proc")
            if e.isdigit() and parent(int(e)) == pid]


def run_processes(run_id):
    """Pids of processes whose command line names run_id (task-exec)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmd = f.read().split(b"\0")
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2] == "Z":
            continue
        if run_id.encode() in cmd:
            pids.append(int(entry))
    return pids


def link_probe(*args):
    """Runs the nt_link_probe tool; returns its one-word answer."""
    tool = os.path.join(build_dir(), "tests", "nt_link_probe")
    proc = subprocess.run([tool] + list(args), capture_output=True,
                          text=True, timeout=30)
    if proc.returncode != 0:
        raise AssertionError("nt_link_probe %s failed: %s"
                             % (" ".join(args), proc.stderr))
    return proc.stdout.strip()
