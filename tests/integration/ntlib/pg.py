"""A private PostgreSQL 15 cluster for one test module or class.

start() runs tests/fixtures/pg.sh start DIR in a fresh temporary directory
and reads DIR/conninfo; stop() runs pg.sh stop DIR, which stops the server
and removes DIR. Cleanup is registered so the cluster goes away also when
a test fails or the process is told to stop. pause() and resume() stop and
restart the server keeping its data (the "database down" tests).
"""

import os
import pwd
import shlex
import shutil
import subprocess
import tempfile

from . import cleanup, source_dir


def pg_sh():
    return os.path.join(source_dir(), "tests", "fixtures", "pg.sh")


def _pg_bin(name):
    for d in ("/usr/lib/postgresql/15/bin",):
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(name)


class PgCluster:
    def __init__(self):
        self.parent = None
        self.dir = None
        self.conninfo = None
        self._undo = None

    def start(self):
        # The server runs as the postgres user, which must reach DIR.
        self.parent = tempfile.mkdtemp(prefix="nt-pg-")
        os.chmod(self.parent, 0o755)
        self.dir = os.path.join(self.parent, "pg")
        self._undo = cleanup.register(self._cleanup)
        proc = subprocess.run([pg_sh(), "start", self.dir],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError("pg.sh start failed (%d):\n%s%s"
                               % (proc.returncode, proc.stdout, proc.stderr))
        with open(os.path.join(self.dir, "conninfo")) as f:
            self.conninfo = f.read().strip()
        return self

    def _cleanup(self):
        if self.dir is None:
            return
        if os.path.exists(self.dir):
            subprocess.run([pg_sh(), "stop", self.dir], capture_output=True,
                           timeout=120)
        shutil.rmtree(self.parent, ignore_errors=True)
        self.dir = None

    def stop(self):
        """Stops the server and removes every file of the cluster."""
        self._cleanup()
        if self._undo is not None:
            cleanup.unregister(self._undo)
            self._undo = None

    # ---- down and up again ---------------------------------------------

    def _data_dir(self):
        for root, dirs, files in os.walk(self.dir):
            if "PG_VERSION" in files and "postgresql.conf" in files:
                return root
            dirs.sort()
        raise FileNotFoundError("no data directory under " + self.dir)

    def _as_owner(self, args):
        data = self._data_dir()
        owner = pwd.getpwuid(os.stat(data).st_uid).pw_name
        cmd = [_pg_bin("pg_ctl"), "-D", data] + args
        if owner != pwd.getpwuid(os.getuid()).pw_name:
            cmd = ["runuser", "-u", owner, "--"] + cmd
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=120, cwd="/")
        if proc.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s%s" % (
                " ".join(cmd), proc.returncode, proc.stdout, proc.stderr))

    def pause(self):
        """Stops the server (connections are cut), keeping its data.

        Fast, not immediate, shutdown: pg.sh runs the server with
        synchronous_commit off, so an immediate stop would lose the last
        commits.
        """
        data = self._data_dir()
        # postmaster.opts survives the stop: resume() starts the server
        # with the same options (port, socket directory) from it.
        with open(os.path.join(data, "postmaster.opts")) as f:
            self._opts = shlex.split(f.read())
        self._as_owner(["-m", "fast", "-w", "stop"])

    def resume(self):
        """Starts the paused server again with its earlier options."""
        opts = self._opts[1:]  # without the postgres binary
        if "-D" in opts:
            i = opts.index("-D")
            del opts[i:i + 2]
        log = os.path.join(self.dir, "resume.log")
        self._as_owner(["-w", "-l", log, "-o", shlex.join(opts), "start"])

    def psql(self, sql, *params):
        """Runs one query with psql; returns rows as lists of strings.

        params are bound as psql variables :'p1', :'p2', ... (quoted).
        """
        cmd = [_pg_bin("psql"), "-X", "-A", "-t", "-q", "-F", "\x1f",
               "-v", "ON_ERROR_STOP=1", "-d", self.conninfo]
        for i, p in enumerate(params, 1):
            cmd += ["-v", "p%d=%s" % (i, p)]
        proc = subprocess.run(cmd, input=sql, capture_output=True,
                              text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError("psql failed (%d): %s" % (proc.returncode,
                                                         proc.stderr))
        return [line.split("\x1f") for line in proc.stdout.splitlines()
                if line != ""]
