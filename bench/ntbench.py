"""ntbench: what the benchmark drivers in bench/ share.

They reuse the integration tests' helpers (tests/integration/ntlib: a
private PostgreSQL, the real controller and agent from a build tree) and
add: pre-seeded nodes with secrets (so thousands of simulated agents need
no enrollment), the agent simulator (bench/nt_agent_sim) as a child
process, a keep-alive API client, /proc readings (RSS, CPU) and
percentiles. Figures are printed, never asserted.

The build tree is --build, else $NODETASK_BUILD_DIR, else ./build; it
must be an optimised (Release or RelWithDebInfo), unsanitized build.
"""

import argparse
import hashlib
import http.client
import json
import os
import queue
import resource
import secrets
import statistics
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))


def arg_parser(doc):
    """An ArgumentParser with --build; call setup(args) after parsing."""
    ap = argparse.ArgumentParser(
        description=doc.strip().splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(doc.strip().splitlines()[1:]))
    ap.add_argument("--build", default=os.environ.get(
        "NODETASK_BUILD_DIR", os.path.join(SOURCE, "build")),
        help="CMake build directory (optimised, not sanitized)")
    return ap


def setup(args):
    """Points ntlib at the build tree and raises the open-file limit."""
    os.environ["NODETASK_BUILD_DIR"] = os.path.abspath(args.build)
    os.environ.setdefault("NODETASK_SOURCE_DIR", SOURCE)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for name in ("nt_agent_sim", "nt_api_base"):
        path = tool(name)
        if not os.access(path, os.X_OK):
            raise SystemExit("%s missing: build the bench targets in %s"
                             % (path, args.build))


def tool(name):
    return os.path.join(os.environ["NODETASK_BUILD_DIR"], "bench", name)


# ---- statistics ------------------------------------------------------------


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1,
                   int(round(p / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def median(values):
    return statistics.median(values)


def machine():
    """One line about this machine, for BENCHMARKS.md."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return "%d CPUs (%s), %.0f GiB RAM, kernel %s, load %.2f" % (
        os.cpu_count(), model, mem / 2 ** 30, os.uname().release,
        os.getloadavg()[0])


# ---- /proc -----------------------------------------------------------------


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User + system CPU time of pid (all threads) in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rfind(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_share(pid, seconds):
    """Share of one core pid used over the next `seconds` (0.25 = 25%)."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_seconds(pid), time.monotonic()
    return (c1 - c0) / (t1 - t0)


# ---- the API ---------------------------------------------------------------


class Api:
    """One keep-alive connection to the REST API."""

    def __init__(self, port, key, timeout=60):
        self.port = port
        self.key = key
        self.timeout = timeout
        self.conn = None

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": "Bearer " + self.key,
                   "Content-Type": "application/json"}
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def get(self, path):
        return self.call("GET", path)

    def post(self, path, body):
        return self.call("POST", path, body)


# ---- PostgreSQL ------------------------------------------------------------


def psql_copy(pg, table_cols, rows_text):
    """COPY rows (tab-separated text, one row a line) into table_cols."""
    from ntlib.pg import _pg_bin
    cmd = [_pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
           "-d", pg.conninfo, "-c", "COPY %s FROM STDIN" % table_cols]
    proc = subprocess.run(cmd, input=rows_text, capture_output=True,
                          text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError("COPY %s failed: %s" % (table_cols, proc.stderr))


def psql(pg, sql):
    """Runs sql (several statements allowed); returns rows."""
    return pg.psql(sql)


def seed_nodes(pg, n, path, prefix="sim"):
    """Creates n nodes with secrets in the store (as enrollment would)
    and writes "ID SECRET HOSTNAME" lines to path. Returns the list."""
    nodes, rows = [], []
    for i in range(n):
        node_id = str(uuid.uuid4())
        secret = "nts_" + secrets.token_hex(32)
        host = "%s-%05d" % (prefix, i)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        nodes.append((node_id, secret, host))
        rows.append("%s\t%s\toffline\t%s\n" % (node_id, host, digest))
    psql_copy(pg, "nodes (id, hostname, state, secret_hash)", "".join(rows))
    with open(path, "w") as f:
        for node in nodes:
            f.write("%s %s %s\n" % node)
    return nodes


# ---- the agent simulator ---------------------------------------------------


class Sim:
    """bench/nt_agent_sim as a child process, driven over its stdin."""

    def __init__(self, url, nodes_file, count=None, extra=(), log=None):
        cmd = [tool("nt_agent_sim"), "--url", url, "--nodes", nodes_file]
        if count is not None:
            cmd += ["--count", str(count)]
        cmd += [str(a) for a in extra]
        self.lines = queue.Queue()
        self.log = open(log or os.devnull, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, bufsize=1)
        self.online = 0
        self.total = None
        self.events = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.split())
        self.lines.put(None)

    def _next(self, timeout):
        try:
            words = self.lines.get(timeout=timeout)
        except queue.Empty:
            return []
        if words is None:
            raise RuntimeError("nt_agent_sim exited (%s)"
                               % self.proc.poll())
        if words and words[0] == "online":
            self.online, self.total = int(words[1]), int(words[2])
        self.events.append(words)
        return words

    def wait_for(self, word, timeout, pred=lambda w: True):
        """Waits for an output line starting with word (and pred);
        returns its words, or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            words = self._next(min(1.0, deadline - time.monotonic()))
            if words and words[0] == word and pred(words):
                return words
        return None

    def wait_online(self, n, timeout):
        """Monotonic time (s) at which n links were online; raises
        RuntimeError when they are not within timeout seconds."""
        words = self.wait_for("online", timeout,
                              lambda w: int(w[1]) >= n)
        if not words:
            raise RuntimeError("only %d of %d simulated agents online "
                               "after %d s" % (self.online, n, timeout))
        return int(words[3]) / 1e6

    def wait_offline(self, below, timeout):
        words = self.wait_for("online", timeout,
                              lambda w: int(w[1]) < below)
        return int(words[3]) / 1e6 if words else None

    def stats(self, timeout=30):
        """Round-trip figures since the last call (ms)."""
        try:
            self.proc.stdin.write("stats\n")
            self.proc.stdin.flush()
        except OSError:
            raise RuntimeError("nt_agent_sim exited (%s)"
                               % self.proc.wait())
        words = self.wait_for("stats", timeout)
        if words is None:
            raise RuntimeError("nt_agent_sim did not answer stats")
        out = {}
        for k, v in zip(words[1::2], words[2::2]):
            out[k] = float(v)
        return out

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(120)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---- the controller ----------------------------------------------------------


def start_controller(pg, name, args=()):
    """The real controller on free loopback ports, with a log file."""
    from ntlib.controller import Controller
    return Controller(pg.conninfo, extra_args=list(args), name=name).start()


def restart_controller(ctl, timeout=120):
    """Starts ctl again on the same ports (after a kill)."""
    ctl._spawn()
    if not ctl._wait_healthy(timeout):
        raise RuntimeError("controller did not come back:\n"
                           + ctl.log_text()[-3000:])


def table(rows, header):
    """A Markdown table, for pasting into BENCHMARKS.md."""
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(" --- " for _ in header) + "|"]
    for row in rows:
        out.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(out)
