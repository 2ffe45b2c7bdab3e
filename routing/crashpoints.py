"""Named points where the crash tests kill the worker (SIGKILL), to prove recovery from each of them.

Inert unless ORDERRAIL_CRASH_AT names the point: production never sets it. Only the test suite does, for a
`qcluster` process it starts and kills on purpose.
"""

from __future__ import annotations

import os
import signal


def crashpoint(name: str) -> None:
    if os.environ.get("ORDERRAIL_CRASH_AT") == name:
        marker = os.environ.get("ORDERRAIL_CRASH_MARKER")
        if marker:
            if os.path.exists(marker):  # crash once: the restarted worker must get past this point
                return
            with open(marker, "w") as fh:
                fh.write(name)
        os.kill(os.getpid(), signal.SIGKILL)
