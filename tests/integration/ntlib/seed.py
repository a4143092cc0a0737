"""nt_seed: writes what an agent would report, through the store code.

Until the agent link exists, the tests create nodes and disks and replay
agent events (run started, log lines, questions, finished) with the
tests/tools/nt_seed program, which calls the controller's own store
functions.
"""

import os
import subprocess
import uuid

from . import build_dir
from .controller import sanitizer_report


class SeedError(AssertionError):
    pass


def binary():
    return os.path.join(build_dir(), "tests", "nt_seed")


class Seeder:
    def __init__(self, db):
        self.db = db

    def run(self, *args, check=True):
        """Runs nt_seed ARGS...; returns the CompletedProcess."""
        cmd = [binary(), "--db", self.db] + [str(a) for a in args]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=60)
        marker = sanitizer_report(proc.stderr)
        if marker:
            raise SeedError("nt_seed printed a sanitizer report (%s):\n%s"
                            % (marker, proc.stderr))
        if check and proc.returncode != 0:
            raise SeedError("%s exited %d:\n%s%s" % (
                " ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def node(self, hostname=None, node_id=None, online=True,
             agent_version="1.2.3-test", address="127.0.0.2"):
        """Creates a node; returns its id."""
        node_id = node_id or str(uuid.uuid4())
        hostname = hostname or "node-" + node_id[:8]
        args = ["node", "--id", node_id, "--hostname", hostname,
                "--agent-version", agent_version, "--address", address]
        if not online:
            args.append("--offline")
        self.run(*args)
        return node_id

    def disks(self, node_id, *specs):
        """Replaces the node's disks; returns {devicePath: diskId}.

        A spec is "PATH" (available) or "PATH=reason,reason" (not).
        """
        out = self.run("disks", "--node", node_id, *specs).stdout
        disks = {}
        for line in out.splitlines():
            disk_id, path = line.split(" ", 1)
            disks[path] = disk_id
        return disks

    def event(self, node_id, run_id, seq, kind, *args, check=True,
              question_ttl_ms=None, result=None):
        """Applies one event; returns the outcome ("stored", ...)."""
        opts = ["event", "--node", node_id, "--run", run_id,
                "--seq", str(seq)]
        if question_ttl_ms is not None:
            opts += ["--question-ttl", str(question_ttl_ms)]
        if result is not None:
            opts += ["--result", result]
        proc = self.run(*(opts + [kind] + list(args)), check=check)
        return proc.stdout.strip()

    def started(self, node_id, run_id, seq=1):
        return self.event(node_id, run_id, seq, "started")

    def log(self, node_id, run_id, seq, level, message):
        return self.event(node_id, run_id, seq, "log", level, message)

    def logs(self, node_id, run_id, first_seq, count, level="info",
             prefix="line"):
        """count log lines "PREFIX 1".."PREFIX count" in one batch."""
        return self.event(node_id, run_id, first_seq, "logs", level,
                          count, prefix).split()

    def question(self, node_id, run_id, seq, prompt, options,
                 question_id=None, ttl_ms=None):
        """Opens a question; returns its id."""
        question_id = question_id or str(uuid.uuid4())
        self.event(node_id, run_id, seq, "question", question_id, prompt,
                   *options, question_ttl_ms=ttl_ms)
        return question_id

    def finished(self, node_id, run_id, seq, state, error=None,
                 result=None, check=True):
        args = [state] + ([error] if error is not None else [])
        return self.event(node_id, run_id, seq, "finished", *args,
                          result=result, check=check)
