#!/usr/bin/env python3
"""Agent footprint: idle RSS of a real nodetask-agent.

Attaches 4 loop devices (sparse 1 GiB files), starts a private
PostgreSQL, the controller and the real nodetask-agent (enrolled with a
token), waits until the node is online and the controller lists the 4
loop devices among its disks, runs one node.ping (so the agent's task
launcher, started at the first run, exists), lets it idle for --idle
seconds (several long polls), and prints VmRSS, VmHWM and PSS of the
agent and of its launcher, median of --samples readings. Baseline in
the same run: bench/nt_idle_nng, a process that only holds one nng
socket dialed to the same controller.

    bench/agent_footprint.py [--idle 15] [--samples 5]
"""

import subprocess
import time

import ntbench


def mem(pid):
    """(VmRSS, VmHWM, Pss) in kB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                out["Pss"] = int(line.split()[1])
    return out["VmRSS"], out["VmHWM"], out.get("Pss", 0)


def sample(pid, n):
    readings = []
    for _ in range(n):
        readings.append(mem(pid))
        time.sleep(1)
    return tuple(ntbench.median([r[i] for r in readings]) for i in range(3))


def main():
    ap = ntbench.arg_parser(__doc__)
    ap.add_argument("--idle", type=float, default=15.0)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--disks", type=int, default=4)
    args = ap.parse_args()
    ntbench.setup(args)
    from ntlib.agent import Agent
    from ntlib.loopdev import GIB, LoopDevice
    from ntlib.pg import PgCluster

    print("machine:", ntbench.machine())
    devs = [LoopDevice.create(GIB) for _ in range(args.disks)]
    pg = PgCluster().start()
    ctl = ntbench.start_controller(pg, "bench-footprint",
                                   ["--log-level", "warn"])
    agent = base = None
    try:
        key = ctl.create_key("bench", "admin")
        token = ctl.cli("node", "token", "create").stdout.strip()
        url = "tcp://127.0.0.1:%d" % ctl.agents_port
        agent = Agent(url, "bench-footprint", token=token,
                      allow=[d.path for d in devs]).start()
        node_id = agent.node_id()
        api = ntbench.Api(ctl.http_port, key)
        deadline = time.monotonic() + 60
        while True:
            node = api.get("/node/" + node_id)[1]
            disks = api.get("/disks?nodeId=" + node_id)[1] or []
            paths = {d["devicePath"] for d in disks}
            if node.get("state") == "online" and all(
                    d.path in paths for d in devs):
                break
            if time.monotonic() > deadline:
                raise SystemExit("agent not online with its disks: %r"
                                 % (paths,))
            time.sleep(0.2)
        status, run = api.post("/task/runs", {"taskName": "node.ping",
                                              "nodeId": node_id})
        while api.get("/task/run/" + run["id"])[1]["state"] in (
                "pending", "running"):
            time.sleep(0.1)
        from ntlib.agentcase import children, cmdline
        launchers = [p for p in children(agent.proc.pid)
                     if cmdline(p)[1:2] == ["task-launcher"]]
        time.sleep(args.idle)
        rss, hwm, pss = sample(agent.proc.pid, args.samples)
        l_rss = l_pss = 0
        if launchers:
            l_rss, _, l_pss = sample(launchers[0], args.samples)
        base = subprocess.Popen([ntbench.tool("nt_idle_nng"), url],
                                stdout=subprocess.PIPE, text=True)
        base.stdout.readline()
        time.sleep(2)
        b_rss, b_hwm, b_pss = sample(base.pid, args.samples)
        print("agent idle with %d disks reported (%d loop devices among "
              "them): RSS %.2f MB (peak %.2f MB, PSS %.2f MB); baseline "
              "nt_idle_nng RSS %.2f MB (PSS %.2f MB); agent - baseline "
              "%.2f MB"
              % (len(disks), len(devs), rss / 1024, hwm / 1024, pss / 1024,
                 b_rss / 1024, b_pss / 1024, (rss - b_rss) / 1024))
        print("task launcher: %s"
              % ("RSS %.2f MB (PSS %.2f MB); agent + launcher PSS %.2f MB"
                 % (l_rss / 1024, l_pss / 1024, (pss + l_pss) / 1024)
                 if launchers else "none (tasks start with execve)"))
        print()
        print(ntbench.table(
            [("%.2f" % (rss / 1024), "%.2f" % (hwm / 1024),
              "%.2f" % (pss / 1024), "%.2f" % (l_rss / 1024),
              "%.2f" % (l_pss / 1024), "%.2f" % (b_rss / 1024),
              len(disks))],
            ["agent RSS MB", "agent peak RSS MB", "agent PSS MB",
             "launcher RSS MB", "launcher PSS MB",
             "nng-only process RSS MB", "disks reported"]))
    finally:
        if base is not None:
            base.terminate()
            base.wait()
        if agent is not None:
            agent.stop()
        ctl.stop(timeout=60)
        pg.stop()
        for d in devs:
            d.destroy()


if __name__ == "__main__":
    main()
