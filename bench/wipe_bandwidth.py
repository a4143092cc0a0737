#!/usr/bin/env python3
"""Wipe bandwidth: disk.wipe mode full against dd on the same device.

Attaches two --size GiB loop devices (sparse files): one as losetup makes
them by default, whose writes land in the backing file's page cache, and
one with --direct-io=on, which writes its backing file directly, as a
disk takes writes. Starts a private PostgreSQL, the controller and a real
agent allowed to wipe both; for each device writes it once with dd
(warm-up: allocates the backing file), then alternates, --reps times:

    dd if=/dev/zero of=DEV bs=4M count=SIZE/4M oflag=direct
    the same dd with conv=fsync
    POST /task/runs disk.wipe {"devicePath": DEV, "mode": "full"}

For the wipe it prints the bandwidth of the whole run (startedAt to
completedAt: opening, checks, overwrite, verification) and of the
overwrite alone (the agent's own "overwrote ... in T s" log line), each
against the median dd bandwidth. The wipe ends with fdatasync (the zeroes
are on the disk when it reports success); plain dd does not, and on the
default loop device its O_DIRECT writes end in the backing file's page
cache, so there dd with conv=fsync is the like-for-like reference and is
shown too. On the direct-I/O device both reach the disk as they write.

    bench/wipe_bandwidth.py [--size 4] [--reps 3]
"""

import re
import subprocess
import time

import ntbench

MIB = 1024 * 1024


def dd(path, size, fsync=False):
    t0 = time.monotonic()
    subprocess.run(["dd", "if=/dev/zero", "of=" + path, "bs=4M",
                    "count=%d" % (size // (4 * MIB)), "oflag=direct"]
                   + (["conv=fsync"] if fsync else []),
                   check=True, capture_output=True)
    return time.monotonic() - t0


def parse_time(s):
    """RFC 3339 as the API writes it, to seconds since the epoch."""
    from datetime import datetime
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def wipe(api, node_id, path):
    t0 = time.monotonic()
    status, run = api.post("/task/runs", {
        "taskName": "disk.wipe", "nodeId": node_id,
        "params": {"devicePath": path, "mode": "full", "confirm": True}})
    if status != 201:
        raise SystemExit("POST /task/runs: %d %r" % (status, run))
    while run["state"] not in ("completed", "failed", "canceled"):
        time.sleep(0.05)
        run = api.get("/task/run/" + run["id"])[1]
        if time.monotonic() - t0 > 900:
            raise SystemExit("wipe did not finish in 900 s")
    wall = time.monotonic() - t0
    if run["state"] != "completed":
        raise SystemExit("wipe %s: %s" % (run["state"], run.get("error")))
    lines = api.get("/task/run/%s/logs" % run["id"])[1]
    overwrite = None
    for line in lines:
        m = re.search(r"overwrote .* in ([0-9.]+) s", line["message"])
        if m:
            overwrite = float(m.group(1))
    run_s = parse_time(run["completedAt"]) - parse_time(run["startedAt"])
    return run_s, overwrite, wall


def wait_reported(api, node_id, paths):
    deadline = time.monotonic() + 60
    while True:
        seen = {d["devicePath"] for d in
                api.get("/disks?nodeId=" + node_id)[1] or []}
        if set(paths) <= seen:
            return
        if time.monotonic() > deadline:
            raise SystemExit("the agent did not report " + " ".join(paths))
        time.sleep(0.2)


def measure(api, node_id, dev, reps):
    """One device: dd, dd+fsync and disk.wipe alternated; a table row."""
    size = dev.size()
    dd(dev.path, size)  # warm-up: the backing file is now allocated
    dds, dfs, runs, overs = [], [], [], []
    for rep in range(reps):
        d = dd(dev.path, size)
        df = dd(dev.path, size, fsync=True)
        run_s, over_s, wall = wipe(api, node_id, dev.path)
        dds.append(size / d / MIB)
        dfs.append(size / df / MIB)
        runs.append(size / run_s / MIB)
        if over_s:
            overs.append(size / over_s / MIB)
        print("  rep %d: dd %.2f s (%.0f MiB/s); dd conv=fsync %.2f s "
              "(%.0f MiB/s); disk.wipe run %.2f s (%.0f MiB/s), "
              "overwrite %s, POST to completed %.2f s"
              % (rep + 1, d, dds[-1], df, dfs[-1], run_s, runs[-1],
                 "%.2f s (%.0f MiB/s)" % (over_s, overs[-1])
                 if over_s else "?", wall), flush=True)
    b = ntbench.median(dds)
    bf = ntbench.median(dfs)
    r = ntbench.median(runs)
    o = ntbench.median(overs) if overs else float("nan")
    return ("%.0f" % b, "%.0f" % bf, "%.0f" % r, "%.2f" % (r / b),
            "%.0f" % o, "%.2f" % (o / b), "%.2f" % (o / bf))


def main():
    ap = ntbench.arg_parser(__doc__)
    ap.add_argument("--size", type=int, default=4, help="GiB")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    ntbench.setup(args)
    from ntlib.agent import Agent
    from ntlib.loopdev import GIB, LoopDevice
    from ntlib.pg import PgCluster

    print("machine:", ntbench.machine())
    devs = [("loop, page cache", LoopDevice.create(args.size * GIB)),
            ("loop, direct I/O",
             LoopDevice.create(args.size * GIB, direct_io=True))]
    pg = PgCluster().start()
    ctl = ntbench.start_controller(pg, "bench-wipe", ["--log-level",
                                                      "warn"])
    agent = None
    try:
        key = ctl.create_key("bench", "admin")
        token = ctl.cli("node", "token", "create").stdout.strip()
        agent = Agent("tcp://127.0.0.1:%d" % ctl.agents_port, "bench-wipe",
                      token=token, allow=[d.path for _, d in devs]).start()
        node_id = agent.node_id()
        api = ntbench.Api(ctl.http_port, key)
        wait_reported(api, node_id, [d.path for _, d in devs])
        rows = []
        for name, dev in devs:
            print("%d GiB %s (%s):" % (args.size, name, dev.path),
                  flush=True)
            rows.append(("%d GiB %s" % (args.size, name),)
                        + measure(api, node_id, dev, args.reps))
        print()
        print(ntbench.table(
            rows, ["device", "dd MiB/s", "dd+fsync MiB/s", "wipe run MiB/s",
                   "run / dd", "wipe overwrite MiB/s", "overwrite / dd",
                   "overwrite / dd+fsync"]))
    finally:
        if agent is not None:
            agent.stop()
        ctl.stop(timeout=60)
        pg.stop()
        for _, dev in devs:
            dev.destroy()


if __name__ == "__main__":
    main()
