"""Opinion groups' budget: recomputing a big thread, and what recomputing costs the vote path.

    uv run python -m tests.bench_opinions cpu [--participants 2000] [--answers 500] [--density 1.0]
    uv run python -m tests.bench_opinions votes [--seconds 10]

`cpu` builds a synthetic thread (three camps of voters, every participant voting on a `density` share
of the answers) and prints the CPU time of one recomputation as the worker process runs it (one
computing thread, scikit-learn already loaded): vote matrix, PCA, clustering, group statistics,
payload; median of five runs. Budget: under 1 s for 2,000 participants x 500 answers.

`votes` runs the vote benchmark (tests.bench_votes, wrk against `board serve`) twice on the same
machine, both with BOARD_OPINIONS_INTERVAL=0.5: once with nobody asking for the opinion groups (none
is computed), once with a projector-like reader asking for the groups of the thread the benchmark
votes on (5,000 voters x 50 answers) 4 times a second, so that it is recomputed every 0.5 s while the
votes arrive. It prints both reports and how many computations the reader saw: compare their ratios
to a bare GET /healthz.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from typing import Any

import numpy as np


def synthetic(participants: int, answers: int, density: float, seed: int = 0) -> list[tuple[str, int, int]]:
    rng = np.random.default_rng(seed)
    camp = rng.integers(0, 3, participants)
    leaning = rng.choice([-1, 1], size=(3, answers))
    votes = []
    for p in range(participants):
        voted = np.flatnonzero(rng.random(answers) < density)
        agree = rng.random(len(voted)) < 0.8
        for a, same in zip(voted, agree, strict=True):
            value = int(leaning[camp[p], a]) * (1 if same else -1)
            votes.append((f"p{p:05d}", int(a) + 1, value))
    return votes


def cpu(args: argparse.Namespace) -> None:
    from board.domain import opinions

    opinions.warm_up()
    votes = synthetic(args.participants, args.answers, args.density)
    answers = list(range(1, args.answers + 1))
    state = None
    runs = []
    for _ in range(5):
        started = time.process_time()
        _, state, members = opinions.compute(votes, answers, state, "")
        runs.append(time.process_time() - started)
    print(
        f"{args.participants} participants x {args.answers} answers, {len(votes):,} votes: "
        f"recomputation {statistics.median(runs):.3f} s CPU (median of 5; min {min(runs):.3f}, "
        f"max {max(runs):.3f}); {len(set(members.values()))} groups"
    )


def votes_under_load(args: argparse.Namespace) -> None:
    """bench_votes twice; in the second run a projector-like reader asks for the groups 4 times a second."""
    import os
    import re
    import subprocess
    import threading

    import httpx

    command = [sys.executable, "-u", "-m", "tests.bench_votes", "--seconds", str(args.seconds)]
    failed = False
    for watched in (False, True):
        label = "watched: recomputed every 0.5 s" if watched else "nobody looks at the opinion groups"
        print(f"== vote benchmark, {label}", flush=True)
        env = {**os.environ, "BOARD_OPINIONS_INTERVAL": "0.5"}
        bench = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        stop = threading.Event()
        readers: list[threading.Thread] = []
        base = ""
        assert bench.stdout is not None
        for line in bench.stdout:
            print(line, end="", flush=True)
            found = re.match(r"server: (http://\S+)", line)
            if found:
                base = found.group(1)
            prepared = re.match(r"prepared: .* on thread (\d+)", line)
            if prepared and watched:
                reader = threading.Thread(
                    target=_watch, args=(base, int(prepared.group(1)), stop, httpx), daemon=True
                )
                reader.start()
                readers.append(reader)
        stop.set()
        for reader in readers:
            reader.join()
        failed = bench.wait() != 0 or failed
    if failed:
        sys.exit("a vote benchmark run missed a budget: see its report above")


def _watch(url: str, thread_id: int, stop: threading.Event, httpx: Any) -> None:
    computed = set()
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.wait(0.25):
            try:
                response = client.get(f"/api/threads/{thread_id}/opinions")
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                computed.add(response.content)
    print(f"   (the reader saw {len(computed)} different results)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    c = sub.add_parser("cpu")
    c.add_argument("--participants", type=int, default=2000)
    c.add_argument("--answers", type=int, default=500)
    c.add_argument("--density", type=float, default=1.0)
    c.set_defaults(run=cpu)
    v = sub.add_parser("votes")
    v.add_argument("--seconds", type=int, default=10)
    v.set_defaults(run=votes_under_load)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
