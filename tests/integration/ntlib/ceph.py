"""A throw-away one-node Ceph cluster (monitor + manager) for a test.

start() runs tests/fixtures/ceph.sh start DIR in a fresh temporary
directory: the monitor listens on a free port of 127.0.0.1 (or of the
address given), cephx is on, pools of size 1 are allowed. stop() runs
ceph.sh stop DIR, which stops every process of the cluster (also OSDs and
ceph-volume runs started by others), unmounts its OSD tmpfs mounts, puts
back the bootstrap-osd keyring and removes DIR. Cleanup is registered, so
this happens also when a test fails or the process is told to stop.

The OSD recipe of docs/ceph-notes.md is here too (ceph_volume(),
prepare_osd(), activate_osd(), start_osd()), for tests that need an OSD
without going through the agent.

Only one cluster at a time can be used for OSDs: ceph-volume reads the
bootstrap-osd key from a fixed path.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from . import cleanup, source_dir

OSD_ROOT = "/var/lib/ceph/osd"
BOOTSTRAP_KEYRING = "/var/lib/ceph/bootstrap-osd/ceph.keyring"


def ceph_sh():
    return os.path.join(source_dir(), "tests", "fixtures", "ceph.sh")


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _argv(pid):
    raw = _read("/proc/%d/cmdline" % pid)
    return [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]] \
        if raw else []


def _environ(pid):
    raw = _read("/proc/%d/environ" % pid)
    out = {}
    for item in (raw or b"").split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep:
            out[k.decode(errors="replace")] = v.decode(errors="replace")
    return out


def _state(pid):
    raw = _read("/proc/%d/status" % pid) or b""
    for line in raw.decode(errors="replace").splitlines():
        if line.startswith("State:"):
            return line.split()[1]
    return ""


class CephError(RuntimeError):
    def __init__(self, args, proc):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        super().__init__("%s failed (%d):\n%s%s" % (
            " ".join(args), proc.returncode, proc.stdout, proc.stderr))


class CephCluster:
    def __init__(self, addr=None):
        self.addr = addr
        self.parent = None
        self.dir = None
        self.info = {}
        self._undo = None
        self._osd_procs = []

    # ---- life cycle ------------------------------------------------------

    def _sh(self, *args, timeout=120):
        env = dict(os.environ)
        if self.addr:
            env["CEPH_FIXTURE_ADDR"] = self.addr
        proc = subprocess.run([ceph_sh()] + list(args), capture_output=True,
                              text=True, timeout=timeout, env=env, cwd="/")
        if proc.returncode != 0:
            raise RuntimeError("ceph.sh %s failed (%d):\n%s%s" % (
                " ".join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def start(self):
        """Bootstraps the cluster; returns when the monitor answers."""
        # The daemons run as the ceph user, which must reach DIR.
        self.parent = tempfile.mkdtemp(prefix="nt-ceph-")
        os.chmod(self.parent, 0o755)
        self.dir = os.path.join(self.parent, "c")
        self._undo = cleanup.register(self._cleanup)
        self._sh("start", self.dir)
        with open(os.path.join(self.dir, "env")) as f:
            for line in f:
                k, sep, v = line.rstrip("\n").partition("=")
                if sep:
                    self.info[k] = v
        return self

    def _cleanup(self):
        if self.dir is None:
            return
        if os.path.exists(self.dir):
            subprocess.run([ceph_sh(), "stop", self.dir], capture_output=True,
                           timeout=180, cwd="/")
        shutil.rmtree(self.parent, ignore_errors=True)
        self.dir = None

    def stop(self):
        """Stops every process of the cluster and removes all its files.

        Raises when ceph.sh stop fails (cleanup still runs at exit)."""
        if self.dir is not None and os.path.exists(self.dir):
            self._sh("stop", self.dir, timeout=180)
        self._cleanup()
        self._reap()
        if self._undo is not None:
            cleanup.unregister(self._undo)
            self._undo = None

    # ---- facts -----------------------------------------------------------

    @property
    def conf(self):
        """Path of the cluster's ceph.conf."""
        return self.info.get("CEPH_CONF") or os.path.join(self.dir,
                                                          "ceph.conf")

    @property
    def fsid(self):
        if "CEPH_FSID" not in self.info:
            self.info["CEPH_FSID"] = (_read(os.path.join(self.dir, "fsid"))
                                      or b"").decode().strip()
        return self.info["CEPH_FSID"]

    @property
    def admin_keyring(self):
        return self.info["CEPH_ADMIN_KEYRING"]

    @property
    def log_dir(self):
        return self.info["CEPH_LOG_DIR"]

    @property
    def run_dir(self):
        return self.info["CEPH_RUN_DIR"]

    @property
    def env(self):
        """Variables a process (the agent, ceph-volume) needs for this
        cluster; merge into os.environ."""
        return {"CEPH_CONF": self.conf,
                "CEPH_VOLUME_ALLOW_LOOP_DEVICES": "true"}

    def environ(self, **extra):
        """os.environ with env and extra added."""
        env = dict(os.environ)
        env.update(self.env)
        env.update(extra)
        return env

    # ---- the ceph CLI ----------------------------------------------------

    def ceph(self, *args, timeout=30, check=True, name="client.admin",
             keyring=None, fmt="json"):
        """Runs the ceph CLI (as client.admin by default) with JSON output;
        returns the parsed JSON (None for empty output), or with
        check=False the CompletedProcess."""
        cmd = ["ceph", "-c", self.conf, "-n", name,
               "-k", keyring or self.admin_keyring,
               "--connect-timeout", str(max(1, int(timeout) - 2))]
        if fmt:
            cmd += ["--format", fmt]
        cmd += [str(a) for a in args]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, cwd="/")
        if not check:
            return proc
        if proc.returncode != 0:
            raise CephError(cmd, proc)
        out = proc.stdout.strip()
        if fmt and fmt.startswith("json"):
            return json.loads(out) if out else None
        return out

    def status(self):
        return self.ceph("status")

    def osd_tree(self):
        return self.ceph("osd", "tree")

    def osd_dump(self):
        return self.ceph("osd", "dump")

    def osd_info(self, osd_id):
        """The entry of osd_id in `ceph osd dump` (None when absent)."""
        for osd in self.osd_dump()["osds"]:
            if osd["osd"] == int(osd_id):
                return osd
        return None

    def osd_up(self, osd_id):
        """True when the OSD is up and in."""
        osd = self.osd_info(osd_id)
        return bool(osd and osd["up"] == 1 and osd["in"] == 1)

    def wait_osd_up(self, osd_id, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            if self.osd_up(osd_id):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError("osd.%s not up and in after %ss"
                                   % (osd_id, timeout))
            time.sleep(0.5)

    def mgr_available(self):
        return bool(self.ceph("mgr", "stat").get("available"))

    def wait_mgr(self, timeout=60):
        self._sh("wait-mgr", self.dir, str(int(timeout)),
                 timeout=timeout + 40)

    # ---- monitor down and up ---------------------------------------------

    def stop_mon(self):
        """Stops the monitor (keeping its data): clients then time out."""
        self._sh("mon-stop", self.dir)

    def start_mon(self):
        """Starts the monitor again; returns when it answers."""
        self._sh("mon-start", self.dir)

    # ---- processes -------------------------------------------------------

    def processes(self):
        """Running (not zombie) ceph-mon, ceph-mgr, ceph-osd and
        ceph-volume processes of this cluster: [(pid, name, argv)].

        Independent of ceph.sh: a process belongs here when its command
        line names this ceph.conf, its CEPH_CONF is it, or (ceph-osd) its
        data directory's ceph_fsid is this cluster's."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            argv = _argv(pid)
            if not argv:
                continue
            name = os.path.basename(argv[0])
            if name.startswith("python") and len(argv) > 1:
                name = os.path.basename(argv[1])
            if name not in ("ceph-mon", "ceph-mgr", "ceph-osd",
                            "ceph-volume"):
                continue
            if _state(pid) in ("Z", "X", ""):
                continue
            ours = (self.conf in argv or "--conf=" + self.conf in argv or
                    _environ(pid).get("CEPH_CONF") == self.conf)
            if not ours and name == "ceph-osd" and "-i" in argv:
                i = argv.index("-i")
                if i + 1 < len(argv):
                    f = "/proc/%d/root%s/ceph-%s/ceph_fsid" % (
                        pid, OSD_ROOT, argv[i + 1])
                    ours = (_read(f) or b"").strip() == self.fsid.encode()
            if ours:
                found.append((pid, name, argv))
        return found

    def kill_osds(self, sig=signal.SIGTERM, timeout=15):
        """Stops every ceph-osd of this cluster; returns their PIDs."""
        pids = [p for p, name, _ in self.processes() if name == "ceph-osd"]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while any(_state(p) not in ("Z", "X", "") for p in pids):
            if time.monotonic() >= deadline:
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + 5
            self._reap()
            time.sleep(0.1)
        self._reap()
        return pids

    def osd_mounts(self):
        """Mount points under /var/lib/ceph/osd in this mount namespace
        whose OSD belongs to this cluster (ceph_fsid)."""
        out = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mnt = line.split()[4]
                if not mnt.startswith(OSD_ROOT + "/ceph-"):
                    continue
                fsid = _read(os.path.join(mnt, "ceph_fsid"))
                if fsid is None or fsid.strip() == self.fsid.encode():
                    out.append(mnt)
        return out

    # ---- the OSD recipe (docs/ceph-notes.md) -----------------------------

    def ceph_volume(self, *args, timeout=120, check=True, mount_timeout=20):
        """Runs ceph-volume for this cluster; its log goes to log_dir.

        CEPH_ARGS bounds the time its ceph calls wait for the monitor."""
        cmd = ["ceph-volume", "--log-path", self.log_dir] + list(args)
        env = self.environ(CEPH_ARGS="--client-mount-timeout %d "
                           "--rados-mon-op-timeout %d"
                           % (mount_timeout, mount_timeout))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=timeout, cwd="/")
        if check and proc.returncode != 0:
            raise CephError(cmd, proc)
        return proc

    def raw_list(self, device):
        """ceph-volume raw list DEVICE: {osd_uuid: {...}} ({} if none)."""
        return json.loads(self.ceph_volume("raw", "list", device,
                                           "--format", "json").stdout)

    def prepare_osd(self, device, device_class=None):
        """raw prepare; returns (osd_id, osd_uuid) from raw list."""
        args = ["raw", "prepare", "--bluestore", "--data", device]
        if device_class:
            args += ["--crush-device-class", device_class]
        self.ceph_volume(*args)
        found = [v for v in self.raw_list(device).values()
                 if v.get("device") == device]
        if not found:
            raise RuntimeError("no OSD on %s after raw prepare" % device)
        return found[0]["osd_id"], found[0]["osd_uuid"]

    def activate_osd(self, device):
        self.ceph_volume("raw", "activate", "--device", device,
                         "--no-systemd")

    def start_osd(self, osd_id):
        """Starts ceph-osd -f in its own session, detached from this
        process (output to log_dir/osd.ID.out); returns its PID."""
        log = os.path.join(self.log_dir, "osd.%s.out" % osd_id)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                ["ceph-osd", "-f", "-i", str(osd_id), "--setuser", "ceph",
                 "--setgroup", "ceph"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                env=self.environ(), cwd="/", start_new_session=True)
        # Its own session: a signal to our process group does not reach
        # it, as it must outlive the agent. ceph.sh stop finds it; we
        # only reap it (poll) once it has exited.
        self._osd_procs.append(proc)
        return proc.pid

    def _reap(self):
        for proc in list(self._osd_procs):
            if proc.poll() is not None:
                self._osd_procs.remove(proc)

    def create_osd(self, device, device_class=None, timeout=120):
        """The whole recipe: prepare, activate, start, wait until up.
        Returns (osd_id, osd_uuid)."""
        osd_id, osd_uuid = self.prepare_osd(device, device_class)
        self.activate_osd(device)
        self.start_osd(osd_id)
        self.wait_osd_up(osd_id, timeout)
        return osd_id, osd_uuid
