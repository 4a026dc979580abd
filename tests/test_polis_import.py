"""`board import polis` and `board opinions` as an organiser runs them, on a real Pol.is conversation.

The fixture is tests/fixtures/polis/brexit-consensus (CC BY 4.0, The Computational Democracy Project).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score

from tests.compare_polis import polis_groups
from tests.test_cli import (
    Cli,
    cli,  # noqa: F401  (the operator's shell, as test_cli runs it)
)
from tests.test_opinion_groups import AGREEMENT_FLOOR, BREXIT


@pytest.fixture
def board_cli(cli: Cli) -> Cli:  # noqa: F811
    return cli


def standing_passes() -> int:
    """Voters whose last word on a comment was a pass, straight from the file."""
    last: dict[tuple[str, str], tuple[int, int]] = {}
    with (BREXIT / "votes.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            key = (row["voter-id"], row["comment-id"])
            if key not in last or int(row["timestamp"]) >= last[key][0]:
                last[key] = (int(row["timestamp"]), int(row["vote"]))
    return sum(1 for _, v in last.values() if v == 0)


def expected() -> tuple[dict[str, int], int, set[int]]:
    """Straight from the files: comments by moderation status, standing votes, voters."""
    with (BREXIT / "comments.csv").open(encoding="utf-8") as handle:
        comments = list(csv.DictReader(handle))
    statuses = {"-1": "hidden", "0": "pending"}
    by_status: dict[str, int] = {}
    for c in comments:
        status = statuses.get(c["moderated"], "published")
        by_status[status] = by_status.get(status, 0) + 1
    last: dict[tuple[str, str], tuple[int, int]] = {}
    with (BREXIT / "votes.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            key = (row["voter-id"], row["comment-id"])
            if key not in last or int(row["timestamp"]) >= last[key][0]:
                last[key] = (int(row["timestamp"]), int(row["vote"]))
    votes = sum(1 for _, v in last.values() if v != 0)
    voters = {int(v) for v, _ in last}
    return by_status, votes, voters


def in_db(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "board.sqlite3") as db:
        return list(db.execute(sql))


def test_a_conversation_becomes_one_event_with_its_comments_voters_and_last_votes(
    board_cli: Cli, tmp_path: Path
) -> None:
    ran = board_cli(
        "import", "polis", str(BREXIT), "--event", "brexit", "--title", "Brexit : ce qui rassemble"
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "", "quiet when piped"
    by_status, votes, voters = expected()
    assert in_db(tmp_path, "SELECT slug, title FROM event WHERE slug = 'brexit'") == [
        ("brexit", "Brexit : ce qui rassemble")
    ]
    assert dict(in_db(tmp_path, "SELECT status, count(*) FROM answer GROUP BY status")) == by_status
    assert in_db(tmp_path, "SELECT count(*) FROM vote") == [(votes,)]
    assert in_db(tmp_path, "SELECT count(*) FROM vote WHERE value NOT IN (1, -1)") == [(0,)]
    externals = {e for (e,) in in_db(tmp_path, "SELECT external_id FROM participant")}
    assert {f"polis:{v}" for v in voters} <= externals
    agree, disagree = in_db(tmp_path, "SELECT sum(agree), sum(disagree) FROM answer")[0]
    assert agree + disagree == votes


def test_importing_again_changes_nothing(board_cli: Cli, tmp_path: Path) -> None:
    assert board_cli("import", "polis", str(BREXIT), "--event", "brexit").returncode == 0
    tables = ["event", "thread", "participant", "answer", "vote", "importedpass"]
    before = {t: in_db(tmp_path, f"SELECT count(*) FROM {t}") for t in tables}
    again = board_cli("import", "polis", str(BREXIT), "--event", "brexit")
    assert again.returncode == 0, again.stderr
    assert {t: in_db(tmp_path, f"SELECT count(*) FROM {t}") for t in tables} == before


def test_passes_are_kept_aside_for_the_opinion_groups_and_counted_nowhere(
    board_cli: Cli, tmp_path: Path
) -> None:
    assert board_cli("import", "polis", str(BREXIT), "--event", "brexit").returncode == 0
    _, votes, _ = expected()
    assert standing_passes() > 100
    assert in_db(tmp_path, "SELECT count(*) FROM importedpass") == [(standing_passes(),)]
    assert in_db(
        tmp_path,
        "SELECT count(*) FROM importedpass p JOIN vote v"
        " ON v.answer_id = p.answer_id AND v.participant_id = p.participant_id",
    ) == [(0,)]
    assert in_db(tmp_path, "SELECT sum(agree) + sum(disagree) FROM answer") == [(votes,)]


def test_retention_forgets_the_passes_with_the_people(board_cli: Cli, tmp_path: Path) -> None:
    assert board_cli("import", "polis", str(BREXIT), "--event", "brexit").returncode == 0
    with sqlite3.connect(tmp_path / "board.sqlite3") as db:
        db.execute(
            "UPDATE event SET status = 'closed', closed_at = '2020-01-01 00:00:00', retention_days = 0"
            " WHERE slug = 'brexit'"
        )
    ran = board_cli("retention", "apply", "--event", "brexit")
    assert ran.returncode == 0, ran.stderr
    assert in_db(tmp_path, "SELECT count(*) FROM vote") == [(0,)]
    assert in_db(tmp_path, "SELECT count(*) FROM importedpass") == [(0,)]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_it_shows_progress_and_a_summary(board_cli: Cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    from board.cli import main

    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    main(["import", "polis", str(BREXIT), "--event", "brexit"])
    shown = screen.getvalue()
    _, votes, _ = expected()
    assert "rows read" in shown and "votes written" in shown
    assert shown.rstrip().splitlines()[-1].startswith("imported brexit: thread ")
    assert f"{votes} votes written" in shown


def test_bad_input_fails_with_a_message(board_cli: Cli, tmp_path: Path) -> None:
    bad_slug = board_cli("import", "polis", str(BREXIT), "--event", "Not A Slug")
    assert bad_slug.returncode == 1 and "board:" in bad_slug.stderr
    missing = board_cli("import", "polis", str(tmp_path / "nowhere"), "--event", "nowhere")
    assert missing.returncode == 1 and "comments.csv" in missing.stderr
    assert board_cli("seed").returncode == 0
    taken = board_cli("import", "polis", str(BREXIT), "--event", "republique-collaborative")
    assert taken.returncode == 1 and "existe déjà" in taken.stderr
    unknown = board_cli("opinions", "nowhere", "--format", "csv")
    assert unknown.returncode == 1 and "board:" in unknown.stderr


def test_opinions_as_csv_agree_with_the_groups_polis_found(board_cli: Cli) -> None:
    assert board_cli("import", "polis", str(BREXIT), "--event", "brexit").returncode == 0
    ran = board_cli("opinions", "brexit", "--format", "csv")
    assert ran.returncode == 0, ran.stderr
    rows = list(csv.DictReader(io.StringIO(ran.stdout)))
    assert rows and set(rows[0]) == {"participant", "group"}
    ours = {r["participant"]: int(r["group"]) for r in rows}
    assert all(p.startswith("polis:") for p in ours)
    theirs = polis_groups(BREXIT)
    both = sorted(set(ours) & set(theirs))
    assert adjusted_rand_score([theirs[p] for p in both], [ours[p] for p in both]) >= AGREEMENT_FLOOR


def test_opinions_as_json_give_the_groups_and_who_is_in_them(board_cli: Cli) -> None:
    assert board_cli("import", "polis", str(BREXIT), "--event", "brexit").returncode == 0
    ran = board_cli("opinions", "brexit", "--format", "json")
    assert ran.returncode == 0, ran.stderr
    data = json.loads(ran.stdout)
    assert data["event"] == "brexit"
    assert sum(g["size"] for g in data["groups"]) == len(data["members"])
    assert {m["group"] for m in data["members"]} == {g["id"] for g in data["groups"]}
    again = json.loads(
        board_cli("opinions", "brexit", "--thread", str(data["thread"]), "--format", "json").stdout
    )
    assert again["members"] == data["members"]
