"""GET /task/runs/recent: order, limit, filters and cursor paging."""

import uuid

import ntlib
from ntlib import shapes
from ntlib.case import ControllerTestCase


class RecentRunsTest(ControllerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.node_a = cls.seed.node("recent-a")
        cls.node_b = cls.seed.node("recent-b")
        # 60 runs, oldest first: pings on a and b, a few wipes on a.
        cls.created = []
        for i in range(60):
            if i % 10 == 3:
                body = {"taskName": "disk.wipe", "nodeId": cls.node_a,
                        "params": {"devicePath": "/dev/vd%s" % chr(97 + i // 10)}}
            else:
                body = {"taskName": "node.ping",
                        "nodeId": cls.node_a if i % 2 else cls.node_b}
            resp = cls.api.post("/task/runs", body)
            assert resp.status == 201, resp
            cls.created.append(resp.json)
        # Some terminal states: cancel every 7th.
        cls.canceled = set()
        for run in cls.created[::7]:
            resp = cls.api.request("POST", "/task/run/%s/cancel" % run["id"])
            assert resp.status == 200, resp
            cls.canceled.add(run["id"])
        cls.newest_first = [r["id"] for r in reversed(cls.created)]

    def recent(self, query="", status=200):
        resp = self.api.get("/task/runs/recent" + query)
        if status != 200:
            return self.assertError(resp, status, "bad_request")
        return self.assertJson(resp, 200)

    def test_shape_of_items(self):
        for item in self.recent("?limit=500"):
            self.assertShape(item, shapes.RUN_SUMMARY,
                             shapes.RUN_SUMMARY_EXT, "recent item")

    def test_default_limit_is_50_newest_first(self):
        items = self.recent()
        self.assertEqual([r["id"] for r in items], self.newest_first[:50])

    def test_limit(self):
        for n in (1, 7, 60):
            with self.subTest(limit=n):
                items = self.recent("?limit=%d" % n)
                self.assertEqual([r["id"] for r in items],
                                 self.newest_first[:n])

    def test_limit_max_500(self):
        self.assertEqual(len(self.recent("?limit=500")), 60)

    def test_invalid_limit_is_400(self):
        for bad in ("0", "-1", "501", "100000", "abc", "", "1.5", "5x",
                    "99999999999999999999"):
            with self.subTest(limit=bad):
                self.recent("?limit=" + bad, status=400)

    def test_state_filter(self):
        items = self.recent("?state=canceled&limit=500")
        self.assertEqual({r["id"] for r in items}, self.canceled)
        self.assertTrue(all(r["state"] == "canceled" for r in items))
        pending = self.recent("?state=pending&limit=500")
        self.assertEqual(len(pending), 60 - len(self.canceled))
        self.assertEqual(self.recent("?state=completed"), [])

    def test_task_name_filter(self):
        items = self.recent("?taskName=disk.wipe&limit=500")
        want = [r["id"] for r in reversed(self.created)
                if r["taskName"] == "disk.wipe"]
        self.assertEqual([r["id"] for r in items], want)
        self.assertEqual(len(want), 6)

    def test_node_filter(self):
        items = self.recent("?nodeId=%s&limit=500" % self.node_b)
        want = [r["id"] for r in reversed(self.created)
                if r["nodeId"] == self.node_b]
        self.assertEqual([r["id"] for r in items], want)
        self.assertEqual(self.recent("?nodeId=" + str(uuid.uuid4())), [])

    def test_filters_combine(self):
        items = self.recent("?nodeId=%s&taskName=node.ping&state=pending"
                            "&limit=500" % self.node_a)
        want = [r["id"] for r in reversed(self.created)
                if r["nodeId"] == self.node_a and
                r["taskName"] == "node.ping" and
                r["id"] not in self.canceled]
        self.assertEqual([r["id"] for r in items], want)

    def test_invalid_filters_are_400(self):
        for query in ("?state=done", "?state=", "?state=PENDING",
                      "?nodeId=abc", "?nodeId=", "?before=abc",
                      "?before=", "?taskName=", "?taskName=no%20such",
                      "?bogus=1", "?limit=5&bogus=1", "?limit=1&limit=2",
                      "?state=pending&state=running"):
            with self.subTest(query=query):
                self.recent(query, status=400)

    def test_unknown_task_name_filter_matches_nothing(self):
        self.assertEqual(self.recent("?taskName=disk.format"), [])

    def test_before_unknown_run_is_400(self):
        self.recent("?before=" + str(uuid.uuid4()), status=400)

    def test_paging_covers_every_run_once(self):
        for limit in (1, 7, 25, 60):
            with self.subTest(limit=limit):
                seen = []
                query = "?limit=%d" % limit
                for _ in range(100):
                    page = self.recent(query)
                    self.assertLessEqual(len(page), limit)
                    if not page:
                        break
                    seen += [r["id"] for r in page]
                    query = "?limit=%d&before=%s" % (limit, page[-1]["id"])
                self.assertEqual(seen, self.newest_first)

    def test_link_header_leads_to_next_page(self):
        seen = []
        path = "/task/runs/recent?limit=9&state=pending"
        for _ in range(100):
            resp = self.api.get(path)
            page = self.assertJson(resp, 200)
            seen += [r["id"] for r in page]
            link = resp.header("link")
            if link is None:
                break
            self.assertRegex(link, r'^<[^>]+>; rel="next"$')
            path = link[1:link.index(">")]
            self.assertIn("state=pending", path)
        want = [i for i in self.newest_first if i not in self.canceled]
        self.assertEqual(seen, want)

    def test_no_link_on_last_page(self):
        resp = self.api.get("/task/runs/recent?limit=500")
        self.assertEqual(len(resp.json), 60)
        self.assertIsNone(resp.header("link"))

    def test_paging_with_filter(self):
        seen = []
        query = "?limit=4&nodeId=" + self.node_a
        while True:
            page = self.recent(query)
            if not page:
                break
            seen += [r["id"] for r in page]
            query = "?limit=4&nodeId=%s&before=%s" % (self.node_a,
                                                     page[-1]["id"])
        want = [r["id"] for r in reversed(self.created)
                if r["nodeId"] == self.node_a]
        self.assertEqual(seen, want)

    def test_before_oldest_is_empty(self):
        self.assertEqual(self.recent("?before=" + self.created[0]["id"]), [])

    def test_read_key_lists(self):
        resp = self.ro.get("/task/runs/recent?limit=3")
        self.assertEqual(len(self.assertJson(resp, 200)), 3)


class RecentEmptyTest(ControllerTestCase):
    def test_empty_list_is_empty_array(self):
        resp = self.api.get("/task/runs/recent")
        self.assertEqual(self.assertJson(resp, 200), [])
        self.assertEqual(resp.text.strip(), "[]")


if __name__ == "__main__":
    ntlib.main()
