"""Cleanup that runs however the test process ends.

Every resource a test starts (a PostgreSQL cluster, a controller process,
a temporary directory) registers an undo function here. The functions run
in reverse order at interpreter exit, and SIGTERM/SIGHUP are turned into
SystemExit so that finally blocks and atexit run too (a CI or a user
stopping the run). Undo functions must be idempotent: the
normal teardown path usually calls them first.
"""

import atexit
import signal
import sys
import threading
import traceback

_lock = threading.Lock()
_undo = []
_installed = False


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def _install():
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(run_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _on_signal)


def register(fn):
    """Registers fn (no arguments) to run at exit; returns a handle."""
    with _lock:
        _install()
        _undo.append(fn)
    return fn


def unregister(fn):
    """Forgets fn (after the caller ran it itself)."""
    with _lock:
        try:
            _undo.remove(fn)
        except ValueError:
            pass


def run_all():
    """Runs every registered function, newest first, reporting errors."""
    while True:
        with _lock:
            if not _undo:
                return
            fn = _undo.pop()
        try:
            fn()
        except Exception:  # keep cleaning up the rest
            sys.stderr.write("cleanup failed:\n" + traceback.format_exc())
