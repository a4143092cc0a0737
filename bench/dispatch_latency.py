#!/usr/bin/env python3
"""Dispatch latency of node.ping, as an operator's tool sees it.

Starts a private PostgreSQL, the controller and one real agent (from the
build tree); for each agent count N in --agents, bench/nt_agent_sim adds
N - 1 simulated agents (pre-seeded nodes, the agent's own link code, long
polls as heartbeats) so the controller carries N connected agents. Then it
creates --runs node.ping runs for the real agent one after another and,
for each, times POST /task/runs until GET /task/run/{id} first shows
`running` and until it shows `completed`, polling over one keep-alive
connection. Prints p50/p90/p99/max of both per N.

    bench/dispatch_latency.py [--agents 1,100,1000] [--runs 500]
"""

import os
import tempfile
import time

import ntbench


def parse_time(s):
    from datetime import datetime
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def measure(api, node_id, runs, phases=None):
    """Times runs node.ping runs; phases (a dict of lists), when given,
    receives the run's own timestamps: created -> started (dispatch to
    the agent, task process start), started -> completed (the task)."""
    to_running, to_completed = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        status, run = api.post("/task/runs",
                               {"taskName": "node.ping", "nodeId": node_id})
        t_post = time.perf_counter()
        if status != 201:
            raise SystemExit("POST /task/runs: %d %r" % (status, run))
        path = "/task/run/" + run["id"]
        seen_running = None
        gets = 0
        while True:
            t_get = time.perf_counter()
            status, run = api.get(path)
            now = time.perf_counter()
            gets += 1
            if phases is not None:
                phases.setdefault("GET", []).append((now - t_get) * 1000)
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
        if phases is not None:
            phases.setdefault("POST", []).append((t_post - t0) * 1000)
            phases.setdefault("GETs per run", []).append(gets)
            c, st, e = (parse_time(run[k]) for k in
                        ("createdAt", "startedAt", "completedAt"))
            phases.setdefault("created -> started", []).append(
                (st - c) * 1000)
            phases.setdefault("started -> completed", []).append(
                (e - st) * 1000)
    return to_running, to_completed


def summary(values):
    return {"p50": ntbench.median(values),
            "p90": ntbench.percentile(values, 90),
            "p99": ntbench.percentile(values, 99), "max": max(values)}


def report(name, s):
    print("  %-18s p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms"
          % (name, s["p50"], s["p90"], s["p99"], s["max"]), flush=True)


def wait_online(api, node_id):
    deadline = time.monotonic() + 30
    while api.get("/node/" + node_id)[1].get("state") != "online":
        if time.monotonic() > deadline:
            raise SystemExit("agent never came online")
        time.sleep(0.1)


def main():
    ap = ntbench.arg_parser(__doc__)
    ap.add_argument("--agents", default="1,100,1000")
    ap.add_argument("--runs", type=int, default=500)
    args = ap.parse_args()
    ntbench.setup(args)
    from ntlib.agent import Agent
    from ntlib.controller import log_path
    from ntlib.pg import PgCluster

    counts = [int(x) for x in args.agents.split(",")]
    print("machine:", ntbench.machine())
    pg = PgCluster().start()
    ctl = ntbench.start_controller(pg, "bench-dispatch",
                                   ["--log-level", "warn"])
    agent = sim = None
    tmp = tempfile.mkdtemp(prefix="nt-bench-dispatch-")
    nodes_file = os.path.join(tmp, "nodes")
    url = "tcp://127.0.0.1:%d" % ctl.agents_port
    rows = []
    try:
        key = ctl.create_key("bench", "admin")
        token = ctl.cli("node", "token", "create").stdout.strip()
        agent = Agent(url, "bench-node", token=token).start()
        node_id = agent.node_id()
        api = ntbench.Api(ctl.http_port, key)
        wait_online(api, node_id)
        if max(counts) > 1:
            ntbench.seed_nodes(pg, max(counts) - 1, nodes_file)
        for n in counts:
            if n > 1:
                sim = ntbench.Sim(url, nodes_file, n - 1,
                                  log=log_path("bench-dispatch-sim"))
                sim.wait_online(n - 1, 300)
                # Past the first, synchronised round of heartbeats.
                time.sleep(12)
            measure(api, node_id, min(20, args.runs))  # warm-up
            phases = {}
            to_running, to_completed = measure(api, node_id, args.runs,
                                               phases)
            print("node.ping dispatch latency, %d runs, %d connected "
                  "agents (1 real + %d simulated)"
                  % (args.runs, n, n - 1))
            r, c = summary(to_running), summary(to_completed)
            report("POST -> running", r)
            report("POST -> completed", c)
            print("  parts (p50; run timestamps have ms resolution): "
                  + ", ".join("%s %.2f%s" % (k, ntbench.median(v),
                                             "" if k.startswith("GETs")
                                             else " ms")
                              for k, v in phases.items()), flush=True)
            rows.append((n, "%.2f" % r["p50"], "%.2f" % r["p99"],
                         "%.2f" % c["p50"], "%.2f" % c["p99"]))
            if sim is not None:
                sim.stop()
                sim = None
        print()
        print(ntbench.table(rows, ["agents", "-> running p50 ms",
                                   "-> running p99 ms",
                                   "-> completed p50 ms",
                                   "-> completed p99 ms"]))
    finally:
        if sim is not None:
            sim.stop()
        if agent is not None:
            agent.stop()
        ctl.stop(timeout=60)
        pg.stop()


if __name__ == "__main__":
    main()
