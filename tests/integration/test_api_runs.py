"""POST /task/runs, GET /task/run/{id}, cancel: shapes, validation,
idempotency, device conflicts, over real HTTP."""

import json
import uuid

import ntlib
from ntlib import shapes
from ntlib.case import ControllerTestCase

MALFORMED_IDS = ["abc", "1234", "not-a-uuid-at-all-but-36-characters",
                 "a1b2c3d4-e5f6-7890-abcd-ef123456789",      # short
                 "a1b2c3d4-e5f6-7890-abcd-ef12345678901",    # long
                 "a1b2c3d4e5f67890abcdef1234567890abcd",     # no dashes
                 "g1b2c3d4-e5f6-7890-abcd-ef1234567890",     # not hex
                 "%20", "%00", "..", "x" * 300,
                 "a1b2c3d4-e5f6-7890-abcd-ef1234567890%00"]


class RunCreateTest(ControllerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.node = cls.seed.node("worker-01")
        cls.other = cls.seed.node("worker-02")
        cls.disks = cls.seed.disks(cls.node, "/dev/sdb",
                                   "/dev/sdc=has a filesystem")
        cls.other_disks = cls.seed.disks(cls.other, "/dev/sdb")

    def post(self, body, **kw):
        return self.api.post("/task/runs", body, **kw)

    def bad(self, body, status=400, code="bad_request"):
        return self.assertError(self.post(body), status, code)

    # ---- success ---------------------------------------------------------

    def test_create_ping_201_shape_location(self):
        resp = self.post({"taskName": "node.ping", "nodeId": self.node})
        run = self.assertJson(resp, 201)
        self.assertShape(run, shapes.RUN, shapes.RUN_EXT, "run")
        self.assertEqual(run["taskName"], "node.ping")
        self.assertEqual(run["state"], "pending")
        self.assertEqual(run["nodeId"], self.node)
        self.assertEqual(run["nodeHostname"], "worker-01")
        self.assertIsNone(run["startedAt"])
        self.assertIsNone(run["completedAt"])
        self.assertIsNone(run["error"])
        self.assertEqual(resp.header("location"), "/task/run/" + run["id"])
        # The detail endpoint gives the same run.
        got = self.get_run(run["id"])
        self.assertShape(got, shapes.RUN, shapes.RUN_EXT, "run")
        for k in shapes.RUN:
            self.assertEqual(got[k], run[k], k)

    def test_detail_has_every_field_even_null(self):
        run = self.create_run(self.node)
        got = self.get_run(run["id"])
        for k in list(shapes.RUN) + ["params", "result",
                                     "pendingQuestionId"]:
            self.assertIn(k, got)
        self.assertEqual(got["params"], {})
        self.assertIsNone(got["result"])
        self.assertIsNone(got["pendingQuestionId"])

    def test_device_path_field(self):
        run = self.create_run(self.node)
        self.assertIsNone(run["devicePath"])
        run = self.create_run(self.node, "disk.wipe",
                              {"devicePath": "/dev/vdp"})
        self.assertEqual(run["devicePath"], "/dev/vdp")
        self.cancel_ok(run["id"])

    def test_null_params_is_absent(self):
        run = self.create_run(self.node, params=None)
        resp = self.post({"taskName": "node.ping", "nodeId": self.node,
                          "params": None})
        self.assertEqual(self.assertJson(resp, 201)["params"], {})
        self.assertEqual(run["params"], {})

    def test_create_ping_with_empty_params(self):
        run = self.create_run(self.node, params={})
        self.assertEqual(run["state"], "pending")

    def test_create_wipe_echoes_params(self):
        params = {"devicePath": "/dev/vdz", "mode": "full", "confirm": True}
        run = self.create_run(self.node, "disk.wipe", params)
        self.assertEqual(run["taskName"], "disk.wipe")
        self.assertEqual(self.get_run(run["id"])["params"], params)
        self.cancel_ok(run["id"])

    def test_create_wipe_every_mode(self):
        for mode in ("quick", "full", "discard"):
            with self.subTest(mode=mode):
                run = self.create_run(self.node, "disk.wipe",
                                      {"devicePath": "/dev/vdm" + mode[0],
                                       "mode": mode, "confirm": False})
                self.cancel_ok(run["id"])

    def test_create_osd(self):
        run = self.create_run(self.node, "ceph.create-osd",
                              {"devicePath": "/dev/vdy",
                               "deviceClass": "ssd", "confirm": True})
        self.assertEqual(run["taskName"], "ceph.create-osd")
        self.cancel_ok(run["id"])

    def test_create_by_disk_id(self):
        run = self.create_run(self.node, "disk.wipe",
                              {"diskId": self.disks["/dev/sdb"]})
        self.assertEqual(self.get_run(run["id"])["state"], "pending")
        self.cancel_ok(run["id"])

    def test_disk_id_of_another_node_is_400(self):
        self.bad({"taskName": "disk.wipe", "nodeId": self.node,
                  "params": {"diskId": self.other_disks["/dev/sdb"]}})

    def test_unknown_disk_id_is_404(self):
        self.bad({"taskName": "disk.wipe", "nodeId": self.node,
                  "params": {"diskId": str(uuid.uuid4())}},
                 404, "not_found")

    def test_disk_id_resolves_device_path(self):
        run = self.create_run(self.node, "ceph.create-osd",
                              {"diskId": self.disks["/dev/sdc"],
                               "confirm": True})
        got = self.get_run(run["id"])
        self.assertEqual(got["devicePath"], "/dev/sdc")
        self.assertEqual(got["params"], {"diskId": self.disks["/dev/sdc"],
                                         "confirm": True,
                                         "devicePath": "/dev/sdc"})
        self.cancel_ok(run["id"])

    def test_offline_node_accepts_pending_run(self):
        node = self.seed.node("sleepy", online=False)
        run = self.create_run(node)
        self.assertEqual(run["state"], "pending")

    # ---- body validation ------------------------------------------------

    def test_malformed_json(self):
        for raw in (b"{", b"{not json}", b'{"taskName": "node.ping",}',
                    b'{"taskName": "node.ping"} trailing', b"\xff\xfe",
                    b"nul\x00l", b""):
            with self.subTest(raw=raw):
                resp = self.api.request("POST", "/task/runs", raw=raw)
                self.assertError(resp, 400, "bad_request")

    def test_body_not_an_object(self):
        for body in ([], [{"taskName": "node.ping"}], "node.ping", 1, None,
                     True):
            with self.subTest(body=body):
                self.bad(body)

    def test_missing_fields(self):
        self.bad({})
        self.bad({"taskName": "node.ping"})
        self.bad({"nodeId": self.node})

    def test_wrong_field_types(self):
        for body in ({"taskName": 1, "nodeId": self.node},
                     {"taskName": None, "nodeId": self.node},
                     {"taskName": ["node.ping"], "nodeId": self.node},
                     {"taskName": "node.ping", "nodeId": 5},
                     {"taskName": "node.ping", "nodeId": {"id": self.node}},
                     {"taskName": "node.ping", "nodeId": self.node,
                      "params": []},
                     {"taskName": "node.ping", "nodeId": self.node,
                      "params": "x"},
                     {"taskName": "node.ping", "nodeId": self.node,
                      "params": 3}):
            with self.subTest(body=body):
                self.bad(body)

    def test_unknown_top_level_field(self):
        self.bad({"taskName": "node.ping", "nodeId": self.node,
                  "priority": 1})

    def test_nul_in_strings_and_deep_nesting_are_400(self):
        raw = ('{"taskName": "node.ping\\u0000", "nodeId": "%s"}'
               % self.node).encode()
        self.assertError(self.api.request("POST", "/task/runs", raw=raw),
                         400, "bad_request")
        deep = {"taskName": "node.ping", "nodeId": self.node,
                "params": {}}
        inner = deep["params"]
        for _ in range(40):
            inner["x"] = {}
            inner = inner["x"]
        self.bad(deep)

    def test_invalid_utf8_is_400(self):
        raw = b'{"taskName": "node.ping\xc3\x28", "nodeId": "%s"}' \
            % self.node.encode()
        self.assertError(self.api.request("POST", "/task/runs", raw=raw),
                         400, "bad_request")

    def test_duplicate_field(self):
        raw = ('{"taskName": "node.ping", "nodeId": "%s", '
               '"taskName": "disk.wipe"}' % self.node).encode()
        resp = self.api.request("POST", "/task/runs", raw=raw)
        self.assertError(resp, 400, "bad_request")

    def test_unknown_task_name(self):
        for name in ("disk.format", "", "node.PING", "node.ping ",
                     "ceph.create_osd"):
            with self.subTest(name=name):
                self.bad({"taskName": name, "nodeId": self.node})

    def test_malformed_node_id(self):
        for node in ("abc", "", self.node + "0", self.node[:-1],
                     self.node.replace("-", "")):
            with self.subTest(node=node):
                self.bad({"taskName": "node.ping", "nodeId": node})

    def test_unknown_node_is_404(self):
        self.assertError(self.post({"taskName": "node.ping",
                                    "nodeId": str(uuid.uuid4())}),
                         404, "not_found")

    def test_unknown_node_404_also_for_device_tasks(self):
        self.assertError(self.post({"taskName": "disk.wipe",
                                    "nodeId": str(uuid.uuid4()),
                                    "params": {"devicePath": "/dev/sdb"}}),
                         404, "not_found")

    # ---- params per task (API.md catalogue) -----------------------------

    def test_ping_takes_no_params(self):
        for params in ({"devicePath": "/dev/sdb"}, {"x": 1},
                       {"confirm": True}):
            with self.subTest(params=params):
                self.bad({"taskName": "node.ping", "nodeId": self.node,
                          "params": params})

    def test_wipe_bad_params(self):
        cases = [
            {},                                        # no device
            {"mode": "quick"},                         # no device
            {"devicePath": "/dev/sdb", "diskId": self.disks["/dev/sdb"]},
            {"devicePath": 5},
            {"devicePath": ""},
            {"devicePath": "sdb"},
            {"devicePath": "/etc/passwd"},
            {"devicePath": "/dev/../etc/passwd"},
            {"devicePath": "/dev/"},
            {"devicePath": "/dev/sdb; rm -rf /"},
            {"devicePath": "/dev/sdb\n"},
            {"diskId": "not-a-uuid"},
            {"diskId": 7},
            {"devicePath": "/dev/sdb", "mode": "fast"},
            {"devicePath": "/dev/sdb", "mode": 1},
            {"devicePath": "/dev/sdb", "mode": ""},
            {"devicePath": "/dev/sdb", "confirm": "yes"},
            {"devicePath": "/dev/sdb", "confirm": 1},
            {"devicePath": "/dev/sdb", "deviceClass": "ssd"},   # osd only
            {"devicePath": "/dev/sdb", "force": True},
        ]
        for params in cases:
            with self.subTest(params=params):
                self.bad({"taskName": "disk.wipe", "nodeId": self.node,
                          "params": params})

    def test_osd_bad_params(self):
        cases = [
            {},
            {"devicePath": "/dev/sdb", "mode": "quick"},       # wipe only
            {"devicePath": "/dev/sdb", "deviceClass": 3},
            {"devicePath": "/dev/sdb", "deviceClass": ""},
            {"devicePath": "/dev/sdb", "deviceClass": "ssd class"},
            {"devicePath": "/dev/sdb", "confirm": "true"},
            {"devicePath": ["/dev/sdb"]},
        ]
        for params in cases:
            with self.subTest(params=params):
                self.bad({"taskName": "ceph.create-osd",
                          "nodeId": self.node, "params": params})

    def test_error_message_names_the_field(self):
        body = self.bad({"taskName": "disk.wipe", "nodeId": self.node,
                         "params": {"devicePath": "/dev/sdb",
                                    "mode": "fast"}})
        self.assertIn("mode", body["message"])

    def test_nothing_stored_on_validation_errors(self):
        node = self.seed.node("validation-only")
        self.bad({"taskName": "disk.wipe", "nodeId": node,
                  "params": {"devicePath": 1}})
        self.bad({"taskName": "nope", "nodeId": node})
        resp = self.api.get("/task/runs/recent?nodeId=" + node)
        self.assertEqual(self.assertJson(resp, 200), [])

    # ---- oversize -------------------------------------------------------

    def test_body_over_1_mib_is_413(self):
        filler = "x" * (1024 * 1024)
        raw = json.dumps({"taskName": "node.ping", "nodeId": self.node,
                          "params": {"pad": filler}}).encode()
        self.assertGreater(len(raw), 1024 * 1024)
        resp = self.api.request("POST", "/task/runs", raw=raw)
        self.assertError(resp, 413, "payload_too_large")

    def test_chunked_body_over_1_mib_is_413(self):
        chunk = b" " * 65536

        def body():
            yield b'{"taskName": "node.ping", "nodeId": "%s", "x": "' \
                % self.node.encode()
            for _ in range(20):
                yield chunk
            yield b'"}'

        resp = self.api.request("POST", "/task/runs", raw=body())
        self.assertError(resp, 413, "payload_too_large")

    def test_body_just_under_1_mib_is_parsed(self):
        # Whitespace pads a valid body: within the limit it is validated
        # (here: it is fine), not refused for its size.
        head = json.dumps({"taskName": "node.ping", "nodeId": self.node})
        raw = head.encode() + b" " * (1024 * 1024 - len(head) - 16)
        self.assertLess(len(raw), 1024 * 1024)
        resp = self.api.request("POST", "/task/runs", raw=raw)
        self.assertEqual(resp.status, 201, resp)

    def test_controller_survives_413(self):
        raw = b"[" + b"1," * (700 * 1024) + b"1]"
        resp = self.api.request("POST", "/task/runs", raw=raw)
        self.assertError(resp, 413, "payload_too_large")
        self.assertEqual(self.api.get("/task/runs/recent").status, 200)

    # ---- idempotency ----------------------------------------------------

    def test_idempotency_same_body_same_run(self):
        key = "idem-" + str(uuid.uuid4())
        body = {"taskName": "disk.wipe", "nodeId": self.node,
                "params": {"devicePath": "/dev/vdi", "confirm": True}}
        first = self.post(body, headers={"Idempotency-Key": key})
        run = self.assertJson(first, 201)
        again = self.post(body, headers={"Idempotency-Key": key})
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json["id"], run["id"])
        self.assertShape(again.json, shapes.RUN, shapes.RUN_EXT, "run")
        # Exactly one run exists for it.
        runs = self.assertJson(
            self.api.get("/task/runs/recent?taskName=disk.wipe&nodeId="
                         + self.node + "&limit=500"), 200)
        self.assertEqual([r["id"] for r in runs].count(run["id"]), 1)
        self.cancel_ok(run["id"])
        # Even after the run ended, a retry returns the same run.
        third = self.post(body, headers={"Idempotency-Key": key})
        self.assertEqual(third.status, 200, third)
        self.assertEqual(third.json["id"], run["id"])
        self.assertEqual(third.json["state"], "canceled")

    def test_idempotency_different_body_is_409(self):
        key = "idem-" + str(uuid.uuid4())
        self.assertJson(self.post({"taskName": "node.ping",
                                   "nodeId": self.node},
                                  headers={"Idempotency-Key": key}), 201)
        resp = self.post({"taskName": "node.ping", "nodeId": self.other},
                         headers={"Idempotency-Key": key})
        self.assertError(resp, 409, "conflict")

    def test_malformed_idempotency_key_is_400(self):
        body = {"taskName": "node.ping", "nodeId": self.node}
        for key in ("has space", "x" * 129, "tab\there"):
            with self.subTest(key=key[:20]):
                self.assertError(self.post(
                    body, headers={"Idempotency-Key": key}), 400,
                    "bad_request")

    def test_without_idempotency_key_two_runs(self):
        body = {"taskName": "node.ping", "nodeId": self.node}
        a = self.assertJson(self.post(body), 201)
        b = self.assertJson(self.post(body), 201)
        self.assertNotEqual(a["id"], b["id"])

    def test_different_idempotency_keys_two_runs(self):
        body = {"taskName": "node.ping", "nodeId": self.node}
        a = self.assertJson(self.post(
            body, headers={"Idempotency-Key": "k1-" + str(uuid.uuid4())}),
            201)
        b = self.assertJson(self.post(
            body, headers={"Idempotency-Key": "k2-" + str(uuid.uuid4())}),
            201)
        self.assertNotEqual(a["id"], b["id"])

    # ---- device busy ----------------------------------------------------

    def test_device_busy_is_409(self):
        params = {"devicePath": "/dev/vdb"}
        run = self.create_run(self.node, "disk.wipe", params)
        body = self.assertError(
            self.post({"taskName": "ceph.create-osd", "nodeId": self.node,
                       "params": params}), 409, "conflict")
        self.assertIn("/dev/vdb", body["message"])
        # The same path on another node is another device.
        other = self.create_run(self.other, "disk.wipe", params)
        # Once the first run ended, the device is free again.
        self.cancel_ok(run["id"])
        again = self.create_run(self.node, "disk.wipe", params)
        self.cancel_ok(again["id"])
        self.cancel_ok(other["id"])

    def test_device_busy_by_disk_id_and_path(self):
        run = self.create_run(self.node, "disk.wipe",
                              {"diskId": self.disks["/dev/sdc"]})
        self.assertError(
            self.post({"taskName": "disk.wipe", "nodeId": self.node,
                       "params": {"devicePath": "/dev/sdc"}}),
            409, "conflict")
        self.cancel_ok(run["id"])

    def test_device_busy_while_running(self):
        params = {"devicePath": "/dev/vdr"}
        run = self.create_run(self.node, "disk.wipe", params)
        self.seed.started(self.node, run["id"])
        self.assertEqual(self.get_run(run["id"])["state"], "running")
        self.assertError(self.post({"taskName": "disk.wipe",
                                    "nodeId": self.node, "params": params}),
                         409, "conflict")
        self.seed.finished(self.node, run["id"], 2, "completed")
        self.create_run(self.node, "disk.wipe", params)

    # ---- helpers --------------------------------------------------------

    def cancel_ok(self, run_id):
        resp = self.api.request("POST", "/task/run/%s/cancel" % run_id)
        self.assertEqual(self.assertJson(resp, 200), {"status": "canceled"})


class RunGetCancelTest(ControllerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.node = cls.seed.node("worker-03")

    def cancel(self, run_id, client=None):
        return (client or self.api).request(
            "POST", "/task/run/%s/cancel" % run_id)

    def test_get_unknown_run_is_404(self):
        self.assertError(self.api.get("/task/run/" + str(uuid.uuid4())),
                         404, "not_found")

    def test_malformed_ids_are_400_in_every_path(self):
        for bad in MALFORMED_IDS:
            for method, path in (("GET", "/task/run/%s"),
                                 ("GET", "/task/run/%s/logs"),
                                 ("POST", "/task/run/%s/cancel"),
                                 ("POST", "/task/question/%s/answer"),
                                 ("GET", "/node/%s")):
                with self.subTest(method=method, path=path, id=bad[:20]):
                    body = {"answer": "yes"} if "answer" in path else None
                    if body is None:
                        resp = self.api.request(method, path % bad)
                    else:
                        resp = self.api.post(path % bad, body)
                    self.assertError(resp, 400, "bad_request")

    def test_uppercase_id_finds_the_run(self):
        run = self.create_run(self.node)
        resp = self.api.get("/task/run/" + run["id"].upper())
        self.assertEqual(self.assertJson(resp, 200)["id"], run["id"])

    def test_cancel_pending_then_again_409(self):
        run = self.create_run(self.node)
        resp = self.cancel(run["id"])
        self.assertEqual(self.assertJson(resp, 200), {"status": "canceled"})
        got = self.get_run(run["id"])
        self.assertShape(got, shapes.RUN, shapes.RUN_EXT, "run")
        self.assertEqual(got["state"], "canceled")
        self.assertTime(got["completedAt"])
        self.assertIsNone(got["startedAt"])
        self.assertIsInstance(got["error"], str)
        self.assertError(self.cancel(run["id"]), 409, "conflict")
        self.assertEqual(self.get_run(run["id"])["state"], "canceled")

    def test_cancel_running(self):
        run = self.create_run(self.node)
        self.seed.started(self.node, run["id"])
        got = self.get_run(run["id"])
        self.assertEqual(got["state"], "running")
        self.assertTime(got["startedAt"])
        self.assertIsNone(got["completedAt"])
        self.assertEqual(self.assertJson(self.cancel(run["id"]), 200),
                         {"status": "canceled"})
        got = self.get_run(run["id"])
        self.assertEqual(got["state"], "canceled")
        self.assertTime(got["completedAt"])
        # A late "completed" from the agent never resurrects it.
        self.seed.finished(self.node, run["id"], 2, "completed",
                           check=False)
        self.assertEqual(self.get_run(run["id"])["state"], "canceled")

    def test_cancel_completed_and_failed_is_409(self):
        for state, error in (("completed", None), ("failed", "it broke")):
            with self.subTest(state=state):
                run = self.create_run(self.node)
                self.seed.started(self.node, run["id"])
                self.seed.finished(self.node, run["id"], 2, state, error,
                                   result='{"hostname": "worker-03"}')
                got = self.get_run(run["id"])
                self.assertEqual(got["state"], state)
                self.assertEqual(got["error"], error)
                self.assertEqual(got["result"], {"hostname": "worker-03"})
                self.assertTime(got["completedAt"])
                self.assertError(self.cancel(run["id"]), 409, "conflict")
                self.assertEqual(self.get_run(run["id"])["state"], state)

    def test_terminal_run_never_changes(self):
        run = self.create_run(self.node)
        self.seed.started(self.node, run["id"])
        self.seed.finished(self.node, run["id"], 2, "failed", "boom")
        before = self.get_run(run["id"])
        self.seed.finished(self.node, run["id"], 3, "completed",
                           check=False)
        after = self.get_run(run["id"])
        self.assertEqual(after["state"], "failed")
        self.assertEqual(after["error"], "boom")
        self.assertEqual(after["completedAt"], before["completedAt"])

    def test_cancel_with_reason(self):
        run = self.create_run(self.node)
        resp = self.api.post("/task/run/%s/cancel" % run["id"],
                             {"reason": "wrong disk"})
        self.assertEqual(self.assertJson(resp, 200), {"status": "canceled"})
        self.assertEqual(self.get_run(run["id"])["error"], "wrong disk")

    def test_cancel_default_reason_names_the_key(self):
        run = self.create_run(self.node)
        self.assertEqual(self.cancel(run["id"]).status, 200)
        self.assertEqual(self.get_run(run["id"])["error"],
                         "canceled by it-admin")

    def test_cancel_bad_body_is_400(self):
        run = self.create_run(self.node)
        for body in ({"reason": 5}, {"reason": ""}, {"reason": "x" * 501},
                     {"why": "x"}, [], "x"):
            with self.subTest(body=str(body)[:30]):
                resp = self.api.post("/task/run/%s/cancel" % run["id"], body)
                self.assertError(resp, 400, "bad_request")
        resp = self.api.request("POST", "/task/run/%s/cancel" % run["id"],
                                raw=b"{oops")
        self.assertError(resp, 400, "bad_request")
        self.assertEqual(self.get_run(run["id"])["state"], "pending")

    def test_cancel_unknown_is_404(self):
        self.assertError(self.cancel(str(uuid.uuid4())), 404, "not_found")

    def test_cancel_with_read_key_is_403(self):
        run = self.create_run(self.node)
        self.assertError(self.cancel(run["id"], self.ro), 403, "forbidden")
        self.assertEqual(self.get_run(run["id"])["state"], "pending")

    def test_canceled_pending_run_never_starts(self):
        run = self.create_run(self.node)
        self.assertEqual(self.cancel(run["id"]).status, 200)
        before = self.get_run(run["id"])
        # An agent that raced the cancel reports a start: the run stays
        # canceled (the controller then tells the agent to stop).
        self.seed.event(self.node, run["id"], 1, "started", check=False)
        got = self.get_run(run["id"])
        self.assertEqual(got["state"], "canceled")
        self.assertEqual(got["completedAt"], before["completedAt"])
        self.assertEqual(got["error"], before["error"])

    def test_events_for_another_nodes_run_are_rejected(self):
        other = self.seed.node("intruder")
        run = self.create_run(self.node)
        out = self.seed.event(other, run["id"], 1, "started", check=False)
        self.assertEqual(out, "rejected")
        self.assertEqual(self.get_run(run["id"])["state"], "pending")


class CephOsdTest(ControllerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.node = cls.seed.node("osd-node")
        cls.other = cls.seed.node("osd-other")
        cls.disks = cls.seed.disks(cls.node, "/dev/sdb", "/dev/sdc",
                                   "/dev/sdd")
        cls.other_disks = cls.seed.disks(cls.other, "/dev/sdb")

    def post(self, body, **kw):
        return self.api.post("/ceph/osd", body, **kw)

    def test_scheduled(self):
        resp = self.post({"nodeId": self.node,
                          "diskId": self.disks["/dev/sdb"],
                          "deviceClass": "ssd", "confirm": True})
        body = self.assertJson(resp, 201)
        self.assertShape(body, {"status": str, "runId": shapes.Uuid},
                         what="scheduled")
        self.assertEqual(body["status"], "scheduled")
        self.assertEqual(resp.header("location"),
                         "/task/run/" + body["runId"])
        run = self.get_run(body["runId"])
        self.assertEqual(run["taskName"], "ceph.create-osd")
        self.assertEqual(run["state"], "pending")
        self.assertEqual(run["nodeId"], self.node)
        self.assertEqual(run["devicePath"], "/dev/sdb")
        self.assertEqual(run["params"]["deviceClass"], "ssd")
        # The disk is now busy.
        self.assertError(self.post({"nodeId": self.node,
                                    "diskId": self.disks["/dev/sdb"]}),
                         409, "conflict")

    def test_idempotent_replay(self):
        body = {"nodeId": self.node, "diskId": self.disks["/dev/sdc"]}
        key = {"Idempotency-Key": "osd-" + str(uuid.uuid4())}
        first = self.assertJson(self.post(body, headers=key), 201)
        again = self.post(body, headers=key)
        self.assertEqual(self.assertJson(again, 200), first)

    def test_errors(self):
        cases = [
            ({}, 400, "bad_request"),
            ({"nodeId": self.node}, 400, "bad_request"),
            ({"diskId": self.disks["/dev/sdd"]}, 400, "bad_request"),
            ({"nodeId": "x", "diskId": self.disks["/dev/sdd"]}, 400,
             "bad_request"),
            ({"nodeId": self.node, "diskId": "x"}, 400, "bad_request"),
            ({"nodeId": self.node, "diskId": self.disks["/dev/sdd"],
              "mode": "quick"}, 400, "bad_request"),
            ({"nodeId": self.node, "diskId": self.disks["/dev/sdd"],
              "deviceClass": "SSD!"}, 400, "bad_request"),
            ({"nodeId": self.node, "diskId": self.disks["/dev/sdd"],
              "confirm": "yes"}, 400, "bad_request"),
            ({"nodeId": self.node, "diskId": self.other_disks["/dev/sdb"]},
             400, "bad_request"),
            ({"nodeId": self.node, "diskId": str(uuid.uuid4())}, 404,
             "not_found"),
            # A disk names its node: with another node it is a 400.
            ({"nodeId": str(uuid.uuid4()), "diskId": self.disks["/dev/sdd"]},
             400, "bad_request"),
            ({"nodeId": str(uuid.uuid4()), "diskId": str(uuid.uuid4())},
             404, "not_found"),
        ]
        for body, status, code in cases:
            with self.subTest(body=body):
                self.assertError(self.post(body), status, code)
        self.assertError(self.ro.post("/ceph/osd", {
            "nodeId": self.node, "diskId": self.disks["/dev/sdd"]}), 403,
            "forbidden")
        runs = self.assertJson(self.api.get(
            "/task/runs/recent?nodeId=" + self.node), 200)
        self.assertNotIn("/dev/sdd", [self.get_run(r["id"])["devicePath"]
                                      for r in runs])


if __name__ == "__main__":
    ntlib.main()
