#!/usr/bin/env python3
"""Log ingest: log lines/s from 100 agents, committed and readable.

bench/nt_agent_sim runs --agents simulated agents (pre-seeded nodes, the
agent's own link code). The driver creates one node.ping run per agent
through the API; the controller dispatches them; once all have arrived
the simulator streams, for every run at once, Started, --lines log lines
of --line-bytes bytes and Finished, as fast as the link takes them (one
events request in flight per agent, up to 500 events a batch, 2000
unacknowledged at most). The time runs from the start of streaming until
the API shows every run completed; Finished is each run's last event, so
by then every line is committed. Then every run's lines are read back
through GET /task/run/{id}/logs and checked: seq 1..N, each line's own
text, nothing lost or doubled.

Baseline in the same run: psql COPY of the same rows (same run ids,
seqs, messages) into a table with task_logs' layout and indexes.

    bench/log_ingest.py [--agents 100] [--lines 10000] [--reps 3]
"""

import os
import subprocess
import tempfile
import time

import ntbench


def message(run_id, k, want):
    """The text nt_agent_sim sends as run_id's line k."""
    msg = "%s line %d " % (run_id, k)
    return msg + "".join(chr(ord("a") + n % 26)
                         for n in range(len(msg), want))


def copy_rows(run_ids, lines, want):
    ts = "2026-01-01 00:00:00+00"
    out = []
    for rid in run_ids:
        for k in range(1, lines + 1):
            out.append("%s\t%d\t%s\tinfo\t%s\n"
                       % (rid, k, ts, message(rid, k, want)))
    return "".join(out)


def copy_baseline(pg, path):
    """Seconds psql takes to COPY the file into a fresh task_logs copy."""
    from ntlib.pg import _pg_bin
    pg.psql("DROP TABLE IF EXISTS bench_logs_copy;"
            "CREATE TABLE bench_logs_copy (LIKE task_logs INCLUDING ALL)")
    with open(path) as f:
        t0 = time.monotonic()
        proc = subprocess.run(
            [_pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
             pg.conninfo, "-c", "COPY bench_logs_copy FROM STDIN"],
            stdin=f, capture_output=True, text=True, timeout=600)
        dt = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError("COPY failed: " + proc.stderr)
    pg.psql("DROP TABLE bench_logs_copy")
    return dt


def verify(api, run_ids, lines, want):
    """Reads every run's lines through the API; raises on any gap,
    duplicate or foreign line."""
    for rid in run_ids:
        seqs, after = [], 0
        while True:
            status, page = api.get("/task/run/%s/logs?after=%d&limit=10000"
                                   % (rid, after))
            if status != 200:
                raise RuntimeError("logs of %s: %d" % (rid, status))
            if not page:
                break
            for line in page:
                seqs.append(line["seq"])
                if line["message"] != message(rid, line["seq"], want):
                    raise RuntimeError("run %s seq %d: unexpected text %r"
                                       % (rid, line["seq"],
                                          line["message"][:80]))
            after = page[-1]["seq"]
        if seqs != list(range(1, lines + 1)):
            raise RuntimeError("run %s: %d lines, not seq 1..%d"
                               % (rid, len(seqs), lines))


def ingest(pg, ctl, api, nodes, nodes_file, args, rep):
    from ntlib.controller import log_path
    url = "tcp://127.0.0.1:%d" % ctl.agents_port
    sim = ntbench.Sim(url, nodes_file, len(nodes),
                      ["--lines", args.lines, "--line-bytes",
                       args.line_bytes, "--wait-runs", len(nodes),
                       "--disks", 0],
                      log=log_path("bench-ingest-sim-%d" % rep))
    try:
        sim.wait_online(len(nodes), 120)
        run_ids = []
        for node_id, _, _ in nodes:
            status, run = api.post("/task/runs", {"taskName": "node.ping",
                                                  "nodeId": node_id})
            if status != 201:
                raise RuntimeError("POST /task/runs: %d %r" % (status, run))
            run_ids.append(run["id"])
        words = sim.wait_for("streaming", 60)
        if words is None:
            raise RuntimeError("the runs were not all dispatched")
        t_start = int(words[2]) / 1e6
        pending = set(run_ids)
        while pending:
            for rid in list(pending):
                status, run = api.get("/task/run/" + rid)
                if run["state"] == "completed":
                    pending.discard(rid)
                elif run["state"] in ("failed", "canceled"):
                    raise RuntimeError("run %s is %s: %s"
                                       % (rid, run["state"],
                                          run.get("error")))
                else:
                    break
            if pending:
                time.sleep(0.01)
            if time.monotonic() - t_start > 600:
                raise RuntimeError("ingest did not finish in 600 s")
        t_end = time.monotonic()
        acked = sim.wait_for("acked", 30)
        st = sim.stats()
    finally:
        sim.stop()
    return run_ids, t_end - t_start, acked, st


def main():
    ap = ntbench.arg_parser(__doc__)
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--lines", type=int, default=10000,
                    help="log lines per run (one run per agent)")
    ap.add_argument("--line-bytes", type=int, default=100)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    ntbench.setup(args)
    from ntlib.pg import PgCluster

    print("machine:", ntbench.machine())
    pg = PgCluster().start()
    ctl = ntbench.start_controller(pg, "bench-ingest",
                                   ["--log-level", "warn"])
    tmp = tempfile.mkdtemp(prefix="nt-bench-ingest-")
    nodes_file = os.path.join(tmp, "nodes")
    total = args.agents * args.lines
    try:
        key = ctl.create_key("bench", "admin")
        api = ntbench.Api(ctl.http_port, key)
        nodes = ntbench.seed_nodes(pg, args.agents, nodes_file, "ingest")
        ing, cop = [], []
        for rep in range(args.reps):
            run_ids, dt, acked, st = ingest(pg, ctl, api, nodes,
                                            nodes_file, args, rep)
            t0 = time.monotonic()
            verify(api, run_ids, args.lines, args.line_bytes)
            t_verify = time.monotonic() - t0
            rows = os.path.join(tmp, "copy_rows")
            with open(rows, "w") as f:
                f.write(copy_rows(run_ids, args.lines, args.line_bytes))
            dc = copy_baseline(pg, rows)
            os.unlink(rows)
            ing.append(total / dt)
            cop.append(total / dc)
            print("rep %d: ingest %d lines in %.2f s = %.0f lines/s "
                  "(events request p50 %.1f ms p99 %.1f ms); verified "
                  "seq 1..%d of %d runs through the API in %.1f s; COPY "
                  "%.2f s = %.0f lines/s; ratio %.2f"
                  % (rep + 1, total, dt, total / dt, st["events_p50"],
                     st["events_p99"], args.lines, len(run_ids), t_verify,
                     dc, total / dc, (total / dt) / (total / dc)),
                  flush=True)
        i, c = ntbench.median(ing), ntbench.median(cop)
        print()
        print(ntbench.table(
            [(args.agents, args.lines, args.line_bytes, "%.0f" % i,
              "%.0f" % c, "%.2f" % (i / c))],
            ["agents", "lines per run", "bytes per line",
             "ingest lines/s (median)", "COPY lines/s (median)", "ratio"]))
    finally:
        ctl.stop(timeout=60)
        pg.stop()


if __name__ == "__main__":
    main()
