"""Authentication, scopes, the error body and routing, over real HTTP."""

import uuid

import ntlib
from ntlib.case import ControllerTestCase

# Every GET endpoint, with an id that exists where the path needs one
# (filled in by setUpClass).
GET_PATHS = [
    "/task/runs/recent",
    "/task/run/{run}",
    "/task/run/{run}/logs",
    "/task/questions/pending",
    "/nodes",
    "/node/{node}",
    "/disks",
    "/openapi.json",
    "/metrics",
]

POST_PATHS = [
    "/task/runs",
    "/task/run/{run}/cancel",
    "/task/question/{question}/answer",
]


class AuthTest(ControllerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.node = cls.seed.node("auth-node")
        resp = cls.api.post("/task/runs", {"taskName": "node.ping",
                                           "nodeId": cls.node})
        assert resp.status == 201, resp
        cls.run_id = resp.json["id"]
        cls.question = str(uuid.uuid4())

    def fill(self, path):
        return path.format(run=self.run_id, node=self.node,
                           question=self.question)

    def test_healthz_needs_no_key(self):
        resp = self.anon.get("/healthz")
        self.assertEqual(resp.status, 200, resp)

    def test_no_key_is_401_everywhere(self):
        for path in GET_PATHS:
            with self.subTest(path=path):
                self.assertError(self.anon.get(self.fill(path)), 401,
                                 "unauthorized")
        for path in POST_PATHS:
            with self.subTest(path=path):
                self.assertError(self.anon.post(self.fill(path), {}), 401,
                                 "unauthorized")

    def test_unknown_key_is_401(self):
        bad = self.ctl.client("ntk_" + "0" * 64)
        for path in GET_PATHS:
            with self.subTest(path=path):
                self.assertError(bad.get(self.fill(path)), 401,
                                 "unauthorized")
        self.assertError(bad.post("/task/runs", {}), 401, "unauthorized")

    def test_malformed_authorization_is_401(self):
        for value in ("", "Bearer", "Bearer ", "Basic " + self.admin_key,
                      self.admin_key, "Bearer " + self.admin_key + "x",
                      "Bearer " + self.admin_key[:-1],
                      "Bearer  " + "a" * 5000):
            with self.subTest(value=value[:40]):
                resp = self.anon.get("/task/runs/recent",
                                     headers={"Authorization": value})
                self.assertError(resp, 401, "unauthorized")

    def test_read_key_reads_everything(self):
        for path in GET_PATHS:
            with self.subTest(path=path):
                resp = self.ro.get(self.fill(path))
                self.assertEqual(resp.status, 200, resp)

    def test_read_key_on_mutating_calls_is_403(self):
        bodies = {
            "/task/runs": {"taskName": "node.ping", "nodeId": self.node},
            "/task/run/{run}/cancel": None,
            "/task/question/{question}/answer": {"answer": "yes"},
        }
        for path in POST_PATHS:
            with self.subTest(path=path):
                body = bodies[path]
                if body is None:
                    resp = self.ro.request("POST", self.fill(path))
                else:
                    resp = self.ro.post(self.fill(path), body)
                self.assertError(resp, 403, "forbidden")
        # Nothing happened: the run is still pending.
        self.assertEqual(self.get_run(self.run_id)["state"], "pending")

    def test_read_key_403_comes_before_body_validation(self):
        resp = self.ro.request("POST", "/task/runs", raw=b"{not json")
        self.assertError(resp, 403, "forbidden")

    def test_auth_comes_before_body_validation(self):
        resp = self.anon.request("POST", "/task/runs", raw=b"{not json")
        self.assertError(resp, 401, "unauthorized")

    def test_admin_key_reads_too(self):
        for path in GET_PATHS:
            with self.subTest(path=path):
                self.assertEqual(self.api.get(self.fill(path)).status, 200)

    def test_unknown_path_is_404_with_error_body(self):
        for path in ("/nope", "/task", "/task/run", "/task/runs/recent/x",
                     "/task/run/%s/logs/x" % self.run_id, "/node",
                     "/task/questions"):
            with self.subTest(path=path):
                self.assertError(self.api.get(path), 404, "not_found")

    def test_wrong_method_is_405_with_allow(self):
        for method, path, allow in (
                ("DELETE", "/task/runs/recent", "GET"),
                ("PUT", "/task/run/" + self.run_id, "GET"),
                ("GET", "/task/run/%s/cancel" % self.run_id, "POST"),
                ("POST", "/nodes", "GET"),
                ("GET", "/task/runs", "POST")):
            with self.subTest(method=method, path=path):
                resp = self.api.request(method, path)
                self.assertError(resp, 405, "method_not_allowed")
                self.assertIn(allow, resp.header("allow", ""))

    def test_trailing_slash_and_dot_segments_are_404(self):
        for path in ("/nodes/", "/task/runs/recent/", "/./nodes",
                     "/task/run/%s/" % self.run_id):
            with self.subTest(path=path):
                self.assertError(self.api.get(path), 404, "not_found")

    def test_401_says_bearer(self):
        resp = self.anon.get("/nodes")
        self.assertError(resp, 401, "unauthorized")
        self.assertEqual(resp.header("www-authenticate", "").split()[0],
                         "Bearer")

    def test_unknown_path_needs_a_key_too(self):
        self.assertError(self.anon.get("/no/such/path"), 401,
                         "unauthorized")

    def test_no_store(self):
        for resp in (self.api.get("/nodes"), self.anon.get("/nodes")):
            self.assertIn("no-store", resp.header("cache-control", ""))

    def test_head_works_like_get(self):
        get = self.ro.get("/task/run/" + self.run_id)
        head = self.ro.request("HEAD", "/task/run/" + self.run_id)
        self.assertEqual(head.status, 200)
        self.assertEqual(head.raw, b"")
        self.assertEqual(head.header("content-type"),
                         get.header("content-type"))
        self.assertEqual(self.anon.request("HEAD", "/nodes").status, 401)

    def test_json_content_type(self):
        resp = self.api.get("/task/runs/recent")
        self.assertEqual(resp.status, 200)
        ctype = resp.header("content-type", "").replace(" ", "").lower()
        self.assertEqual(ctype, "application/json;charset=utf-8")

    def test_error_content_type(self):
        resp = self.anon.get("/task/runs/recent")
        ctype = resp.header("content-type", "").replace(" ", "").lower()
        self.assertEqual(ctype, "application/json;charset=utf-8")


if __name__ == "__main__":
    ntlib.main()
