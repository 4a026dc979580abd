"""How well the similar-answers threshold separates rephrasings from other answers, on real debate text.

    uv run python -m tests.bench_similar [--thresholds 0.35,0.4,0.45,0.5]

Threads are the six Polis open-data conversations (/work/shared/data/polis-open, or --data; CC BY 4.0,
The Computational Democracy Project) and the French answers of tests/data/similar_drafts.toml. Drafts:
  - rephrasings, written by hand, of 36 answers (tests/data/similar_drafts.toml): the right suggestion
    is that answer;
  - 40 real answers per conversation (all for the French thread), each taken out of its thread and typed
    as a draft: any suggestion counts as wrong, although some are real near-duplicates in Polis;
  - tiny threads of 2 answers from one conversation, with a draft from another: any suggestion is wrong.
Precision is right suggestions over all suggestions; recall, rephrasings whose answer is suggested.
"""

from __future__ import annotations

import argparse
import csv
import random
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from board.domain.similar import ThreadIndex

ROOT = Path(__file__).resolve().parent.parent
DRAFTS = ROOT / "tests" / "data" / "similar_drafts.toml"
POLIS = Path("/work/shared/data/polis-open")


@dataclass(frozen=True)
class Case:
    index: ThreadIndex
    draft: str
    target: int | None


def published(folder: Path) -> dict[int, str]:
    with (folder / "comments.csv").open(newline="") as rows:
        return {
            int(r["comment-id"]): r["comment-body"].strip()
            for r in csv.DictReader(rows)
            if r["moderated"] == "1" and r["comment-body"].strip()
        }


def held_out(ids: list[int], bodies: dict[int, str], picked: list[int]) -> list[Case]:
    cases = []
    for left in picked:
        rest = [i for i in ids if i != left]
        cases.append(Case(ThreadIndex.fit(rest, [bodies[i] for i in rest]), bodies[left], None))
    return cases


def build(data: Path, seed: int = 1) -> tuple[list[Case], list[Case]]:
    fixture = tomllib.loads(DRAFTS.read_text())
    rnd = random.Random(seed)
    cases: list[Case] = []
    conversations: dict[str, dict[int, str]] = {}
    for entry in fixture["english"]:
        conversations.setdefault(entry["conversation"], published(data / entry["conversation"]))
    for name, bodies in conversations.items():
        ids = sorted(bodies)
        index = ThreadIndex.fit(ids, [bodies[i] for i in ids])
        cases += [
            Case(index, e["draft"], e["target"]) for e in fixture["english"] if e["conversation"] == name
        ]
        cases += held_out(ids, bodies, rnd.sample(ids, min(40, len(ids))))
    french = fixture["french"][0]
    answers = dict(enumerate(french["answers"]))
    ids = sorted(answers)
    index = ThreadIndex.fit(ids, [answers[i] for i in ids])
    cases += [Case(index, d["draft"], d["target"]) for d in french["drafts"]]
    cases += held_out(ids, answers, ids)
    tiny: list[Case] = []
    names = sorted(conversations)
    for _ in range(400):
        home, other = rnd.sample(names, 2)
        two = rnd.sample(sorted(conversations[home]), 2)
        draft = conversations[other][rnd.choice(sorted(conversations[other]))]
        tiny.append(Case(ThreadIndex.fit(two, [conversations[home][i] for i in two]), draft, None))
    return cases, tiny


def measure(cases: list[Case], threshold: float, small: float | None = None) -> tuple[int, int, int, int]:
    """(right suggestions, wrong suggestions, rephrasings found, rephrasings); `small`: the threshold of
    threads under SMALL_THREAD answers (default: the board's own)."""
    import board.domain.similar as similar

    similar.THRESHOLD = threshold
    similar.SMALL_THRESHOLD = chosen_small if small is None else small
    right = wrong = found = rephrasings = 0
    for case in cases:
        picked = [answer_id for answer_id, _ in case.index.closest(case.draft)]
        right += sum(1 for p in picked if p == case.target)
        wrong += sum(1 for p in picked if p != case.target)
        if case.target is not None:
            rephrasings += 1
            found += case.target in picked
    return right, wrong, found, rephrasings


chosen_small = 0.0


def main() -> None:
    global chosen_small
    import board.domain.similar as similar

    chosen_small = similar.SMALL_THRESHOLD

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=POLIS)
    parser.add_argument("--thresholds", default="0.35,0.4,0.45,0.5,0.55")
    args = parser.parse_args()
    chosen = similar.THRESHOLD
    cases, tiny = build(args.data)
    print(
        f"{len(cases)} drafts on {len({id(c.index) for c in cases})} threads; {len(tiny)} drafts on 2-answer threads"
    )
    for threshold in [float(t) for t in args.thresholds.split(",")]:
        right, wrong, found, rephrasings = measure(cases, threshold)
        _, tiny_wrong, _, _ = measure(tiny, threshold, small=threshold)
        mark = "  <- THRESHOLD" if abs(threshold - chosen) < 1e-9 else ""
        print(
            f"threshold {threshold:.2f}: precision {right / max(1, right + wrong):.2f} ({right}/{right + wrong}),"
            f" recall {found / rephrasings:.2f} ({found}/{rephrasings}),"
            f" wrong on 2-answer threads at the same threshold {tiny_wrong}/{len(tiny)}{mark}"
        )
    _, tiny_wrong, _, _ = measure(tiny, chosen)
    print(
        f"2-answer threads at the board's threshold for small threads ({chosen_small}): {tiny_wrong}/{len(tiny)} wrong"
    )
    similar.THRESHOLD = chosen
    index = ThreadIndex.fit(list(range(500)), [cases[i % len(cases)].draft + f" {i}" for i in range(500)])
    started = time.perf_counter()
    for case in cases[:200]:
        index.closest(case.draft)
    per_draft = (time.perf_counter() - started) / 200 * 1000
    started = time.perf_counter()
    ThreadIndex.fit(list(range(500)), [cases[i % len(cases)].draft + f" {i}" for i in range(500)])
    print(
        f"cost: {per_draft:.2f} ms per draft against 500 answers; fitting 500 answers {(time.perf_counter() - started) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
