"""Stop signals in the CLIs (errors.handle_interrupts): where one may land."""
from __future__ import annotations

import subprocess
import sys

from helpers import REPO

DEFERRED = """
import os, signal
from posenet_port.errors import deferred_interrupts, handle_interrupts

handle_interrupts()
reached = False
try:
    with deferred_interrupts():
        os.kill(os.getpid(), signal.{name})
        total = sum(range(100_000))  # Python runs the handler between bytecodes: here, inside the block
        reached = True
except KeyboardInterrupt:
    print("raised after the block" if reached else "raised inside the block")
"""


def test_a_stop_signal_inside_a_deferred_block_is_raised_as_the_block_ends():
    """The demo hands frames to its encoding thread inside such a block: a KeyboardInterrupt raised inside
    queue.put left the encoder unwoken and the clean-up waiting for it forever."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        result = subprocess.run([sys.executable, "-c", DEFERRED.format(name=name)], capture_output=True, text=True,
                                cwd=REPO, timeout=120)
        assert result.stdout.strip() == "raised after the block", (name, result.stdout, result.stderr[-2000:])
