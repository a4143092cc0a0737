"""Every mutating call lands in audit_log: who (key name), what, on
which object, when, and the outcome."""

import uuid

import ntlib
from ntlib.case import ControllerTestCase


class AuditTest(ControllerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.node = cls.seed.node("audited")

    def rows(self, where, *params):
        """audit_log rows: [actor, action, object_type, object_id,
        status, detail, age in seconds]."""
        return self.pg.psql(
            "SELECT actor, action, coalesce(object_type, ''), "
            "coalesce(object_id, ''), status, coalesce(detail, ''), "
            "extract(epoch FROM now() - at)::int FROM audit_log WHERE "
            + where + " ORDER BY id", *params)

    def test_run_create_recorded(self):
        run = self.create_run(self.node)
        rows = self.rows("object_id = :'p1'", run["id"])
        self.assertEqual(len(rows), 1, rows)
        actor, action, otype, oid, status, _detail, age = rows[0]
        self.assertEqual(actor, "it-admin")
        self.assertTrue(action.startswith("POST"), action)
        self.assertIn("/task/runs", action)
        self.assertEqual(otype, "run")
        self.assertEqual(status, "201")
        self.assertLess(int(age), 60)

    def test_failed_calls_recorded_with_their_status(self):
        node = str(uuid.uuid4())
        resp = self.api.post("/task/runs", {"taskName": "node.ping",
                                            "nodeId": node})
        self.assertEqual(resp.status, 404)
        resp = self.api.post("/task/runs", {"taskName": "bogus.task",
                                            "nodeId": self.node})
        self.assertEqual(resp.status, 400)
        statuses = [r[4] for r in self.rows(
            "actor = 'it-admin' AND action LIKE 'POST%/task/runs%' "
            "AND status >= 400")]
        self.assertIn("404", statuses)
        self.assertIn("400", statuses)

    def test_cancel_recorded_with_outcome(self):
        run = self.create_run(self.node)
        path = "/task/run/%s/cancel" % run["id"]
        self.assertEqual(self.api.request("POST", path).status, 200)
        self.assertEqual(self.api.request("POST", path).status, 409)
        rows = self.rows("object_id = :'p1' AND action LIKE '%cancel%'",
                         run["id"])
        self.assertEqual([(r[0], r[4]) for r in rows],
                         [("it-admin", "200"), ("it-admin", "409")])

    def test_answer_recorded(self):
        run = self.create_run(self.node, "disk.wipe",
                              {"devicePath": "/dev/vdq"})
        self.seed.started(self.node, run["id"])
        qid = self.seed.question(self.node, run["id"], 2, "Proceed?",
                                 ["yes", "no"])
        resp = self.api.post("/task/question/%s/answer" % qid,
                             {"answer": "yes"})
        self.assertEqual(resp.status, 200, resp)
        rows = self.rows("object_id = :'p1'", qid)
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][0], "it-admin")
        self.assertEqual(rows[0][2], "question")
        self.assertEqual(rows[0][4], "200")

    def test_action_is_method_and_path_pattern(self):
        run = self.create_run(self.node)
        self.api.request("POST", "/task/run/%s/cancel" % run["id"])
        rows = self.rows("object_id = :'p1'", run["id"])
        self.assertEqual([r[1] for r in rows],
                         ["POST /task/runs", "POST /task/run/{runId}/cancel"])

    def test_failed_authentication_recorded_as_anonymous(self):
        bad = self.ctl.client("ntk_" + "9" * 64)
        self.assertEqual(bad.post("/task/runs", {}).status, 401)
        self.assertEqual(self.anon.post("/task/runs", {}).status, 401)
        self.assertEqual(self.ro.post("/task/runs", {}).status, 403)
        rows = self.rows("status IN (401, 403)")
        self.assertEqual([(r[0], r[4]) for r in rows],
                         [("anonymous", "401"), ("anonymous", "401"),
                          ("it-read", "403")])

    def test_reads_are_not_mutations(self):
        def count():
            return self.pg.psql("SELECT count(*), coalesce(max(id), 0) "
                                "FROM audit_log")
        before = count()
        self.assertEqual(self.ro.get("/task/runs/recent").status, 200)
        self.assertEqual(self.api.get("/nodes").status, 200)
        self.assertEqual(self.api.request("HEAD", "/nodes").status, 200)
        self.assertEqual(count(), before)

    def test_cli_key_create_recorded(self):
        self.ctl.create_key("audited-key", "read")
        rows = self.rows("object_id = 'audited-key'")
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][0], "cli")
        self.assertIn("key create", rows[0][1])
        self.assertEqual(rows[0][4], "0")

    def test_secret_never_in_audit(self):
        key = self.ctl.create_key("secret-check", "admin")
        self.ctl.client(key).post("/task/runs", {"taskName": "node.ping",
                                                 "nodeId": self.node})
        rows = self.pg.psql("SELECT count(*) FROM audit_log WHERE "
                            "concat_ws(' ', actor, action, object_id, "
                            "detail) LIKE :'p1'", "%" + key[4:] + "%")
        self.assertEqual(rows, [["0"]])
        rows = self.rows("actor = 'secret-check'")
        self.assertEqual(len(rows), 1)


if __name__ == "__main__":
    ntlib.main()
