"""The README's configuration table and command list match what the code reads and offers."""

import re
from pathlib import Path

from board.cli import parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def variables_read_by_the_board() -> set[str]:
    found: set[str] = set()
    for source in (ROOT / "board").rglob("*.py"):
        found |= set(re.findall(r"\bBOARD_[A-Z_]+\b", source.read_text()))
    return found


def test_every_variable_the_board_reads_is_in_the_readme_table_and_back() -> None:
    table = set(re.findall(r"^\| `(BOARD_[A-Z_]+)` \|", README, flags=re.MULTILINE))
    assert table == variables_read_by_the_board()


def test_every_board_subcommand_is_in_the_readme() -> None:
    top = parser()
    [commands] = [a for a in top._subparsers._group_actions]  # type: ignore[union-attr]
    for name, sub in commands.choices.items():  # type: ignore[attr-defined]
        nested = [a for a in sub._actions if a.choices and a.dest == "action"]
        spelled = [f"board {name} {action}" for n in nested for action in n.choices] or [f"board {name}"]
        for command in spelled:
            assert f"`{command}" in README, f"{command} is not in the README"
