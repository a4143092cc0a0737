"""ntlib: helpers for nodetask's integration tests.

The tests start the real programs from the build tree named by
NODETASK_BUILD_DIR (ctest sets it) against a private PostgreSQL cluster
started with tests/fixtures/pg.sh, and talk to them over HTTP.

Modules:
  cleanup     process-wide cleanup that also runs on SIGTERM and SIGHUP
  pg          a private PostgreSQL cluster (start, stop, pause, resume)
  controller  the nodetask-controller server and its command line
  http        a small HTTP client returning (status, headers, body)
  seed        nt_seed: nodes, disks and agent events through the store
  case        ControllerTestCase: PostgreSQL + controller + keys per class
"""

import os
import unittest


def source_dir():
    """The repository root (NODETASK_SOURCE_DIR or derived from here)."""
    env = os.environ.get("NODETASK_SOURCE_DIR")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", ".."))


def build_dir():
    """The CMake build directory holding the programs under test."""
    env = os.environ.get("NODETASK_BUILD_DIR")
    if env:
        return env
    return os.path.join(source_dir(), "build")


def main():
    """Runs the calling module's tests verbosely; exits non-zero on failure."""
    unittest.main(module="__main__", verbosity=2)
