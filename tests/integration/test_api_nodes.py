"""GET /nodes, /node/{id}, /disks, /healthz, /metrics, /openapi.json."""

import re
import uuid

import ntlib
from ntlib import shapes
from ntlib.case import ControllerTestCase


class NodesDisksTest(ControllerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n1 = cls.seed.node("alpha-01", agent_version="9.8.7",
                               address="10.0.0.1")
        cls.n2 = cls.seed.node("beta-01", online=False)
        cls.disks1 = cls.seed.disks(cls.n1, "/dev/sdb",
                                    "/dev/sdc=mounted,holds a filesystem")
        cls.disks2 = cls.seed.disks(cls.n2, "/dev/nvme0n1")

    def test_nodes_list(self):
        items = self.assertJson(self.api.get("/nodes"), 200)
        self.assertIsInstance(items, list)
        by_id = {n["id"]: n for n in items}
        self.assertEqual(set(by_id), {self.n1, self.n2})
        for n in items:
            self.assertShape(n, shapes.NODE, shapes.NODE_EXT, "node")
        a = by_id[self.n1]
        self.assertEqual(a["hostname"], "alpha-01")
        self.assertEqual(a["state"], "online")
        self.assertEqual(a["agentVersion"], "9.8.7")
        self.assertEqual(a["address"], "10.0.0.1")
        self.assertTime(a["lastSeenAt"])
        self.assertEqual(by_id[self.n2]["state"], "offline")

    def test_node_get(self):
        n = self.assertJson(self.api.get("/node/" + self.n1), 200)
        self.assertShape(n, shapes.NODE, shapes.NODE_EXT, "node")
        self.assertEqual(n["id"], self.n1)
        self.assertEqual(n["hostname"], "alpha-01")

    def test_node_never_seen_has_null_last_seen(self):
        n = self.assertJson(self.api.get("/node/" + self.n2), 200)
        self.assertEqual(n["state"], "offline")
        self.assertIn("lastSeenAt", n)
        self.assertIsNone(n["lastSeenAt"])

    def test_node_unknown_404_malformed_400(self):
        self.assertError(self.api.get("/node/" + str(uuid.uuid4())), 404,
                         "not_found")
        self.assertError(self.api.get("/node/worker-01"), 400,
                         "bad_request")

    def test_disks_all(self):
        items = self.assertJson(self.api.get("/disks"), 200)
        self.assertEqual(len(items), 3)
        for d in items:
            self.assertShape(d, shapes.DISK, shapes.DISK_EXT, "disk")
        by_path = {(d["nodeId"], d["devicePath"]): d for d in items}
        sdb = by_path[(self.n1, "/dev/sdb")]
        self.assertEqual(sdb["id"], self.disks1["/dev/sdb"])
        self.assertEqual(sdb["nodeHostname"], "alpha-01")
        self.assertEqual(sdb["capacity"], 100)
        self.assertTrue(sdb["available"])
        self.assertEqual(sdb["rejectReasons"], [])
        self.assertFalse(sdb["isOsd"])
        self.assertFalse(sdb["isMon"])
        sdc = by_path[(self.n1, "/dev/sdc")]
        self.assertFalse(sdc["available"])
        self.assertEqual(sdc["rejectReasons"], ["mounted",
                                                "holds a filesystem"])
        self.assertTrue(sdc["hasFilesystem"])
        self.assertEqual(sdc["capacity"], 101)

    def test_disks_by_node(self):
        items = self.assertJson(self.api.get("/disks?nodeId=" + self.n2),
                                200)
        self.assertEqual([d["devicePath"] for d in items], ["/dev/nvme0n1"])
        self.assertEqual(items[0]["id"], self.disks2["/dev/nvme0n1"])
        self.assertEqual(self.assertJson(
            self.api.get("/disks?nodeId=" + str(uuid.uuid4())), 200), [])

    def test_disks_bad_node_id_400(self):
        for q in ("?nodeId=abc", "?nodeId="):
            with self.subTest(q=q):
                self.assertError(self.api.get("/disks" + q), 400,
                                 "bad_request")

    def test_disk_ids_survive_a_new_report(self):
        again = self.seed.disks(self.n1, "/dev/sdb",
                                "/dev/sdc=mounted,holds a filesystem")
        self.assertEqual(again, self.disks1)

    def test_healthz(self):
        body = self.assertJson(self.anon.get("/healthz"), 200)
        self.assertEqual(body["status"], "ok")
        self.assertEqual(body["database"], "ok")
        self.assertIsInstance(body["version"], str)

    def test_metrics_prometheus_text(self):
        resp = self.ro.get("/metrics")
        self.assertEqual(resp.status, 200, resp)
        self.assertTrue(resp.header("content-type", "").startswith(
            "text/plain"), resp.headers)
        sample = re.compile(
            r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? '
            r'[-+]?([0-9.]+([eE][-+]?[0-9]+)?|NaN|[-+]?Inf)( [0-9]+)?$')
        lines = [line for line in resp.text.splitlines() if line]
        samples = [line for line in lines if not line.startswith("#")]
        self.assertTrue(samples, resp.text)
        for line in lines:
            if line.startswith("#"):
                self.assertRegex(line, r"^# (HELP|TYPE) [a-zA-Z_:]")
            else:
                self.assertRegex(line, sample)
        names = {re.split(r"[{ ]", line)[0] for line in samples}
        for name in ("nodetask_build_info", "nodetask_db_up",
                     "nodetask_http_requests_total",
                     "nodetask_http_requests_in_flight",
                     "nodetask_http_request_duration_seconds_bucket",
                     "nodetask_http_request_duration_seconds_count"):
            self.assertIn(name, names)
        self.assertIn("nodetask_db_up 1", samples)
        self.assertTrue(any(line.startswith(
            'nodetask_http_requests_total{code="200"} ') for line in samples),
            resp.text)

    def test_metrics_count_requests(self):
        def count_404():
            for line in self.ro.get("/metrics").text.splitlines():
                if line.startswith('nodetask_http_requests_total{code="404"}'):
                    return float(line.split()[1])
            return 0.0
        before = count_404()
        for _ in range(3):
            self.assertEqual(self.ro.get("/node/" + str(uuid.uuid4())).status,
                             404)
        self.assertEqual(count_404() - before, 3)

    def test_openapi(self):
        doc = self.assertJson(self.ro.get("/openapi.json"), 200)
        self.assertIsInstance(doc, dict)
        self.assertRegex(str(doc.get("openapi", "")), r"^3\.")
        paths = doc.get("paths")
        self.assertIsInstance(paths, dict)
        for p in ("/task/runs/recent", "/task/run/{runId}",
                  "/task/run/{runId}/logs", "/task/run/{runId}/cancel",
                  "/task/questions/pending",
                  "/task/question/{questionId}/answer", "/task/runs",
                  "/nodes", "/node/{nodeId}", "/disks", "/healthz",
                  "/metrics", "/openapi.json"):
            self.assertIn(p, paths)


if __name__ == "__main__":
    ntlib.main()
