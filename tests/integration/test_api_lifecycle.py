"""The database going away and coming back (503, then normal service),
and clean shutdown on SIGTERM and SIGINT."""

import http.client
import signal
import subprocess
import time

import ntlib
from ntlib.case import ControllerTestCase
from ntlib.controller import Controller, binary, free_port


class DatabaseDownTest(ControllerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.node = cls.seed.node("survivor")

    def timed(self, fn):
        start = time.monotonic()
        resp = fn()
        return resp, time.monotonic() - start

    def test_503_while_down_then_recovers(self):
        run = self.create_run(self.node)
        self.pg.pause()
        try:
            calls = [
                lambda: self.api.get("/task/runs/recent"),
                lambda: self.api.get("/task/run/" + run["id"]),
                lambda: self.ro.get("/nodes"),
                lambda: self.api.post("/task/runs", {"taskName": "node.ping",
                                                     "nodeId": self.node}),
                lambda: self.api.request(
                    "POST", "/task/run/%s/cancel" % run["id"]),
            ]
            for round_ in range(2):      # the second round hits the pool
                for i, call in enumerate(calls):
                    with self.subTest(round=round_, call=i):
                        resp, took = self.timed(call)
                        self.assertError(resp, 503, "unavailable")
                        self.assertEqual(resp.header("retry-after"), "1")
                        self.assertLess(took, 8.0, "took %.1f s" % took)
            # Authentication needs the database too: an unknown key is
            # then 503 as well, never 401 (and never a 200).
            resp = self.ctl.client("ntk_" + "1" * 64).get("/nodes")
            self.assertError(resp, 503, "unavailable")
            # Liveness does not need the database; it says it is down.
            health = self.assertJson(self.anon.get("/healthz"), 200)
            self.assertEqual(health.get("database"), "unavailable")
            self.assertTrue(self.ctl.running())
        finally:
            self.pg.resume()
        resp = self.wait_for(
            lambda: (lambda r: r if r.status == 200 else None)(
                self.api.get("/task/run/" + run["id"])),
            timeout=30, what="the API to answer again")
        self.assertEqual(resp.json["state"], "pending")
        health = self.assertJson(self.anon.get("/healthz"), 200)
        self.assertEqual(health.get("database"), "ok")
        # Writes work again, and the run canceled while down was not.
        self.create_run(self.node)
        resp = self.api.request("POST", "/task/run/%s/cancel" % run["id"])
        self.assertEqual(resp.status, 200, resp)


class ShutdownTest(ControllerTestCase):
    def test_sigterm_exits_0(self):
        ctl = Controller(self.db, name="%s.sigterm" % __name__).start()
        try:
            self.assertEqual(ctl.client(self.admin_key)
                             .get("/task/runs/recent").status, 200)
            self.assertEqual(ctl.stop(signal.SIGTERM), 0)
        finally:
            ctl.close()

    def test_sigint_exits_0(self):
        ctl = Controller(self.db, name="%s.sigint" % __name__).start()
        try:
            self.assertEqual(ctl.stop(signal.SIGINT), 0)
        finally:
            ctl.close()

    def test_sigterm_with_open_keepalive_connection(self):
        ctl = Controller(self.db, name="%s.keepalive" % __name__).start()
        conn = http.client.HTTPConnection("127.0.0.1", ctl.http_port,
                                          timeout=10)
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)
            start = time.monotonic()
            self.assertEqual(ctl.stop(signal.SIGTERM, timeout=20), 0)
            self.assertLess(time.monotonic() - start, 15)
        finally:
            conn.close()
            ctl.close()

    def test_port_in_use_fails_cleanly(self):
        first = Controller(self.db, name="%s.first" % __name__).start()
        try:
            proc = subprocess.run(
                [binary(), "--db", self.db,
                 "--http", "127.0.0.1:%d" % first.http_port,
                 "--agents", "tcp://127.0.0.1:%d" % free_port()],
                capture_output=True, text=True, timeout=60)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn(str(first.http_port), proc.stderr)
            self.assertTrue(first.running())
            self.assertEqual(first.stop(), 0)
        finally:
            first.close()

    def test_log_lines_have_timestamp_and_level(self):
        lines = [line for line in self.ctl.log_text().splitlines()
                 if line and not line.startswith("== ")]
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(
                line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z "
                      r"(debug|info|warn|error)\b")


if __name__ == "__main__":
    ntlib.main()
