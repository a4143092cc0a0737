#!/usr/bin/env python3
"""API reads: wrk against the controller and a minimal baseline server.

Loads 100,000 runs (over 100 nodes) and 1,000,000 log lines (100 lines
each for 10,000 of the runs) into a private PostgreSQL, generated in SQL
on the server, then runs wrk (32 connections, 2 threads) against

    GET /task/run/{id}              random run ids
    GET /task/runs/recent
    GET /task/run/{id}/logs?limit=100   random ids of runs with lines

on the controller (authenticated with an API key) and on bench/nt_api_base
(one prepared SELECT over a per-thread libpq connection + cJSON, no
authentication), alternating, --reps times each, and prints req/s, p50,
p99 (medians over the repetitions) and the ratio to the baseline.

    bench/api_reads.py [--duration 10] [--reps 3] [--connections 32]
"""

import os
import re
import subprocess
import tempfile
import time

import ntbench

RUNS = 100000
NODES = 100
LOG_RUNS = 10000
LINES_PER_RUN = 100

LOAD_SQL = """
INSERT INTO task_runs (task_name, node_id, state, params, result,
    created_at, started_at, completed_at, created_by, last_event_seq,
    log_count, agent_done, agent_finished_at)
SELECT 'node.ping', n.ids[1 + i %% n.c], 'completed', '{}',
    '{"ok": true, "latencyMs": 1}',
    now() - i * interval '1 second',
    now() - i * interval '1 second' + interval '5 ms',
    now() - i * interval '1 second' + interval '9 ms', 'bench', 3, 0,
    true, now() - i * interval '1 second' + interval '9 ms'
FROM (SELECT array_agg(id) AS ids, count(*)::int AS c FROM nodes) n,
     generate_series(1, %(runs)d) i;
CREATE TEMP TABLE log_runs AS
    SELECT id FROM task_runs ORDER BY id LIMIT %(log_runs)d;
INSERT INTO task_logs (run_id, seq, ts, level, message)
SELECT r.id, s, now() - interval '1 hour' + s * interval '1 ms', 'info',
    'wiping /dev/sdb: ' || s || '%% done, 400 MiB/s, eta ' || (100 - s)
    || ' s'
FROM log_runs r, generate_series(1, %(lines)d) s;
UPDATE task_runs SET log_count = %(lines)d, last_event_seq = %(lines)d + 2
    WHERE id IN (SELECT id FROM log_runs);
"""


def load(pg, tmp):
    t0 = time.monotonic()
    ntbench.seed_nodes(pg, NODES, os.path.join(tmp, "nodes"), "api")
    pg.psql(LOAD_SQL % {"runs": RUNS, "log_runs": LOG_RUNS,
                        "lines": LINES_PER_RUN})
    pg.psql("VACUUM ANALYZE")
    ids = os.path.join(tmp, "run_ids")
    log_ids = os.path.join(tmp, "log_run_ids")
    with open(ids, "w") as f:
        for row in pg.psql("SELECT id FROM task_runs"):
            f.write(row[0] + "\n")
    with open(log_ids, "w") as f:
        for row in pg.psql("SELECT id FROM task_runs WHERE log_count > 0"):
            f.write(row[0] + "\n")
    n_runs = pg.psql("SELECT count(*) FROM task_runs")[0][0]
    n_lines = pg.psql("SELECT count(*) FROM task_logs")[0][0]
    print("loaded %s runs, %s log lines in %.1f s"
          % (n_runs, n_lines, time.monotonic() - t0), flush=True)
    return ids, log_ids


def wrk(port, path_fmt, ids_file, key, args, duration):
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections),
           "-d", "%ds" % duration, "--timeout", "10s",
           "-s", os.path.join(ntbench.HERE, "wrk_api.lua"),
           "http://127.0.0.1:%d" % port, "--", path_fmt, ids_file or "-",
           key or "-"]
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=duration + 60).stdout
    m = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$",
                  out, re.M)
    if m is None:
        raise RuntimeError("wrk printed no RESULT:\n" + out)
    reqs, dur, p50, p99, mean, non2xx, errs = (int(x) for x in m.groups())
    if non2xx or errs:
        raise RuntimeError("wrk %s: %d non-2xx, %d socket errors:\n%s"
                           % (path_fmt, non2xx, errs, out))
    return {"rps": reqs / (dur / 1e6), "p50": p50 / 1000.0,
            "p99": p99 / 1000.0}


def start_base(pg):
    from ntlib.controller import free_port, log_path
    port = free_port()
    log = open(log_path("bench-api-base"), "ab")
    proc = subprocess.Popen([ntbench.tool("nt_api_base"), "--db",
                             pg.conninfo, "--http", "127.0.0.1:%d" % port],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    if not proc.stdout.readline().startswith("listening"):
        raise RuntimeError("nt_api_base did not start")
    return proc, port


def main():
    ap = ntbench.arg_parser(__doc__)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    ntbench.setup(args)
    from ntlib.pg import PgCluster

    print("machine:", ntbench.machine())
    pg = PgCluster().start()
    tmp = tempfile.mkdtemp(prefix="nt-bench-api-")
    ctl = base = None
    try:
        ctl = ntbench.start_controller(pg, "bench-api", ["--log-level",
                                                         "warn"])
        key = ctl.create_key("bench", "read")
        ids, log_ids = load(pg, tmp)
        base, base_port = start_base(pg)
        endpoints = [
            ("run detail", "/task/run/%s", ids),
            ("runs recent", "/task/runs/recent", None),
            ("run logs 100", "/task/run/%s/logs?limit=100", log_ids),
        ]
        base_paths = {"/task/run/%s/logs?limit=100": "/task/run/%s/logs"}
        rows = []
        for name, fmt, id_file in endpoints:
            bfmt = base_paths.get(fmt, fmt)
            # Warm both (connections, prepared statements, caches).
            wrk(ctl.http_port, fmt, id_file, key, args, 3)
            wrk(base_port, bfmt, id_file, None, args, 3)
            c_runs, b_runs = [], []
            for _ in range(args.reps):
                b_runs.append(wrk(base_port, bfmt, id_file, None, args,
                                  args.duration))
                c_runs.append(wrk(ctl.http_port, fmt, id_file, key, args,
                                  args.duration))
            c = {k: ntbench.median([r[k] for r in c_runs])
                 for k in ("rps", "p50", "p99")}
            b = {k: ntbench.median([r[k] for r in b_runs])
                 for k in ("rps", "p50", "p99")}
            print("%-13s controller %7.0f req/s p50 %5.2f ms p99 %6.2f ms"
                  " | baseline %7.0f req/s p50 %5.2f ms p99 %6.2f ms | "
                  "ratio %.2f  (controller runs: %s)"
                  % (name, c["rps"], c["p50"], c["p99"], b["rps"],
                     b["p50"], b["p99"], c["rps"] / b["rps"],
                     ", ".join("%.0f" % r["rps"] for r in c_runs)),
                  flush=True)
            rows.append((name, "%.0f" % c["rps"], "%.2f" % c["p50"],
                         "%.2f" % c["p99"], "%.0f" % b["rps"],
                         "%.2f" % b["p50"], "%.2f" % b["p99"],
                         "%.2f" % (c["rps"] / b["rps"])))
        print()
        print("wrk -t%d -c%d, %d s x %d (medians)"
              % (args.threads, args.connections, args.duration, args.reps))
        print(ntbench.table(rows, ["endpoint", "req/s", "p50 ms", "p99 ms",
                                   "baseline req/s", "base p50",
                                   "base p99", "ratio"]))
    finally:
        if base is not None:
            base.terminate()
            base.wait()
        if ctl is not None:
            ctl.stop(timeout=60)
        pg.stop()


if __name__ == "__main__":
    main()
