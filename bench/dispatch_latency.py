#!/usr/bin/env python3
"""Dispatch latency of node.ping, as an operator's tool sees it.

Starts a private PostgreSQL, the controller and one real agent (from the
build tree), then creates N node.ping runs one after another. For each it
times POST /task/runs until GET /task/run/{id} first shows `running` and
until it shows `completed`, polling over one keep-alive connection.
Prints p50/p90/p99/max of both. Usage:

    bench/dispatch_latency.py [--runs 1000] [--build build]
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))


def percentile(values, p):
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered))) - 1))
    return ordered[k]


class Api:
    """One keep-alive connection; the poll loop must not pay TCP setup."""

    def __init__(self, port, key):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": "Bearer " + key,
                        "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers=self.headers)
        resp = self.conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")


def measure(api, node_id, runs):
    to_running, to_completed = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        status, run = api.call("POST", "/task/runs",
                               {"taskName": "node.ping", "nodeId": node_id})
        if status != 201:
            raise SystemExit("POST /task/runs: %d %r" % (status, run))
        path = "/task/run/" + run["id"]
        seen_running = None
        while True:
            status, run = api.call("GET", path)
            now = time.perf_counter()
            state = run["state"]
            if state != "pending" and seen_running is None:
                seen_running = now
            if state in ("completed", "failed", "canceled"):
                break
            if now - t0 > 30:
                raise SystemExit("run %s stuck in %s" % (run["id"], state))
        if state != "completed":
            raise SystemExit("run %s ended %s: %s"
                             % (run["id"], state, run.get("error")))
        to_running.append((seen_running - t0) * 1000)
        to_completed.append((now - t0) * 1000)
    return to_running, to_completed


def report(name, values):
    print("%-22s p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms"
          % (name, statistics.median(values), percentile(values, 90),
             percentile(values, 99), max(values)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    args = ap.parse_args()
    os.environ["NODETASK_BUILD_DIR"] = os.path.abspath(args.build)

    from ntlib.agent import Agent
    from ntlib.controller import Controller
    from ntlib.pg import PgCluster

    pg = PgCluster().start()
    ctl = Controller(pg.conninfo, name="bench-dispatch").start()
    agent = None
    try:
        key = ctl.create_key("bench", "admin")
        token = ctl.cli("node", "token", "create").stdout.strip()
        agent = Agent("tcp://127.0.0.1:%d" % ctl.agents_port, "bench-node",
                      token=token).start()
        node_id = agent.node_id()
        api = Api(ctl.http_port, key)
        deadline = time.monotonic() + 30
        while api.call("GET", "/node/" + node_id)[1].get("state") != "online":
            if time.monotonic() > deadline:
                raise SystemExit("agent never came online")
            time.sleep(0.1)
        measure(api, node_id, min(20, args.runs))  # warm-up
        to_running, to_completed = measure(api, node_id, args.runs)
        print("node.ping dispatch latency, %d runs, one agent on loopback"
              % args.runs)
        report("POST -> running", to_running)
        report("POST -> completed", to_completed)
    finally:
        if agent is not None:
            agent.stop()
        ctl.stop()
        pg.stop()


if __name__ == "__main__":
    main()
