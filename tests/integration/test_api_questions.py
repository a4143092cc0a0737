"""GET /task/questions/pending and POST /task/question/{id}/answer."""

import time
import uuid

import ntlib
from ntlib import shapes
from ntlib.case import ControllerTestCase

PROMPT = "Disk /dev/sdb contains existing data. Proceed with wipe?"


class QuestionsTest(ControllerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.node = cls.seed.node("asker")
        cls.devices = iter("/dev/vd%s%s" % (a, b) for a in "abcdefgh"
                           for b in "abcdefghijklmnopqrstuvwxyz")

    def ask(self, options=("yes", "no"), prompt=PROMPT, ttl_ms=None):
        """A running disk.wipe run with an open question: (run, qid)."""
        run = self.create_run(self.node, "disk.wipe",
                              {"devicePath": next(self.devices)})
        self.assertEqual(self.seed.started(self.node, run["id"]), "stored")
        qid = self.seed.question(self.node, run["id"], 2, prompt,
                                 list(options), ttl_ms=ttl_ms)
        return run, qid

    def pending(self, client=None):
        resp = (client or self.api).get("/task/questions/pending")
        return self.assertJson(resp, 200)

    def answer(self, qid, body, client=None):
        return (client or self.api).post("/task/question/%s/answer" % qid,
                                         body)

    def test_pending_shape(self):
        run, qid = self.ask()
        items = [q for q in self.pending() if q["id"] == qid]
        self.assertEqual(len(items), 1)
        q = items[0]
        self.assertShape(q, shapes.QUESTION, shapes.QUESTION_EXT,
                         "question")
        self.assertEqual(q["runId"], run["id"])
        self.assertEqual(q["taskName"], "disk.wipe")
        self.assertEqual(q["prompt"], PROMPT)
        self.assertEqual(q["options"], ["yes", "no"])
        # The run points at its open question.
        self.assertEqual(self.get_run(run["id"])["pendingQuestionId"], qid)

    def test_pending_oldest_first(self):
        _, q1 = self.ask()
        _, q2 = self.ask()
        ids = [q["id"] for q in self.pending()]
        self.assertLess(ids.index(q1), ids.index(q2))

    def test_answer_flow(self):
        run, qid = self.ask()
        resp = self.answer(qid, {"answer": "yes"})
        self.assertEqual(self.assertJson(resp, 200), {"status": "answered"})
        self.assertNotIn(qid, [q["id"] for q in self.pending()])
        self.assertIsNone(self.get_run(run["id"])["pendingQuestionId"])
        # Answering twice is a conflict, with either answer.
        self.assertError(self.answer(qid, {"answer": "yes"}), 409,
                         "conflict")
        self.assertError(self.answer(qid, {"answer": "no"}), 409,
                         "conflict")
        # Who answered and when is recorded.
        rows = self.pg.psql("SELECT state, answer, answered_by, "
                            "answered_at IS NOT NULL FROM task_questions "
                            "WHERE id = :'p1'", qid)
        self.assertEqual(rows, [["answered", "yes", "it-admin", "t"]])

    def test_answer_not_an_option_is_400(self):
        _, qid = self.ask()
        for answer in ("maybe", "YES", "yes ", "", "y"):
            with self.subTest(answer=answer):
                self.assertError(self.answer(qid, {"answer": answer}), 400,
                                 "bad_request")
        # Still open and answerable.
        self.assertIn(qid, [q["id"] for q in self.pending()])
        self.assertEqual(self.answer(qid, {"answer": "no"}).status, 200)

    def test_answer_missing_or_wrong_type_is_400(self):
        _, qid = self.ask()
        for body in ({}, {"answer": None}, {"answer": 1},
                     {"answer": ["yes"]}, {"answer": True}, [], "yes",
                     {"answer": "yes", "extra": 1}, {"Answer": "yes"}):
            with self.subTest(body=body):
                self.assertError(self.answer(qid, body), 400, "bad_request")
        for raw in (b"", b"{", b"yes", b'{"answer": "yes"'):
            with self.subTest(raw=raw):
                resp = self.api.request(
                    "POST", "/task/question/%s/answer" % qid, raw=raw)
                self.assertError(resp, 400, "bad_request")
        self.assertIn(qid, [q["id"] for q in self.pending()])

    def test_custom_options(self):
        _, qid = self.ask(options=("abort", "retry", "ignore"),
                          prompt="Device busy. What now?")
        q = [q for q in self.pending() if q["id"] == qid][0]
        self.assertEqual(q["options"], ["abort", "retry", "ignore"])
        self.assertError(self.answer(qid, {"answer": "yes"}), 400,
                         "bad_request")
        self.assertEqual(self.answer(qid, {"answer": "retry"}).status, 200)

    def test_unknown_question_is_404(self):
        self.assertError(self.answer(str(uuid.uuid4()), {"answer": "yes"}),
                         404, "not_found")

    def test_answer_with_read_key_is_403(self):
        _, qid = self.ask()
        self.assertError(self.answer(qid, {"answer": "yes"}, self.ro), 403,
                         "forbidden")
        self.assertIn(qid, [q["id"] for q in self.pending(self.ro)])

    def test_answer_after_run_finished_is_409(self):
        run, qid = self.ask()
        self.seed.finished(self.node, run["id"], 3, "failed", "gave up")
        self.assertNotIn(qid, [q["id"] for q in self.pending()])
        self.assertError(self.answer(qid, {"answer": "yes"}), 409,
                         "conflict")

    def test_answer_after_cancel_is_409(self):
        run, qid = self.ask()
        resp = self.api.request("POST", "/task/run/%s/cancel" % run["id"])
        self.assertEqual(resp.status, 200, resp)
        self.assertNotIn(qid, [q["id"] for q in self.pending()])
        self.assertIsNone(self.get_run(run["id"])["pendingQuestionId"])
        self.assertError(self.answer(qid, {"answer": "yes"}), 409,
                         "conflict")

    def test_expired_question_is_409(self):
        run, qid = self.ask(ttl_ms=1)
        time.sleep(0.2)
        self.assertError(self.answer(qid, {"answer": "yes"}), 409,
                         "conflict")
        # The engine expires it: the run fails saying so.
        got = self.wait_for(
            lambda: (lambda r: r if r["state"] == "failed" else None)(
                self.get_run(run["id"])), timeout=15, what="run to fail")
        self.assertIn("expire", got["error"])
        self.assertNotIn(qid, [q["id"] for q in self.pending()])

    def test_resent_question_is_a_noop(self):
        run, qid = self.ask()
        out = self.seed.event(self.node, run["id"], 2, "question", qid,
                              PROMPT, "yes", "no", check=False)
        self.assertEqual(out, "duplicate")
        self.assertEqual([q["id"] for q in self.pending()].count(qid), 1)


if __name__ == "__main__":
    ntlib.main()
