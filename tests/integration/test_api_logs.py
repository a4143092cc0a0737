"""GET /task/run/{id}/logs: shape, order, seq, paging (after, limit)."""

import uuid

import ntlib
from ntlib import shapes
from ntlib.case import ControllerTestCase


class LogsTest(ControllerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.node = cls.seed.node("logger")
        resp = cls.api.post("/task/runs", {"taskName": "node.ping",
                                           "nodeId": cls.node})
        assert resp.status == 201, resp
        cls.run_id = resp.json["id"]
        # Event seq 1: started; 2..4: one line per level (with odd text);
        # 5..: 1200 lines in one batch.
        cls.seed.started(cls.node, cls.run_id)
        cls.first = [("debug", "Starting OSD creation on /dev/sdb"),
                     ("warn", 'quotes " and \\ backslash\ttab'),
                     ("error", "unicode: \u00e9\u4e2d\U0001f600")]
        seq = 2
        for level, msg in cls.first:
            out = cls.seed.log(cls.node, cls.run_id, seq, level, msg)
            assert out == "stored", out
            seq += 1
        cls.bulk = 1200
        outs = cls.seed.logs(cls.node, cls.run_id, seq, cls.bulk,
                             prefix="bulk")
        assert outs == ["stored"] * cls.bulk, outs[:3]
        cls.next_event_seq = seq + cls.bulk
        cls.total = len(cls.first) + cls.bulk

    def logs(self, query="", run_id=None):
        resp = self.api.get("/task/run/%s/logs%s"
                            % (run_id or self.run_id, query))
        return self.assertJson(resp, 200)

    def all_logs(self, limit=None):
        out, after = [], 0
        for _ in range(10000):
            q = "?after=%d" % after
            if limit is not None:
                q += "&limit=%d" % limit
            page = self.logs(q)
            if not page:
                return out
            out += page
            after = page[-1]["seq"]
        self.fail("paging did not end")

    def test_shape_and_first_lines(self):
        page = self.logs("?limit=3")
        self.assertEqual(len(page), 3)
        for entry in page:
            self.assertShape(entry, shapes.LOG, what="log entry")
        self.assertEqual([(e["level"], e["message"]) for e in page],
                         self.first)
        self.assertEqual([e["seq"] for e in page], [1, 2, 3])

    def test_every_line_once_in_order_no_gaps(self):
        for limit in (None, 1000, 333):
            with self.subTest(limit=limit):
                entries = self.all_logs(limit)
                self.assertEqual([e["seq"] for e in entries],
                                 list(range(1, self.total + 1)))
                self.assertEqual(
                    [e["message"] for e in entries[3:]],
                    ["bulk %d" % i for i in range(1, self.bulk + 1)])

    def test_small_pages(self):
        seqs, after = [], 0
        for _ in range(10):
            page = self.logs("?after=%d&limit=7" % after)
            self.assertEqual(len(page), 7)
            seqs += [e["seq"] for e in page]
            after = page[-1]["seq"]
        self.assertEqual(seqs, list(range(1, 71)))

    def test_after_and_limit(self):
        page = self.logs("?after=10&limit=5")
        self.assertEqual([e["seq"] for e in page], [11, 12, 13, 14, 15])
        self.assertEqual(page[0]["message"], "bulk 8")

    def test_link_header_on_full_pages(self):
        resp = self.api.get("/task/run/%s/logs?after=5&limit=10"
                            % self.run_id)
        self.assertEqual([e["seq"] for e in resp.json], list(range(6, 16)))
        self.assertEqual(resp.header("link"),
                         '</task/run/%s/logs?after=15&limit=10>; rel="next"'
                         % self.run_id)
        resp = self.api.get("/task/run/%s/logs?after=%d&limit=10"
                            % (self.run_id, self.total - 3))
        self.assertEqual(len(resp.json), 3)
        self.assertIsNone(resp.header("link"))

    def test_repeated_or_unknown_parameter_is_400(self):
        for query in ("?after=1&after=2", "?limit=1&limit=1", "?seq=1"):
            with self.subTest(query=query):
                resp = self.api.get("/task/run/%s/logs%s"
                                    % (self.run_id, query))
                self.assertError(resp, 400, "bad_request")

    def test_after_the_end_is_empty(self):
        self.assertEqual(self.logs("?after=%d" % self.total), [])
        self.assertEqual(self.logs("?after=999999"), [])
        last = self.logs("?after=%d" % (self.total - 1))
        self.assertEqual([e["seq"] for e in last], [self.total])

    def test_default_page_is_bounded_and_starts_at_1(self):
        page = self.logs()
        self.assertGreater(len(page), 0)
        self.assertEqual(page[0]["seq"], 1)
        self.assertEqual([e["seq"] for e in page],
                         list(range(1, len(page) + 1)))

    def test_timestamps_do_not_go_backwards(self):
        entries = self.all_logs(1000)
        stamps = [e["timestamp"] for e in entries]
        self.assertEqual(stamps, sorted(stamps))

    def test_invalid_paging_is_400(self):
        for query in ("?after=-1", "?after=x", "?after=", "?limit=0",
                      "?limit=-5", "?limit=x", "?limit=", "?after=1.5",
                      "?limit=99999999999999999999"):
            with self.subTest(query=query):
                resp = self.api.get("/task/run/%s/logs%s"
                                    % (self.run_id, query))
                self.assertError(resp, 400, "bad_request")

    def test_resent_lines_are_not_stored_twice(self):
        out = self.seed.log(self.node, self.run_id, 2, "info", "resend")
        self.assertEqual(out, "duplicate")
        self.assertEqual(len(self.all_logs(1000)), self.total)

    def test_unknown_run_is_404(self):
        resp = self.api.get("/task/run/%s/logs" % uuid.uuid4())
        self.assertError(resp, 404, "not_found")

    def test_run_without_logs_is_empty_array(self):
        run = self.create_run(self.node)
        resp = self.api.get("/task/run/%s/logs" % run["id"])
        self.assertEqual(self.assertJson(resp, 200), [])

    def test_logs_of_two_runs_are_separate(self):
        run = self.create_run(self.node)
        self.seed.started(self.node, run["id"])
        self.seed.log(self.node, run["id"], 2, "info", "only line")
        page = self.logs(run_id=run["id"])
        self.assertEqual([(e["seq"], e["message"]) for e in page],
                         [(1, "only line")])

    def test_read_key_reads_logs(self):
        resp = self.ro.get("/task/run/%s/logs?limit=2" % self.run_id)
        self.assertEqual(len(self.assertJson(resp, 200)), 2)


if __name__ == "__main__":
    ntlib.main()
