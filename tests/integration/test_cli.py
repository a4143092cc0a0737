"""nodetask-controller's command line: keys, tokens, migrate, options."""

import os
import re
import tempfile
import time

import ntlib
from ntlib.case import ControllerTestCase
from ntlib.controller import run_cli

KEY_RE = re.compile(r"^ntk_[0-9a-f]{64}\n$")


class CliTest(ControllerTestCase):
    def cli(self, *args, **kw):
        return self.ctl.cli(*args, **kw)

    def assertUsageError(self, proc):
        """Exit 2, one line on stderr, nothing on stdout."""
        self.assertEqual(proc.returncode, 2, proc)
        self.assertEqual(proc.stdout, "", proc)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertTrue(lines[0].strip())

    # ---- keys ------------------------------------------------------------

    def test_key_create_prints_only_the_key(self):
        proc = self.cli("key", "create", "--name", "k-only", "--scope",
                        "admin")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, KEY_RE)
        key = proc.stdout.strip()
        # The key works, with admin scope.
        client = self.ctl.client(key)
        self.assertEqual(client.get("/task/runs/recent").status, 200)
        resp = client.post("/task/runs", {"taskName": "nope",
                                          "nodeId": "x"})
        self.assertEqual(resp.status, 400, resp)
        # Only a hash is stored.
        rows = self.pg.psql("SELECT hash FROM api_keys WHERE name = 'k-only'")
        self.assertEqual(len(rows), 1)
        self.assertNotIn(key, rows[0][0])
        self.assertNotIn(key[4:], rows[0][0])

    def test_read_key_scope(self):
        key = self.ctl.create_key("k-read", "read")
        client = self.ctl.client(key)
        self.assertEqual(client.get("/nodes").status, 200)
        self.assertEqual(client.post("/task/runs", {}).status, 403)

    def test_keys_are_distinct(self):
        a = self.ctl.create_key("k-a", "read")
        b = self.ctl.create_key("k-b", "read")
        self.assertNotEqual(a, b)

    def test_duplicate_name_fails(self):
        self.ctl.create_key("k-dup", "read")
        proc = self.cli("key", "create", "--name", "k-dup", "--scope",
                        "admin")
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout, "")
        self.assertIn("k-dup", proc.stderr)

    def test_key_list(self):
        key = self.ctl.create_key("k-listed", "admin")
        proc = self.cli("key", "list")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = [line for line in proc.stdout.splitlines()
                 if line.split()[:1] == ["k-listed"]]
        self.assertEqual(len(lines), 1, proc.stdout)
        self.assertIn("admin", lines[0].split())
        self.assertIn("it-read", proc.stdout)
        self.assertNotIn(key, proc.stdout)
        self.assertNotIn(key[4:20], proc.stdout)

    def test_key_revoke_makes_the_key_401(self):
        key = self.ctl.create_key("k-revoked", "admin")
        client = self.ctl.client(key)
        self.assertEqual(client.get("/nodes").status, 200)
        proc = self.cli("key", "revoke", "k-revoked")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, "")
        # The controller caches key lookups for at most 5 s
        # (controller/http_auth.h); after that the key is refused.
        start = time.monotonic()
        resp = self.wait_for(
            lambda: (lambda r: r if r.status != 200 else None)(
                client.get("/nodes")), timeout=10, interval=0.2,
            what="the revoked key to be refused")
        self.assertLess(time.monotonic() - start, 7.0)
        self.assertError(resp, 401, "unauthorized")
        # Listed as revoked; the name can be used again.
        listing = self.cli("key", "list").stdout
        line = [ln for ln in listing.splitlines()
                if ln.startswith("k-revoked ")]
        self.assertEqual(len(line), 1, listing)
        self.assertRegex(line[0], r"\d{4}-\d\d-\d\dT.*\d{4}-\d\d-\d\dT")
        again = self.ctl.create_key("k-revoked", "read")
        self.assertEqual(self.ctl.client(again).get("/nodes").status, 200)
        self.assertEqual(client.get("/nodes").status, 401)

    def test_key_revoke_unknown_fails(self):
        proc = self.cli("key", "revoke", "no-such-key")
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn("no-such-key", proc.stderr)

    # ---- usage errors ----------------------------------------------------

    def test_bad_options_exit_2_with_one_line(self):
        cases = [
            ["--bogus"],
            ["--db"],
            ["--http", "not-an-address"],
            ["--http", "127.0.0.1:99999"],
            ["--http", "127.0.0.1:"],
            ["--agents", ""],
            ["--log-level", "loud"],
            ["--http-threads", "0"],
            ["--http-threads", "many"],
            ["--question-ttl", "soon"],
            ["key", "create", "--name", "x"],
            ["key", "create", "--scope", "admin"],
            ["key", "create", "--name", "x", "--scope", "root"],
            ["key", "create", "--name", "", "--scope", "read"],
            ["key", "revoke"],
            ["key", "frobnicate"],
            ["frobnicate"],
            ["node", "token", "create", "--ttl", "forever"],
            ["migrate", "--name", "x"],
            ["migrate", "extra"],
        ]
        for args in cases:
            with self.subTest(args=args):
                self.assertUsageError(self.cli(*args))

    def test_no_database_is_a_usage_error(self):
        proc = run_cli(["key", "list"])
        self.assertUsageError(proc)
        self.assertIn("NODETASK_DB", proc.stderr)

    def test_help(self):
        proc = run_cli(["--help"])
        self.assertEqual(proc.returncode, 0)
        for word in ("--config", "--db", "--http", "--agents", "migrate",
                     "key create", "key list", "key revoke",
                     "node token create", "NODETASK_DB"):
            self.assertIn(word, proc.stdout)

    # ---- database settings -----------------------------------------------

    def test_nodetask_db_environment(self):
        proc = run_cli(["key", "create", "--name", "k-env", "--scope",
                        "read"], env={"NODETASK_DB": self.db})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, KEY_RE)

    def test_db_option_beats_environment(self):
        proc = run_cli(["--db", self.db, "key", "list"],
                       env={"NODETASK_DB": "host=/nonexistent dbname=x"})
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_config_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf",
                                         delete=False) as f:
            f.write("# nodetask test\n\ndb = %s\nlog-level = warn\n"
                    % self.db)
        try:
            proc = run_cli(["--config", f.name, "key", "list"])
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("it-admin", proc.stdout)
        finally:
            os.unlink(f.name)

    def test_bad_config_file_exit_2(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf",
                                         delete=False) as f:
            f.write("db = %s\nno-such-setting = 1\n" % self.db)
        try:
            self.assertUsageError(run_cli(["--config", f.name, "key",
                                           "list"]))
            self.assertUsageError(run_cli(["--config", f.name + ".missing",
                                           "key", "list"]))
        finally:
            os.unlink(f.name)

    def test_unreachable_database_fails(self):
        proc = run_cli(["--db", "host=127.0.0.1 port=1 dbname=x "
                        "connect_timeout=2", "key", "list"], timeout=60)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertEqual(proc.stdout, "")

    # ---- migrate, tokens -------------------------------------------------

    def test_migrate_is_idempotent(self):
        version = self.pg.psql("SELECT count(*) FROM pg_tables WHERE "
                               "schemaname = 'public'")
        for _ in range(2):
            proc = self.cli("migrate")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(proc.stdout, "")
        self.assertEqual(self.pg.psql("SELECT count(*) FROM pg_tables "
                                      "WHERE schemaname = 'public'"),
                         version)
        self.assertEqual(self.api.get("/task/runs/recent").status, 200)

    def test_migrate_fresh_database(self):
        self.pg.psql("CREATE DATABASE fresh_migrate")
        fresh = self.db + " dbname=fresh_migrate"
        proc = run_cli(["migrate"], db=fresh)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        tables = {r[0] for r in self.pg.psql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        self.assertTrue({"nodes", "disks", "task_runs", "task_logs",
                         "task_questions", "api_keys",
                         "audit_log"} <= tables, tables)
        proc = run_cli(["migrate"], db=fresh)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_node_token_create(self):
        proc = self.cli("node", "token", "create", "--ttl", "10m")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"^nte_[0-9a-f]{64}\n$")
        token = proc.stdout.strip()
        rows = self.pg.psql("SELECT hash FROM enroll_tokens")
        self.assertTrue(rows)
        self.assertFalse(any(token[4:] in r[0] for r in rows))


if __name__ == "__main__":
    ntlib.main()
