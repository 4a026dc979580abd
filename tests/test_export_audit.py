"""Open-data export and audit log: what a moderator downloads after the debate, and the trace of every decision.

The export carries answers and their counts, overall and per segment, under the Etalab licence, and never a
participant id or display name. The audit log shows who did what, and why, for every moderation and screen
action, and nothing for a refused one.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from datetime import datetime
from html.parser import HTMLParser

from sqlmodel import select

from board.domain import accounts
from board.models import Answer, Participant
from tests.conftest import DEMO_SEED, PASSWORD, SLUG, Board, Phone

LICENCE = "Licence Ouverte / Etalab 2.0"
SEED = tomllib.loads(DEMO_SEED.read_text(encoding="utf-8"))
SEGMENTS = SEED["event"]["segments"]
PROMPTS = [t["prompt"] for t in SEED["threads"]]
HEX_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


async def participant(board: Board, segment: str = "", name: str = "") -> Phone:
    phone = await board.phone(f"/e/{SLUG}")
    if segment or name:
        saved = await phone.submit(f"/e/{SLUG}/profile", {"segment": segment, "name": name})
        assert saved.status_code == 303, saved.text
    return phone


async def answer(board: Board, phone: Phone, thread_id: int, body: str, expected: int = 201) -> int:
    await phone.open(f"/e/{SLUG}/t/{thread_id}")
    response = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": body}, htmx=True)
    assert response.status_code == expected, response.text
    async with board.ctx.db.session() as session:
        found = (await session.exec(select(Answer).where(Answer.body == body))).one()
    assert found.id is not None
    return found.id


async def vote(phone: Phone, answer_id: int, value: int) -> None:
    response = await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": str(value)}, htmx=True)
    assert response.status_code == 200, response.text


async def sign_in(board: Board, username: str, role: str) -> Phone:
    await accounts.add_account(board.ctx, username, PASSWORD, event_slug=SLUG, role=role)
    phone = await board.phone("/login")
    assert (await phone.submit("/login", {"username": username, "password": PASSWORD})).status_code == 303
    await phone.open(f"/mod/{SLUG}")
    return phone


def read_csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows; a leading `# …` line (the licence, stated once) is not part of the table."""
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
    reader = csv.DictReader(io.StringIO("".join(lines)))
    return list(reader.fieldnames or []), list(reader)


def in_order(needed: list[str], header: list[str]) -> bool:
    positions = [header.index(name) for name in needed if name in header]
    return len(positions) == len(needed) and positions == sorted(positions)


class AuditLog(HTMLParser):
    """The entries of the audit page, each as (date as shown, sentence)."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[list[str]] = []
        self.in_log = False
        self.text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "ol" and ("class", "audit-log") in attrs:
            self.in_log = True
        elif tag == "li" and self.in_log and ("class", "empty") not in attrs:
            self.text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "ol":
            self.in_log = False
        elif tag == "li" and self.text is not None:
            when, _, sentence = " ".join("".join(self.text).split()).partition(" — ")
            self.entries.append([when, sentence])
            self.text = None

    def handle_data(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)


async def audit_rows(moderator: Phone, query: str = "") -> list[list[str]]:
    page = await moderator.open(f"/mod/{SLUG}/audit{query}")
    assert page.status_code == 200
    log = AuditLog()
    log.feed(page.text)
    return log.entries


async def a_debate(board: Board) -> dict[str, int]:
    """Four participants, three with a segment and a name, answering and voting on two threads."""
    first, second = (await board.thread_ids())[:2]
    citoyen = await participant(board, "citoyen", "Zoé Lambertin")
    etudiant = await participant(board, "étudiant", "Yanis Belkacemi")
    agent = await participant(board, "agent public", "Odile Vasseurand")
    nobody = await participant(board)
    ids = {
        "experiment": await answer(board, citoyen, first, "Expérimenter puis évaluer, publiquement."),
        "budgets": await answer(board, etudiant, first, "Des budgets pour essayer sans peur de l'échec."),
        "usager": await answer(board, agent, second, "Le numérique rapproche l'usager du guichet."),
        "weather": await answer(board, nobody, second, "Il pleut beaucoup à Lille."),
    }
    await vote(etudiant, ids["experiment"], 1)
    await vote(agent, ids["experiment"], -1)
    await vote(nobody, ids["experiment"], 1)
    await vote(citoyen, ids["usager"], 1)
    await vote(etudiant, ids["usager"], 1)
    await vote(citoyen, ids["budgets"], -1)
    return {"first": first, "second": second, **ids}


async def test_csv_export_has_counts_per_segment_and_the_licence(board: Board) -> None:
    debate = await a_debate(board)
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    hidden = await moderator.submit(
        f"/mod/{SLUG}/answers/{debate['weather']}", {"action": "hide", "reason": "offtopic"}
    )
    assert hidden.status_code == 303

    response = await moderator.open(f"/mod/{SLUG}/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert f"{SLUG}.csv" in response.headers["content-disposition"]
    assert LICENCE in response.text

    header, rows = read_csv(response.text)
    per_segment = [f"{side} {segment}" for segment in SEGMENTS for side in ("agree", "disagree")]
    needed = [
        "thread",
        "prompt",
        "answer",
        "status",
        "reason",
        "agree",
        "disagree",
        *per_segment,
        "created_at",
    ]
    assert in_order(needed, header), header
    if "licence" in header:
        assert all(row["licence"] == LICENCE for row in rows)
    by_body = {row["answer"]: row for row in rows}
    assert len(by_body) == len(rows) == 4

    experiment = by_body["Expérimenter puis évaluer, publiquement."]
    assert (experiment["thread"], experiment["prompt"]) == (str(debate["first"]), PROMPTS[0])
    assert (experiment["status"], experiment["reason"]) == ("published", "")
    assert (experiment["agree"], experiment["disagree"]) == ("2", "1"), "the voter without a segment counts"
    assert [experiment[c] for c in per_segment] == [""] * 6, "segments of fewer than five voters stay empty"
    usager = by_body["Le numérique rapproche l'usager du guichet."]
    assert (usager["thread"], usager["prompt"]) == (str(debate["second"]), PROMPTS[1])
    assert [usager[c] for c in ("agree", "disagree", *per_segment)] == ["2", "0"] + [""] * 6
    budgets = by_body["Des budgets pour essayer sans peur de l'échec."]
    assert [budgets[c] for c in ("agree", "disagree", *per_segment)] == ["0", "1"] + [""] * 6
    weather = by_body["Il pleut beaucoup à Lille."]
    assert (weather["status"], weather["reason"]) == ("hidden", "offtopic")
    for row in rows:
        assert datetime.fromisoformat(row["created_at"]).year >= 2024


async def test_json_export_nests_answers_by_thread_with_segments(board: Board) -> None:
    debate = await a_debate(board)
    moderator = await board.staff("moderator")
    response = await moderator.open(f"/mod/{SLUG}/export.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    document = json.loads(response.text)

    assert document["licence"] == LICENCE
    assert document["event"]["slug"] == SLUG
    assert document["segments"] == SEGMENTS
    threads = {t["id"]: t for t in document["threads"]}
    assert threads[debate["first"]]["prompt"] == PROMPTS[0]
    assert threads[debate["second"]]["prompt"] == PROMPTS[1]
    first = {a["answer"]: a for a in threads[debate["first"]]["answers"]}
    second = {a["answer"]: a for a in threads[debate["second"]]["answers"]}
    assert set(first) == {
        "Expérimenter puis évaluer, publiquement.",
        "Des budgets pour essayer sans peur de l'échec.",
    }
    assert set(second) == {"Le numérique rapproche l'usager du guichet.", "Il pleut beaucoup à Lille."}

    experiment = first["Expérimenter puis évaluer, publiquement."]
    assert (experiment["agree"], experiment["disagree"], experiment["status"]) == (2, 1, "published")
    assert experiment["segments"] == {"citoyen": None, "étudiant": None, "agent public": None}
    usager = second["Le numérique rapproche l'usager du guichet."]
    assert usager["segments"]["citoyen"] is usager["segments"]["étudiant"] is None
    datetime.fromisoformat(experiment["created_at"])

    csv_rows = read_csv((await moderator.open(f"/mod/{SLUG}/export.csv")).text)[1]
    totals = {(r["answer"], int(r["agree"]), int(r["disagree"])) for r in csv_rows}
    in_json = {(a["answer"], a["agree"], a["disagree"]) for t in document["threads"] for a in t["answers"]}
    assert in_json == totals, "both formats tell the same counts"


async def test_exports_carry_no_participant_id_and_no_display_name(board: Board) -> None:
    await a_debate(board)
    moderator = await board.staff("moderator")
    exports = [(await moderator.open(f"/mod/{SLUG}/export.{kind}")).text for kind in ("csv", "json")]
    async with board.ctx.db.session() as session:
        people = (await session.exec(select(Participant))).all()
    assert len(people) == 4 and all(HEX_ID.fullmatch(p.id) for p in people)
    names = [p.name for p in people if p.name]
    assert sorted(names) == ["Odile Vasseurand", "Yanis Belkacemi", "Zoé Lambertin"]
    for text in exports:
        assert "Expérimenter puis évaluer" in text
        for person in people:
            assert person.id not in text and person.id[:8] not in text
        for name in names:
            assert name not in text and name.split()[1] not in text
        assert HEX_ID.search(text) is None


async def test_every_moderation_and_screen_action_is_in_the_audit_log(board: Board) -> None:
    first, second = (await board.thread_ids())[:2]
    moderator = await sign_in(board, "camille", "moderator")
    facilitator = await sign_in(board, "fatou", "facilitator")
    author = await participant(board, "citoyen")
    kept = await answer(board, author, first, "Évaluer chaque expérimentation")
    duplicate = await answer(board, author, first, "Il faut évaluer les expérimentations")
    leaking = await answer(board, author, first, "Appelez-moi au 06 12 34 56 78")
    async with board.ctx.db.session() as session:
        author_id = (await session.get(Answer, kept)).participant_id  # type: ignore[union-attr]

    async def on_answer(answer_id: int, action: str, **fields: object) -> None:
        data = {"action": action, **{k: str(v) for k, v in fields.items()}}
        response = await moderator.submit(f"/mod/{SLUG}/answers/{answer_id}", data)
        assert response.status_code == 303, response.text

    async def on_thread(who: Phone, thread_id: int, action: str, **fields: str) -> None:
        response = await who.submit(f"/mod/{SLUG}/threads/{thread_id}", {"action": action, **fields})
        assert response.status_code == 303, response.text

    assert (await moderator.submit(f"/mod/{SLUG}/settings", {"moderation": "pre"})).status_code == 303
    approved = await answer(board, author, first, "À publier après relecture", expected=202)
    refused = await answer(board, author, first, "Propos injurieux", expected=202)
    await on_answer(approved, "approve")
    await on_answer(refused, "reject", reason="abusive")
    await on_answer(kept, "hide", reason="offtopic")
    await on_answer(kept, "restore")
    await on_answer(kept, "pin")
    await on_answer(kept, "unpin")
    await on_answer(duplicate, "merge", into=kept)
    await on_answer(leaking, "hide", reason="personal-data")
    for action in ("close", "open", "present", "down", "up"):
        await on_thread(facilitator, second, action)
    await on_thread(moderator, second, "edit", prompt="Le numérique bouscule-t-il le service public ?")
    created = await moderator.submit(f"/mod/{SLUG}/threads", {"prompt": "Quelles suites donner au débat ?"})
    assert created.status_code == 303
    assert (await moderator.submit(f"/mod/{SLUG}/participants/{author_id}/ban", {})).status_code == 303
    changed = await moderator.submit(f"/mod/{SLUG}/settings", {"moderation": "post", "voting": "upvote"})
    assert changed.status_code == 303

    refusals = [
        await facilitator.submit(f"/mod/{SLUG}/threads/{second}", {"action": "edit", "prompt": "Non"}),
        await moderator.submit(f"/mod/{SLUG}/answers/{kept}", {"action": "hide"}),
        await moderator.submit(f"/mod/{SLUG}/answers/{approved}", {"action": "approve"}),
    ]
    assert [r.status_code for r in refusals] == [403, 422, 409]

    prompt = "Le numérique bouscule-t-il le service public ?"
    expected = [
        "camille a changé les réglages : modération a priori",
        f"camille a publié la réponse n° {approved}",
        f"camille a refusé la réponse n° {refused} (propos abusifs)",
        f"camille a masqué la réponse n° {kept} (hors-sujet)",
        f"camille a rétabli la réponse n° {kept}",
        f"camille a épinglé la réponse n° {kept}",
        f"camille a désépinglé la réponse n° {kept}",
        f"camille a fusionné la réponse n° {duplicate} avec la réponse n° {kept}",
        f"camille a masqué la réponse n° {leaking} (données personnelles)",
        "fatou a fermé aux réponses le fil « ",
        "fatou a ouvert aux réponses le fil « ",
        "fatou a affiché au projecteur le fil « ",
        "fatou a descendu le fil « ",
        "fatou a monté le fil « ",
        f"camille a modifié la question du fil « {prompt} »",
        "camille a créé le fil « Quelles suites donner au débat ? »",
        "camille a suspendu l'auteur d'une réponse",
        "camille a changé les réglages : modération a posteriori, vote par approbation seule",
    ]
    rows = await audit_rows(moderator)
    assert len(rows) == len(expected), "one entry per action, none for a refused one"
    for when, _ in rows:
        assert re.fullmatch(r"\d{1,2} \w+\.? \d{4} \d{2}:\d{2}", when), f"when: {when!r}"
    for (_, sentence), start in zip(reversed(rows), expected, strict=True):
        assert sentence.startswith(start), (start, sentence)
    rows_about_second = await audit_rows(moderator, f"?thread={second}")
    assert len(rows_about_second) == 6 and all("fil « " in s for _, s in rows_about_second)
    rows_about_kept = await audit_rows(moderator, f"?thread={first}")
    assert len(rows_about_kept) == 8, "decisions on answers count for their thread"
    only_fatou = await audit_rows(moderator, "?person=fatou")
    assert len(only_fatou) == 5 and all(s.startswith("fatou ") for _, s in only_fatou)
    assert author_id not in " ".join(" ".join(r) for r in rows), (
        "the audit names a participant by a short prefix"
    )
