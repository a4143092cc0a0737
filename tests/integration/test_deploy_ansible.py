"""deploy/ansible: lint, syntax check and a real rollout on this machine.

The real run builds the Debian packages of the current build tree
(`cmake --build BUILD --target package`) and runs deploy/ansible/site.yml
against localhost (ansible_connection=local, the host in both groups) with
the direct service manager: the roles install python3-psycopg2 if
missing, create and start a PostgreSQL cluster of the test's own
("ntdeploytest" on a free port), install both packages, start the
controller and the agent with start-stop-daemon on free ports, and
enroll the agent. The test then
checks that the node is online in GET /nodes and that a node.ping run
completes, and runs the playbook a second time, which must change nothing.

Everything the run creates is removed afterwards, also when a step fails
or the test is stopped: the two processes (by their pid files), the
packages (purged, which removes the nodetask user, /etc/nodetask and the
agent's state), the PostgreSQL cluster, python3-psycopg2 when the run
installed it, and the temporary directory holding pid files and logs. A
run killed before its cleanup leaves a note in /run that the next run
reads to clean up first. Runs from other build trees of the same machine
wait for each other (a lock file in /run/lock).

Needs root, Debian 12 with the packages ansible, ansible-lint,
postgresql-15 and dpkg-dev, and no nodetask packages installed by anyone
else.
"""

import fcntl
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from ntlib import build_dir, cleanup, source_dir
from ntlib.controller import free_port
from ntlib.http import Client

PACKAGES = ("nodetask-agent", "nodetask-controller")
PG_VERSION = "15"
PG_CLUSTER = "ntdeploytest"
# python3-psycopg2: the community.postgresql modules need it on the host.
EXTRA_PACKAGES = ("python3-psycopg2",)
# What a killed run left behind, for the next run to remove.
NOTE = "/run/nodetask-deploy-test.json"
# Held while a run changes the machine: test runs from other build trees
# (sharing the machine's packages and paths) wait for each other.
LOCK = "/run/lock/nodetask-deploy-test.lock"
APT = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-q"]

ANSIBLE_DIR = os.path.join(source_dir(), "deploy", "ansible")


def log(msg):
    sys.stderr.write("deploy test: %s\n" % msg)
    sys.stderr.flush()


def run(cmd, timeout=600, check=True, **kw):
    """Runs cmd; returns the CompletedProcess (text, output captured)."""
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (
            " ".join(cmd), proc.returncode, proc.stdout[-20000:],
            proc.stderr[-5000:]))
    return proc


def run_playbook(cmd, env, timeout=600):
    """Runs ansible-playbook in deploy/ansible. If the test is stopped
    meanwhile (or times out), ansible-playbook gets SIGTERM rather than
    SIGKILL, and a module it runs (apt, dpkg) may finish: the cleanup
    waits for the dpkg lock."""
    proc = subprocess.Popen(cmd, cwd=ANSIBLE_DIR, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        proc.terminate()
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def installed(pkg):
    proc = run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
    return proc.returncode == 0 and proc.stdout.endswith(" installed")


def pg_cluster_exists():
    return os.path.exists("/etc/postgresql/%s/%s/postgresql.conf"
                          % (PG_VERSION, PG_CLUSTER))


def stop_pidfile(path, binary):
    """SIGTERM (then SIGKILL) to the process in pid file path, if it is
    still the given program."""
    try:
        with open(path) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return
    if not exe.startswith(binary):  # also "... (deleted)" after a purge
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not os.path.exists("/proc/%d" % pid):
            break
        time.sleep(0.1)
    else:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.unlink(path)
    except OSError:
        pass


def undo(state):
    """Removes what a run described by state created. Idempotent."""
    run_dir = state.get("run_dir")
    if run_dir:
        stop_pidfile(os.path.join(run_dir, "nodetask-agent.pid"),
                     "/usr/sbin/nodetask-agent")
        stop_pidfile(os.path.join(run_dir, "nodetask-controller.pid"),
                     "/usr/sbin/nodetask-controller")
    present = [p for p in PACKAGES if installed(p)]
    if present:
        run(APT + ["purge"] + present, check=False)
    for pkg in state.get("extra_packages", []):
        if installed(pkg):
            run(APT + ["purge"] + [pkg], check=False)
    if pg_cluster_exists():
        run(["pg_dropcluster", "--stop", PG_VERSION, PG_CLUSTER],
            check=False, timeout=120)
    for path in state.get("remove_paths", []):
        shutil.rmtree(path, ignore_errors=True)
    if state.get("tmp"):
        shutil.rmtree(state["tmp"], ignore_errors=True)
    try:
        os.unlink(NOTE)
    except FileNotFoundError:
        pass


def lock_machine(timeout=480):
    """Takes LOCK (waiting up to timeout s); returns its descriptor."""
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise AssertionError("another deploy test still runs on "
                                     "this machine (%s)" % LOCK)
            if not waited:
                log("waiting for another deploy test to finish")
                waited = True
            time.sleep(2)


def write_note(state):
    with open(NOTE, "w") as f:
        json.dump(state, f)


def recap(output):
    """The PLAY RECAP counters of localhost as a dict of ints."""
    m = None
    for m in re.finditer(r"^localhost\s*:\s*(.*)$", output, re.M):
        pass
    if m is None:
        raise AssertionError("no PLAY RECAP in:\n" + output[-5000:])
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def newest(pattern):
    files = glob.glob(pattern)
    if not files:
        raise AssertionError("no package matches " + pattern)
    return max(files, key=os.path.getmtime)


class DeployAnsibleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (installs packages)")
        for tool in ("ansible-playbook", "ansible-lint", "pg_createcluster",
                     "start-stop-daemon", "dpkg-shlibdeps"):
            if shutil.which(tool) is None:
                raise AssertionError(
                    "%s is missing: install ansible, ansible-lint, "
                    "postgresql-15 and dpkg-dev" % tool)
        cls.env = dict(os.environ,
                       ANSIBLE_CONFIG=os.path.join(ANSIBLE_DIR, "ansible.cfg"),
                       ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                       ANSIBLE_PIPELINING="1", NO_COLOR="1",
                       DEBIAN_FRONTEND="noninteractive")
        cls.env.pop("NODETASK_DB", None)

    # ---- static checks --------------------------------------------------

    def test_1_ansible_lint(self):
        tmp = tempfile.mkdtemp(prefix="nt-lint-")
        try:
            env = dict(self.env, HOME=tmp, XDG_CACHE_HOME=tmp)
            proc = run(["ansible-lint", "--offline", "--nocolor"],
                       cwd=ANSIBLE_DIR, env=env, check=False)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(proc.returncode, 0,
                         "ansible-lint:\n" + proc.stdout + proc.stderr)

    def test_2_syntax_check(self):
        for inv in ("inventory/example.ini", "localhost,"):
            proc = run(["ansible-playbook", "--syntax-check", "-i", inv,
                        "site.yml"], cwd=ANSIBLE_DIR, env=self.env,
                       check=False)
            self.assertEqual(proc.returncode, 0, "syntax check with %s:\n%s%s"
                             % (inv, proc.stdout, proc.stderr))

    # ---- a real rollout on localhost --------------------------------------

    def test_3_deploy_localhost(self):
        fd = lock_machine()
        try:
            self._locked_deploy()
        finally:
            os.close(fd)

    def _locked_deploy(self):
        if os.path.exists(NOTE):
            log("cleaning up after an earlier, killed run")
            with open(NOTE) as f:
                undo(json.load(f))
        for pkg in PACKAGES:
            if installed(pkg):
                self.fail("%s is installed on this machine; this test "
                          "installs and purges it: purge it first" % pkg)
        for path in ("/etc/nodetask", "/var/lib/nodetask-agent"):
            if os.path.exists(path):
                self.fail("%s exists; this test would remove it: remove "
                          "it first" % path)
        if pg_cluster_exists():
            run(["pg_dropcluster", "--stop", PG_VERSION, PG_CLUSTER],
                timeout=120)

        log("building the packages")
        run(["cmake", "--build", build_dir(), "--target", "package"],
            timeout=900)
        ctl_deb = newest(os.path.join(build_dir(),
                                      "nodetask-controller_*.deb"))
        agent_deb = newest(os.path.join(build_dir(), "nodetask-agent_*.deb"))

        tmp = tempfile.mkdtemp(prefix="nt-deploy-")
        os.chmod(tmp, 0o755)
        state = {
            "tmp": tmp,
            "run_dir": os.path.join(tmp, "run"),
            "extra_packages": [p for p in EXTRA_PACKAGES
                               if not installed(p)],
            "remove_paths": ["/etc/nodetask", "/var/lib/nodetask-agent"],
        }
        write_note(state)
        handle = cleanup.register(lambda: undo(state))
        try:
            self._deploy(tmp, state, ctl_deb, agent_deb)
        finally:
            log("cleaning up")
            undo(state)
            cleanup.unregister(handle)
        self.assertFalse(pg_cluster_exists())
        for pkg in PACKAGES:
            self.assertFalse(installed(pkg), pkg + " still installed")
        self.assertNotEqual(
            run(["getent", "passwd", "nodetask"], check=False).returncode, 0,
            "the nodetask user outlived the purge")

    def _deploy(self, tmp, state, ctl_deb, agent_deb):
        os.makedirs(state["run_dir"])
        http_port = free_port()
        agents_port = free_port()
        pg_port = free_port()
        inventory = os.path.join(tmp, "inventory.ini")
        with open(inventory, "w") as f:
            f.write("[controllers]\nlocalhost ansible_connection=local\n"
                    "[storage_nodes]\nlocalhost ansible_connection=local\n"
                    "[all:vars]\nansible_python_interpreter=/usr/bin/python3\n"
                    # root has no sudo here; su to postgres works.
                    "ansible_become_method=su\n")
        extra = {
            "nodetask_service_manager": "direct",
            "nodetask_controller_deb": ctl_deb,
            "nodetask_agent_deb": agent_deb,
            "nodetask_deb_cache_dir": os.path.join(tmp, "debs"),
            "nodetask_run_dir": state["run_dir"],
            "nodetask_log_dir": os.path.join(tmp, "log"),
            "nodetask_postgresql_cluster": PG_CLUSTER,
            "nodetask_postgresql_port": pg_port,
            "nodetask_http_port": http_port,
            "nodetask_agents_address": "127.0.0.1",
            "nodetask_agents_port": agents_port,
            "nodetask_agent_controller_url":
                "tcp://127.0.0.1:%d" % agents_port,
            "nodetask_agent_hostname": "deploy-test-node",
            "nodetask_agent_serial": 1,
            "nodetask_agent_online_retries": 45,
        }
        extra_file = os.path.join(tmp, "extra.json")
        with open(extra_file, "w") as f:
            json.dump(extra, f)
        cmd = ["ansible-playbook", "-i", inventory, "-e", "@" + extra_file,
               "site.yml"]
        env = dict(self.env, ANSIBLE_LOCAL_TEMP=os.path.join(tmp, "ansible"))

        def play(n):
            log("ansible-playbook run %d" % n)
            start = time.monotonic()
            proc = run_playbook(cmd, env)
            out = proc.stdout + proc.stderr
            with open(os.path.join(build_dir(), "tests", "logs",
                                   "deploy-ansible-run%d.log" % n), "w") as f:
                f.write(out)
            counts = recap(proc.stdout)
            log("run %d: %.0f s, %s" % (n, time.monotonic() - start,
                                        counts))
            if proc.returncode != 0 or counts.get("failed", 1) != 0:
                self.fail("ansible-playbook run %d failed (%d):\n%s%s"
                          % (n, proc.returncode, out[-15000:],
                             self._service_logs(extra)))
            return counts, proc.stdout

        os.makedirs(os.path.join(build_dir(), "tests", "logs"),
                    exist_ok=True)
        first, _ = play(1)
        self.assertGreater(first["changed"], 0)

        with open("/etc/nodetask/admin.key") as f:
            key = f.read().strip()
        self.assertEqual(os.stat("/etc/nodetask/admin.key").st_mode & 0o777,
                         0o600)
        client = Client("127.0.0.1", http_port, key)
        nodes = client.get("/nodes")
        self.assertEqual(nodes.status, 200, nodes)
        mine = [n for n in nodes.json if n["hostname"] == "deploy-test-node"]
        self.assertEqual(len(mine), 1, nodes.json)
        self.assertEqual(mine[0]["state"], "online", nodes.json)
        with open("/var/lib/nodetask-agent/node_id") as f:
            self.assertEqual(f.read().strip(), mine[0]["id"])
        with open("/etc/nodetask/agent.conf") as f:
            self.assertNotIn("enroll-token", f.read(),
                             "the spent token stayed in agent.conf")
        # The controller runs as the package's system user, the agent as
        # root.
        nodetask_uid = int(run(["id", "-u", "nodetask"]).stdout)
        self.assertEqual(self._pid_uid(state, "controller"), nodetask_uid)
        self.assertEqual(self._pid_uid(state, "agent"), 0)

        resp = client.post("/task/runs", {"taskName": "node.ping",
                                          "nodeId": mine[0]["id"]})
        self.assertEqual(resp.status, 201, resp)
        run_id = resp.json["id"]
        deadline = time.monotonic() + 30
        state_now = None
        while time.monotonic() < deadline:
            got = client.get("/task/run/" + run_id)
            self.assertEqual(got.status, 200, got)
            state_now = got.json["state"]
            if state_now in ("completed", "failed", "canceled"):
                break
            time.sleep(0.2)
        self.assertEqual(state_now, "completed",
                         "node.ping: %r\n%s" % (got.json,
                                                self._service_logs(extra)))

        second, out = play(2)
        self.assertEqual(second["changed"], 0,
                         "the second run changed something:\n" + out[-15000:])

    @staticmethod
    def _pid_uid(state, name):
        """The real uid of the process in run_dir/nodetask-NAME.pid."""
        with open(os.path.join(state["run_dir"],
                               "nodetask-%s.pid" % name)) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
        raise AssertionError("no Uid line for pid %d" % pid)

    @staticmethod
    def _service_logs(extra):
        text = ""
        for name in ("controller", "agent"):
            path = os.path.join(extra["nodetask_log_dir"], name + ".log")
            try:
                with open(path, errors="replace") as f:
                    text += "\n== %s.log (tail)\n%s" % (name, f.read()[-4000:])
            except OSError:
                pass
        return text


if __name__ == "__main__":
    unittest.main(verbosity=2)
