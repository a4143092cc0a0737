"""ControllerTestCase: a private PostgreSQL, a running controller, keys.

Each test class gets its own cluster and controller (setUpClass) and an
admin and a read key. Everything is torn down after the class, also when
setUpClass or a test fails; the controller must then exit 0 on SIGTERM
with no sanitizer report, else the class errors. When any test of the
class failed, the controller's log is printed.
"""

import sys
import time
import unittest

from . import shapes
from .controller import Controller
from .pg import PgCluster
from .seed import Seeder


class TracksFailures(unittest.TestCase):
    """Sets cls._failed when any test of the class fails, so class
    cleanups know to print the programs' logs."""

    _failed = False

    def run(self, result=None):
        before = None
        if result is not None:
            before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if result is not None and \
                len(result.failures) + len(result.errors) != before:
            type(self)._failed = True
        return out


class ControllerTestCase(TracksFailures):
    # Extra command-line arguments for the controller (subclasses).
    controller_args = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._failed = False
        cls.ctl = None
        cls.pg = PgCluster()
        cls.addClassCleanup(cls.pg.stop)
        cls.pg.start()
        cls.db = cls.pg.conninfo
        cls.ctl = Controller(cls.db, cls.controller_args,
                             name="%s.%s" % (cls.__module__, cls.__name__))
        cls.addClassCleanup(cls._dump_log_if_failed)
        cls.addClassCleanup(cls.ctl.close)
        try:
            cls.ctl.start()
        except Exception:
            cls._failed = True
            raise
        cls.admin_key = cls.ctl.create_key("it-admin", "admin")
        cls.read_key = cls.ctl.create_key("it-read", "read")
        cls.api = cls.ctl.client(cls.admin_key)
        cls.ro = cls.ctl.client(cls.read_key)
        cls.anon = cls.ctl.client(None)
        cls.seed = Seeder(cls.db)

    @classmethod
    def tearDownClass(cls):
        # A clean exit on SIGTERM is part of every class's checks.
        if cls.ctl is not None and cls.ctl.running():
            try:
                cls.ctl.stop()
            except Exception:
                cls._failed = True
                raise
        super().tearDownClass()

    @classmethod
    def _dump_log_if_failed(cls):
        if cls._failed and cls.ctl is not None:
            sys.stderr.write("\n==== controller log (%s) ====\n%s"
                             "==== end of controller log ====\n"
                             % (cls.ctl.log_path, cls.ctl.log_text()))

    # ---- assertions ------------------------------------------------------

    def assertShape(self, obj, required, optional=None, what="object"):
        problems = shapes.check(obj, required, optional)
        if problems:
            self.fail("%s has the wrong shape: %s\n%r"
                      % (what, "; ".join(problems), obj))

    def assertJson(self, resp, status):
        """resp has this status and a JSON body; returns the body."""
        self.assertEqual(resp.status, status, resp)
        ctype = resp.header("content-type", "")
        self.assertTrue(ctype.startswith("application/json"),
                        "Content-Type %r: %r" % (ctype, resp))
        self.assertIsNotNone(resp.json, "body is not JSON: %r" % resp)
        return resp.json

    def assertError(self, resp, status, code):
        """resp is an error: status, exactly {"error", "message"}."""
        body = self.assertJson(resp, status)
        self.assertShape(body, shapes.ERROR, what="error body")
        self.assertEqual(body["error"], code, resp)
        self.assertTrue(body["message"].strip(), "empty message: %r" % resp)
        return body

    def assertTime(self, value):
        self.assertRegex(value or "", shapes.TIME_RE)

    # ---- helpers ---------------------------------------------------------

    def new_node(self, hostname=None, **kw):
        return self.seed.node(hostname, **kw)

    def create_run(self, node_id, task="node.ping", params=None,
                   headers=None, client=None):
        """POST /task/runs; asserts 201; returns the run."""
        body = {"taskName": task, "nodeId": node_id}
        if params is not None:
            body["params"] = params
        resp = (client or self.api).post("/task/runs", body,
                                         headers=headers)
        return self.assertJson(resp, 201)

    def get_run(self, run_id):
        return self.assertJson(self.api.get("/task/run/" + run_id), 200)

    def wait_for(self, fn, timeout=10.0, interval=0.1, what="condition"):
        """Polls fn until it returns a true value; returns that value."""
        deadline = time.monotonic() + timeout
        while True:
            value = fn()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail("timed out after %.0f s waiting for %s"
                          % (timeout, what))
            time.sleep(interval)
