"""The real nodetask-controller: as a server and as a command line.

Controller starts the server from the build tree on free loopback ports
against a given database, waits until GET /healthz answers, and stops it
with SIGTERM, checking that it exits 0 and that its standard error holds
no sanitizer report. The log (stderr and stdout) is kept in a file under
the build tree (tests/logs/) that tests print when they fail.
"""

import os
import signal
import socket
import subprocess
import time

from . import build_dir, cleanup
from .http import Client

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "LeakSanitizer",
    "runtime error:",
    "ERROR: UndefinedBehaviorSanitizer",
)


def binary():
    return os.path.join(build_dir(), "controller", "nodetask-controller")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_path(name):
    """A fresh log file build/tests/logs/NAME.log (the old one removed)."""
    d = os.path.join(build_dir(), "tests", "logs")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name + ".log")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    return path


def sanitizer_report(text):
    """The first sanitizer marker found in text, or None."""
    for marker in SANITIZER_MARKERS:
        if marker in text:
            return marker
    return None


class ControllerError(AssertionError):
    pass


def run_cli(args, db=None, env=None, input=None, timeout=60):
    """Runs nodetask-controller ARGS...; returns the CompletedProcess.

    db: added as --db (None: not added). env: extra environment
    (a value of None removes the variable). Raises ControllerError when
    the program printed a sanitizer report.
    """
    cmd = [binary()]
    if db is not None:
        cmd += ["--db", db]
    cmd += list(args)
    full_env = dict(os.environ)
    full_env.pop("NODETASK_DB", None)
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    # errors="replace": garbage in the output must fail an assertion,
    # not the decoding.
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True,
                          errors="replace", env=full_env, timeout=timeout)
    marker = sanitizer_report(proc.stderr)
    if marker:
        raise ControllerError("%s printed a sanitizer report (%s):\n%s"
                              % (" ".join(cmd), marker, proc.stderr))
    return proc


class ProgramProcess:
    """A program under test: its process (self.proc), its log file
    (self.log_path) and what every such program must satisfy: no
    sanitizer report. Error is the AssertionError subclass to raise."""

    Error = AssertionError

    def kill(self):
        """SIGKILL by pid if still running (cleanup path; no checks)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.proc = None

    # ---- logs --------------------------------------------------------------

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def check_log(self):
        marker = sanitizer_report(self.log_text())
        if marker:
            raise self.Error("%s: log has a sanitizer report (%s):\n%s"
                             % (self.log_path, marker, self.log_text()))


class Controller(ProgramProcess):
    """One nodetask-controller server process."""

    Error = ControllerError

    def __init__(self, db, extra_args=(), name="controller"):
        self.db = db
        self.extra_args = list(extra_args)
        self.name = name
        self.log_path = log_path(name)
        self.proc = None
        self.http_port = None
        self.agents_port = None
        self._undo = None

    # ---- lifecycle -------------------------------------------------------

    def start(self, timeout=40.0, attempts=3):
        """Starts the server and waits for /healthz; retries a lost port."""
        last = None
        for _ in range(attempts):
            self.http_port = free_port()
            self.agents_port = free_port()
            if self._spawn() and self._wait_healthy(timeout):
                return self
            last = self.log_text()
            self.kill()
        raise ControllerError("controller did not come up; its log:\n%s"
                              % last)

    def _spawn(self):
        cmd = [binary(), "--db", self.db,
               "--http", "127.0.0.1:%d" % self.http_port,
               "--agents", "tcp://127.0.0.1:%d" % self.agents_port]
        cmd += self.extra_args
        env = dict(os.environ)
        env.pop("NODETASK_DB", None)
        with open(self.log_path, "ab") as log:
            log.write(("== %s\n" % " ".join(cmd)).encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=env)
        if self._undo is None:
            self._undo = cleanup.register(self._cleanup)
        return True

    def _wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        client = self.client()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if client.get("/healthz", timeout=2).status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Stops the server with sig; asserts exit 0 and a clean log.

        Returns the exit code. Raises ControllerError (with the log) when
        the process does not exit in time, exits non-zero, or printed a
        sanitizer report.
        """
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise ControllerError(
                    "controller did not exit within %.0f s of %s; log:\n%s"
                    % (timeout, signal.Signals(sig).name, self.log_text()))
        code = self.proc.returncode
        self.proc = None
        log = self.log_text()
        if code != 0:
            raise ControllerError("controller exited %d after %s; log:\n%s"
                                  % (code, signal.Signals(sig).name, log))
        self.check_log()
        return code

    def _cleanup(self):
        self.kill()

    def close(self):
        """Kills the process if needed and forgets the cleanup."""
        self.kill()
        if self._undo is not None:
            cleanup.unregister(self._undo)
            self._undo = None

    # ---- clients -----------------------------------------------------------

    def client(self, key=None):
        return Client("127.0.0.1", self.http_port, key)

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.http_port

    def cli(self, *args, **kw):
        """Runs a subcommand against this server's database."""
        return run_cli(args, db=self.db, **kw)

    def create_key(self, name, scope):
        """key create; returns the key printed on stdout."""
        proc = self.cli("key", "create", "--name", name, "--scope", scope)
        if proc.returncode != 0:
            raise ControllerError("key create %s failed (%d): %s"
                                  % (name, proc.returncode, proc.stderr))
        return proc.stdout.strip()
