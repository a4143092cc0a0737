"""The real nodetask-agent as a test host's process.

Agent starts build/agent/nodetask-agent with its own state directory and
hostname, optionally inside a NetNs, logs to a file under the build tree,
and can be stopped (SIGTERM, must exit 0 with no sanitizer report),
killed (SIGKILL, as a crash) and started again with the same state.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

from . import build_dir, cleanup
from .controller import ProgramProcess, log_path


def binary():
    return os.path.join(build_dir(), "agent", "nodetask-agent")


class AgentError(AssertionError):
    pass


class Agent(ProgramProcess):
    Error = AgentError

    def __init__(self, controller_url, hostname, token=None, allow=None,
                 netns=None, extra_args=(), state_dir=None):
        self.controller_url = controller_url
        self.hostname = hostname
        self.token = token
        self.allow = allow
        self.netns = netns
        self.extra_args = list(extra_args)
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="nt-agent-")
        self.log_path = log_path("agent-" + hostname)
        self.proc = None
        self._undo = cleanup.register(self._cleanup)

    def command(self):
        cmd = [binary(), "--controller", self.controller_url,
               "--state-dir", self.state_dir, "--hostname", self.hostname]
        if self.token:
            cmd += ["--enroll-token", self.token]
        if self.allow:
            cmd += ["--allow-devices", ",".join(self.allow)]
        cmd += self.extra_args
        if self.netns is not None:
            cmd = self.netns.wrap(cmd)
        return cmd

    def start(self):
        with open(self.log_path, "ab") as log:
            log.write(("== %s\n" % " ".join(self.command())).encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(),
                                         stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        return self

    def node_id(self, timeout=10.0):
        """The node id the agent keeps in its state directory."""
        path = os.path.join(self.state_dir, "node_id")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(path) as f:
                    value = f.read().strip()
                if value:
                    return value
            except FileNotFoundError:
                pass
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AgentError("agent %s wrote no node id; log:\n%s"
                         % (self.hostname, self.log_text()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30.0):
        """SIGTERM; asserts exit 0 and a clean log."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AgentError("agent %s ignored SIGTERM for %.0f s; log:"
                                 "\n%s" % (self.hostname, timeout,
                                           self.log_text()))
        code = self.proc.returncode
        self.proc = None
        if code != 0:
            raise AgentError("agent %s exited %d after SIGTERM; log:\n%s"
                             % (self.hostname, code, self.log_text()))
        self.check_log()
        return code

    def _cleanup(self):
        self.kill()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def close(self):
        self._cleanup()
        cleanup.unregister(self._undo)
