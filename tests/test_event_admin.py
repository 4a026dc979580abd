"""Organisers in the browser: /admin, creating and editing an event, and what each state of its lifecycle allows."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sqlmodel import col, func, select

from board.models import AuditEntry, Event, Thread
from tests.conftest import SLUG, Board, Phone

NEW = "atelier-communs"


def event_form(**changes: str) -> dict[str, str]:
    fields = {
        "slug": NEW,
        "title": "Atelier des communs",
        "place": "Roubaix — La Condition publique",
        "date": "2018-03-14",
        "organisers": "Ville de Roubaix",
        "description": "Un atelier ouvert sur les communs urbains.",
        "segments": "habitant\nassociation\nagent public",
        "moderation": "post",
        "voting": "agree-disagree",
        "retention_days": "90",
        "responsible": "Ville de Roubaix, direction de la participation",
        "contact": "dpo@ville-roubaix.example",
        "prompts": "Qu'est-ce qu'un commun urbain ?\n\nQui en prend soin ?\n",
    }
    fields.update(changes)
    return fields


async def admin_of(board: Board) -> Phone:
    admin = await board.staff(None, admin=True)
    assert (await admin.open("/admin/events")).status_code == 200
    return admin


async def create(board: Board, admin: Phone, **changes: str) -> str:
    response = await admin.submit("/admin/events", event_form(**changes))
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


async def set_status(admin: Phone, event: str, status: str, /, **changes: str) -> Any:
    """Send the event's form back as shown, with a new state and any changes."""
    page = await admin.open(f"/admin/events/{event}")
    assert page.status_code == 200
    fields = {name: value for name, value in _form_values(page.text).items()}
    fields.update(changes, status=status)
    return await admin.submit(f"/admin/events/{event}", fields)


def _form_values(html: str) -> dict[str, str]:
    """What a browser would send back from the event form as it is shown."""
    import html as entities

    values = {
        name: entities.unescape(value)
        for name, value in re.findall(r'<input id="f-\w+" name="(\w+)" type="[a-z]+" value="([^"]*)"', html)
    }
    for name, text in re.findall(r'<textarea id="f-\w+" name="(\w+)"[^>]*>([^<]*)</textarea>', html, re.S):
        values[name] = entities.unescape(text)
    for name, value in re.findall(r'<input type="radio" name="(\w+)" value="([^"]+)" checked>', html):
        values[name] = value
    return values


async def threads_of(board: Board, slug: str) -> list[Thread]:
    async with board.ctx.db.session() as session:
        event = (await session.exec(select(Event).where(Event.slug == slug))).one()
        return list(
            await session.exec(
                select(Thread).where(Thread.event_id == event.id).order_by(col(Thread.position))
            )
        )


async def event_row(board: Board, slug: str) -> Event:
    async with board.ctx.db.session() as session:
        return (await session.exec(select(Event).where(Event.slug == slug))).one()


async def test_signing_in_lands_on_the_organisers_space_and_every_participant_page_links_to_it(
    board: Board,
) -> None:
    visitor = await board.phone(f"/e/{SLUG}")
    anonymous = await visitor.open("/admin")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/admin"
    thread_id = (await board.thread_ids())[0]
    for path in ("/", f"/e/{SLUG}", f"/e/{SLUG}/t/{thread_id}"):
        assert 'href="/login">Espace organisateurs</a>' in (await visitor.open(path)).text, path

    moderator = await board.staff("moderator")
    landing = await moderator.open("/admin")
    assert landing.status_code == 200
    assert f'href="/mod/{SLUG}"' in landing.text and "Vers une République collaborative" in landing.text


async def test_a_sign_in_goes_to_admin_unless_told_where(board: Board) -> None:
    from board.domain import accounts
    from tests.conftest import PASSWORD

    await accounts.add_account(board.ctx, "camille", PASSWORD, is_admin=True)
    phone = await board.phone("/login")
    plain = await phone.submit("/login", {"username": "camille", "password": PASSWORD})
    assert plain.headers["location"] == "/admin"
    for unsafe in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        again = await phone.submit("/login", {"username": "camille", "password": PASSWORD, "next": unsafe})
        assert again.headers["location"] == "/admin", unsafe
    wanted = await phone.submit(
        "/login", {"username": "camille", "password": PASSWORD, "next": f"/mod/{SLUG}"}
    )
    assert wanted.headers["location"] == f"/mod/{SLUG}"


async def test_an_admin_creates_a_draft_event_with_its_first_prompts(board: Board) -> None:
    admin = await admin_of(board)
    assert await create(board, admin) == f"/admin/events/{NEW}"

    event = await event_row(board, NEW)
    assert (event.status, event.code, event.closed_at) == ("draft", None, None)
    assert event.segments == ["habitant", "association", "agent public"]
    assert (event.retention_days, event.responsible, event.contact) == (
        90,
        "Ville de Roubaix, direction de la participation",
        "dpo@ville-roubaix.example",
    )
    threads = await threads_of(board, NEW)
    assert [(t.prompt, t.status) for t in threads] == [
        ("Qu'est-ce qu'un commun urbain ?", "open"),
        ("Qui en prend soin ?", "open"),
    ]
    assert event.screen_thread_id == threads[0].id

    page = await admin.open(f"/admin/events/{NEW}")
    assert page.status_code == 200
    assert f'href="/admin/events/{NEW}/staff">Équipe</a>' in page.text
    assert f'href="/admin/events/{NEW}/event.toml"' in page.text
    overview = await admin.open("/admin")
    card = overview.text.split(f'id="event-{NEW}"')[1].split("</li>")[0]
    assert "brouillon" in card and f'href="/mod/{NEW}"' in card
    assert f'href="/e/{NEW}/screen"' not in card, "a draft has no public page to link to yet"
    assert (await admin.open(f"/mod/{NEW}")).status_code == 200, (
        "staff prepare a draft on the moderation page"
    )


async def test_a_draft_does_not_exist_for_participants(board: Board) -> None:
    admin = await admin_of(board)
    await create(board, admin)
    thread = (await threads_of(board, NEW))[0].id
    phone = await board.phone(None)
    public = [
        f"/e/{NEW}",
        f"/e/{NEW}/t/{thread}",
        f"/e/{NEW}/screen",
        f"/e/{NEW}/t/{thread}/screen",
        f"/e/{NEW}/results",
        f"/e/{NEW}/qr.svg",
        f"/e/{NEW}/stream",
        f"/e/{NEW}/t/{thread}/stream",
        f"/api/events/{NEW}",
        f"/api/threads/{thread}/answers",
        f"/join?code={NEW}",
    ]
    for path in public:
        assert (await phone.open(path)).status_code == 404, path
    assert NEW not in (await phone.open("/")).text
    await phone.open(f"/e/{SLUG}")
    posted = await phone.submit(f"/e/{NEW}/t/{thread}/answers", {"body": "Une réponse trop tôt"})
    assert posted.status_code == 404

    assert (await set_status(admin, NEW, "open")).status_code == 303
    for path in public[:6] + public[8:10]:
        assert (await phone.open(path)).status_code == 200, path
    assert NEW in (await phone.open("/")).text


async def test_the_form_shows_every_problem_beside_its_field_and_keeps_what_was_typed(board: Board) -> None:
    admin = await admin_of(board)
    response = await admin.submit(
        "/admin/events",
        event_form(
            slug="Atelier Communs",
            title="\u200b",
            date="14/03/2018",
            retention_days="-3",
            place="Roubaix\x00",
            segments="habitant\n" + "x" * 41,
            moderation="later",
            prompts="Une question ?\n" + "q" * 501,
        ),
    )
    assert response.status_code == 422
    for name in ("slug", "title", "date", "retention_days", "place", "segments", "moderation", "prompts"):
        assert f'id="f-{name}-error"' in response.text, name
        assert re.search(
            rf'name="{name}"[^>]*aria-invalid="true"|aria-describedby="f-{name}-error"', response.text
        )
    assert "De 3 à 60 caractères" in response.text
    assert 'value="Atelier Communs"' in response.text, "what was typed is kept"
    async with board.ctx.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Event))).one() == 1


async def test_a_slug_taken_is_a_conflict_even_when_fifty_claim_it_at_once(board: Board) -> None:
    admin = await admin_of(board)
    taken = await admin.submit("/admin/events", event_form(slug=SLUG))
    assert taken.status_code == 409
    assert f"L&#39;adresse « {SLUG} » est déjà prise" in taken.text
    assert 'id="f-slug-error"' in taken.text

    responses = await asyncio.gather(*(admin.submit("/admin/events", event_form()) for _ in range(50)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [303] + [409] * 49, codes
    assert len(await threads_of(board, NEW)) == 2, "the winner's threads only, once"


async def test_staff_see_their_events_and_only_admins_create_or_edit(board: Board) -> None:
    admin = await admin_of(board)
    await create(board, admin)
    moderator = await board.staff("moderator")
    mine = (await moderator.open("/admin")).text
    assert f'id="event-{SLUG}"' in mine and f'id="event-{NEW}"' not in mine
    assert "Créer un événement" not in mine and 'action="/admin/import"' not in mine
    for path in ("/admin/events", f"/admin/events/{SLUG}", f"/admin/events/{SLUG}/event.toml"):
        assert (await moderator.open(path)).status_code == 403, path
    refused = await moderator.submit("/admin/events", event_form(slug="autre-atelier"))
    assert refused.status_code == 403
    everything = (await admin.open("/admin")).text
    assert f'id="event-{SLUG}"' in everything and f'id="event-{NEW}"' in everything


async def test_closing_refuses_answers_and_votes_and_points_to_the_results(board: Board) -> None:
    admin = await admin_of(board)
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    posted = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Avant la clôture"}, htmx=True)
    assert posted.status_code == 201
    answer_id = int(re.search(r'id="a(\d+)"', posted.text).group(1))  # type: ignore[union-attr]

    assert (await set_status(admin, SLUG, "closed")).status_code == 303
    event = await event_row(board, SLUG)
    assert event.status == "closed" and event.closed_at is not None

    late = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Après la clôture"}, htmx=True)
    assert late.status_code == 409 and "Cet événement est clos" in late.text
    for htmx in (True, False):
        vote = await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=htmx)
        assert vote.status_code == 409 and "les votes sont terminés" in vote.text
    profile = await phone.submit(f"/e/{SLUG}/profile", {"segment": "citoyen"})
    assert profile.status_code == 409

    event_page = (await phone.open(f"/e/{SLUG}")).text
    assert f'href="/e/{SLUG}/results"' in event_page and 'action="/e/{SLUG}/profile"' not in event_page
    thread_page = (await phone.open(f"/e/{SLUG}/t/{thread_id}")).text
    assert f'href="/e/{SLUG}/results"' in thread_page
    assert re.search(r'<textarea id="body"[^>]*disabled', thread_page)
    assert f"testserver.local/e/{SLUG}/results" in (await phone.open(f"/e/{SLUG}/screen")).text
    assert "Avant la clôture" in (await phone.open(f"/e/{SLUG}/results")).text

    assert (await set_status(admin, SLUG, "open")).status_code == 303
    assert (await event_row(board, SLUG)).closed_at is None, "reopened: no longer closed"
    again = await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
    assert again.status_code == 200


async def test_votes_on_a_closed_event_are_refused_in_the_same_batch_as_accepted_ones(board: Board) -> None:
    admin = await admin_of(board)
    await create(board, admin)
    assert (await set_status(admin, NEW, "open")).status_code == 303
    open_thread = (await board.thread_ids())[0]
    closing_thread = (await threads_of(board, NEW))[0].id

    async def answer(slug: str, thread: int, body: str) -> int:
        author = await board.phone(f"/e/{slug}/t/{thread}")
        posted = await author.submit(f"/e/{slug}/t/{thread}/answers", {"body": body}, htmx=True)
        assert posted.status_code == 201
        return int(re.search(r'id="a(\d+)"', posted.text).group(1))  # type: ignore[union-attr]

    kept = await answer(SLUG, open_thread, "Une réponse d'un événement ouvert")
    shut = await answer(NEW, closing_thread, "Une réponse d'un événement bientôt clos")
    voters = [await board.phone(f"/e/{slug}") for slug in [SLUG] * 20 + [NEW] * 20]
    assert (await set_status(admin, NEW, "closed")).status_code == 303
    results = await asyncio.gather(
        *(
            v.submit(
                f"/e/{SLUG if i < 20 else NEW}/answers/{kept if i < 20 else shut}/vote",
                {"value": "1"},
                htmx=True,
            )
            for i, v in enumerate(voters)
        )
    )
    assert [r.status_code for r in results] == [200] * 20 + [409] * 20
    async with board.ctx.db.session() as session:
        from board.models import Answer, Vote

        assert (
            await session.exec(select(func.count()).select_from(Vote).where(Vote.answer_id == shut))
        ).one() == 0
        counted = await session.get(Answer, kept)
        assert counted is not None and counted.agree == 20


async def test_an_archived_event_is_read_only_until_brought_back(board: Board) -> None:
    admin = await admin_of(board)
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    assert (await set_status(admin, SLUG, "archived")).status_code == 303
    archived = await event_row(board, SLUG)
    assert archived.closed_at is not None

    form = await admin.open(f"/admin/events/{SLUG}")
    assert re.search(r'<fieldset class="plain" disabled>', form.text), "the description cannot be edited"
    assert (
        await admin.submit(f"/admin/events/{SLUG}", {"status": "archived", "title": "Autre"})
    ).status_code == 409
    for path, data in (
        (f"/mod/{SLUG}/threads", {"prompt": "Une question de plus ?"}),
        (f"/mod/{SLUG}/settings", {"moderation": "pre"}),
        (f"/mod/{SLUG}/threads/{thread_id}", {"action": "close"}),
    ):
        refused = await moderator.submit(path, data)
        assert refused.status_code == 409 and "archivé" in refused.text, path
    assert (await moderator.open(f"/mod/{SLUG}")).status_code == 200, "still readable"
    answer = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Trop tard"}, htmx=True)
    assert answer.status_code == 409 and "lecture seule" in answer.text
    assert (await event_row(board, SLUG)).title == "Vers une République collaborative"

    back = await admin.submit(f"/admin/events/{SLUG}", {"status": "closed"})
    assert back.status_code == 303
    reopened = await event_row(board, SLUG)
    assert (reopened.status, reopened.closed_at) == ("closed", archived.closed_at)
    assert (await moderator.submit(f"/mod/{SLUG}/settings", {"moderation": "pre"})).status_code == 303


async def test_an_edit_changes_the_event_and_the_slug_only_while_a_draft(board: Board) -> None:
    admin = await admin_of(board)
    await create(board, admin)
    renamed = await set_status(
        admin, NEW, "draft", slug="atelier-communs-2018", title="Atelier des communs 2018"
    )
    assert renamed.status_code == 303 and renamed.headers["location"] == "/admin/events/atelier-communs-2018"
    assert (await event_row(board, "atelier-communs-2018")).title == "Atelier des communs 2018"

    bad = await set_status(admin, SLUG, "open", slug="republique")
    assert bad.status_code == 422 and "ne change plus une fois ouvert" in bad.text
    taken = await set_status(admin, "atelier-communs-2018", "draft", slug=SLUG)
    assert taken.status_code == 409
    nonsense = await set_status(admin, SLUG, "finished")
    assert nonsense.status_code == 422 and 'id="f-status-error"' in nonsense.text
    async with board.ctx.db.session() as session:
        actions = list(
            await session.exec(select(AuditEntry.action).where(AuditEntry.actor.startswith("nobody")))
        )  # type: ignore[attr-defined]
    assert actions == ["event-create", "event-edit"]


async def test_a_change_of_state_reaches_every_open_page_of_the_event(board: Board) -> None:
    from board.live.channels import event_channel, mod_channel, thread_channel
    from board.live.messages import Status

    admin = await admin_of(board)
    thread_id = (await board.thread_ids())[0]
    channels = [thread_channel(thread_id), event_channel(SLUG), mod_channel(SLUG)]
    for channel in channels:
        async with board.ctx.live.channels.subscribe([channel]) as stream:
            assert (
                await set_status(admin, SLUG, "closed" if channel != channels[1] else "open")
            ).status_code == 303
            message = await asyncio.wait_for(anext(aiter(stream)), 5)
            wanted = "closed" if channel != channels[1] else "open"
            assert message == Status("event", event_status=wanted), channel
    async with board.ctx.live.channels.subscribe(channels) as stream:
        unchanged = await set_status(admin, SLUG, "closed", title="Vers une République collaborative !")
        assert unchanged.status_code == 303
        board.ctx.live.channels.send(Status("answers"), channels[:1])
        first = await asyncio.wait_for(anext(aiter(stream)), 5)
        assert first == Status("answers"), "an edit that keeps the state redraws nothing"


async def test_the_organisers_pages_speak_english_too(board: Board) -> None:
    admin = await admin_of(board)
    admin.http.cookies.set("lang", "en")
    overview = (await admin.open("/admin")).text
    assert "Organisers' space" in overview and "Create an event" in overview
    assert "Espace organisateurs" not in overview and "Créer un événement" not in overview
    refused = await admin.submit("/admin/events", event_form(slug="x", title=""))
    assert refused.status_code == 422
    assert "3 to 60 characters" in refused.text and "Give the event a title." in refused.text
    assert "caractères" not in refused.text


async def test_odd_addresses_and_oversized_forms_are_refused_cleanly(board: Board) -> None:
    admin = await admin_of(board)
    for path in ("/admin/events/%00", "/admin/events/nope", "/admin/events/nope/event.toml"):
        response = await admin.open(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
    huge = await admin.submit("/admin/events", event_form(description="é" * 70_000))
    assert huge.status_code == 413
    long = await admin.submit("/admin/events", event_form(description="d" * 5001, title="t" * 201))
    assert long.status_code == 422 and "5001 caractères ; 5000 au plus." in long.text
    assert "201 caractères ; 200 au plus." in long.text
    async with board.ctx.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Event))).one() == 1


async def test_fifty_closes_at_once_close_the_event_once(board: Board) -> None:
    admin = await admin_of(board)
    fields = _form_values((await admin.open(f"/admin/events/{SLUG}")).text)
    fields["status"] = "closed"
    responses = await asyncio.gather(*(admin.submit(f"/admin/events/{SLUG}", fields) for _ in range(50)))
    assert [r.status_code for r in responses] == [303] * 50
    async with board.ctx.db.session() as session:
        actions = list(
            await session.exec(select(AuditEntry.action).where(AuditEntry.target == f"event {SLUG}"))
        )
    assert sorted(actions) == ["event-closed"] + ["event-edit"] * 49
