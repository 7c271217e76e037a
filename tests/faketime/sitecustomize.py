"""Python's time.sleep for runs under Debian's faketime; loaded by no other run.

tests/conftest.py starts a run under faketime again with this folder on PYTHONPATH and
FAKETIME_DONT_FAKE_MONOTONIC=1 (for itself and every process it starts). With the monotonic
clock left real, libfaketime 0.9.10 still rewrites the absolute deadline of
clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), which Python's time.sleep uses, and the
kernel refuses it with EINVAL; select() with a timeout is not touched, so sleep waits there.
"""

import os
import select
import time

if "faketime" in os.environ.get("LD_PRELOAD", "") and os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1":

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            select.select([], [], [], left)

    time.sleep = _sleep
