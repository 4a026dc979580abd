"""The worker process that computes opinion groups lives no longer than the process that started it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

PARENT = """
import os
from board.domain import opinion_groups
print(opinion_groups._WORKER.get().submit(os.getpid).result(), flush=True)
os._exit(0)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[1].split()[0] != "Z"


def test_a_parent_that_dies_without_cleaning_up_takes_its_opinion_worker_with_it(tmp_path: Path) -> None:
    printed = tmp_path / "child.pid"
    with printed.open("w") as out:
        subprocess.run([sys.executable, "-c", PARENT], stdout=out, timeout=120, check=True)
    child = int(printed.read_text().strip())
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child), "the opinion worker outlived its parent"
