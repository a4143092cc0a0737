#!/usr/bin/env python3
"""Scale: thousands of simulated agents on one controller.

For each count N (default 1000, 5000, 10000): a fresh controller, N nodes
pre-seeded with secrets, and bench/nt_agent_sim running N links of the
agent's own link code (Hello, Inventory with 4 disks, the long poll as
heartbeat). Once all are online and settled it prints the controller's
RSS, its CPU while idle (from /proc/PID/stat over --idle seconds), the
heartbeat round trip (poll round trip minus the controller's hold: how
late the heartbeat answer comes), and then SIGKILLs the controller,
starts it again on the same ports and times until every link has
reconnected and said Hello again.

    bench/scale.py [--agents 1000,5000,10000] [--poll-hold 10s]
"""

import os
import signal
import tempfile
import time

import ntbench


def one(pg, nodes_file, n, args):
    from ntlib.controller import log_path
    ctl = ntbench.start_controller(
        pg, "bench-scale-%d" % n,
        ["--poll-hold", args.poll_hold, "--log-level", "warn"])
    url = "tcp://127.0.0.1:%d" % ctl.agents_port
    sim = ntbench.Sim(url, nodes_file, n, ["--disks", args.disks],
                      log=log_path("bench-sim-%d" % n))
    res = {"agents": n}
    try:
        t0 = time.monotonic()
        t_on = sim.wait_online(n, args.timeout)
        res["connect_s"] = t_on - t0
        # Let every node finish its first poll cycle and the heartbeat
        # flush before measuring "idle".
        time.sleep(args.settle)
        sim.stats()
        res["rss_mb"] = ntbench.rss_kb(ctl.proc.pid) / 1024
        res["idle_cpu"] = ntbench.cpu_share(ctl.proc.pid, args.idle)
        st = sim.stats()
        res["hb_p50_ms"] = st["late_p50"]
        res["hb_p99_ms"] = st["late_p99"]
        res["hb_n"] = int(st["late_n"])
        res["online_idle"] = int(st["online"])

        # Kill, restart on the same ports, time the re-registration.
        t_kill = time.monotonic()
        os.kill(ctl.proc.pid, signal.SIGKILL)
        ctl.proc.wait()
        ctl.proc = None
        sim.wait_offline(n, 30)
        t_restart = time.monotonic()
        ntbench.restart_controller(ctl)
        t_up = time.monotonic()
        t_back = sim.wait_online(n, args.timeout)
        res["rereg_s"] = t_back - t_restart
        res["rereg_from_kill_s"] = t_back - t_kill
        res["restart_s"] = t_up - t_restart
        st = sim.stats()
        res["hello_p50_ms"] = st["hello_p50"]
        res["hello_p99_ms"] = st["hello_p99"]
        time.sleep(args.settle)
        res["rss_after_mb"] = ntbench.rss_kb(ctl.proc.pid) / 1024
        return res
    finally:
        sim.stop()
        if ctl.running():
            ctl.stop(timeout=120)


def main():
    ap = ntbench.arg_parser(__doc__)
    ap.add_argument("--agents", default="1000,5000,10000")
    ap.add_argument("--poll-hold", default="10s")
    ap.add_argument("--disks", default="4")
    ap.add_argument("--settle", type=float, default=25.0,
                    help="seconds after all are online before measuring")
    ap.add_argument("--idle", type=float, default=20.0,
                    help="seconds over which idle CPU is measured")
    ap.add_argument("--timeout", type=int, default=300)
    args = ap.parse_args()
    ntbench.setup(args)
    from ntlib.pg import PgCluster

    counts = [int(x) for x in args.agents.split(",")]
    print("machine:", ntbench.machine())
    pg = PgCluster().start()
    tmp = tempfile.mkdtemp(prefix="nt-bench-scale-")
    nodes_file = os.path.join(tmp, "nodes")
    try:
        # Migrations first: the controller creates the schema.
        ctl = ntbench.start_controller(pg, "bench-scale-schema")
        ctl.stop()
        ntbench.seed_nodes(pg, max(counts), nodes_file)
        rows = []
        for n in counts:
            r = one(pg, nodes_file, n, args)
            print("agents %(agents)d: connect %(connect_s).1f s, RSS "
                  "%(rss_mb).1f MB, idle CPU %(idle_cpu).1f%%, heartbeat "
                  "late p50 %(hb_p50_ms).1f ms p99 %(hb_p99_ms).1f ms "
                  "(%(hb_n)d), re-registration %(rereg_s).1f s after "
                  "restart (%(rereg_from_kill_s).1f s after kill; hello "
                  "p99 %(hello_p99_ms).1f ms), RSS after %(rss_after_mb).1f"
                  " MB" % dict(r, idle_cpu=r["idle_cpu"] * 100), flush=True)
            rows.append(r)
        print()
        print(ntbench.table(
            [(r["agents"], "%.0f" % r["rss_mb"],
              "%.1f%%" % (r["idle_cpu"] * 100),
              "%.1f / %.1f" % (r["hb_p50_ms"], r["hb_p99_ms"]),
              "%.1f" % r["rereg_s"], "%.1f" % r["connect_s"])
             for r in rows],
            ["agents", "controller RSS MB", "idle CPU (one core)",
             "heartbeat late p50/p99 ms", "re-registration s",
             "first connect s"]))
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
