"""Phones follow the debate: the thread on the projector, closed threads, the event's end, long answers,
names beside answers, and a header in the page's language."""

from __future__ import annotations

import json
import re

from tests.conftest import SLUG, Board
from tests.test_event_admin import set_status
from tests.test_redis_channels import EventStream, until


async def test_the_event_page_marks_the_thread_on_the_projector_and_follows_presents(board: Board) -> None:
    first, second = (await board.thread_ids())[:2]
    phone = await board.phone(None)
    page = (await phone.open(f"/e/{SLUG}")).text
    assert re.search(rf'<li data-thread="{first}" class="presented">', page)
    assert re.search(rf'data-on-screen="{first}">', page) and re.search(
        rf'data-on-screen="{second}" hidden', page
    )

    stream = EventStream(board.app, f"/e/{SLUG}/stream")
    try:
        await until(stream.has("counts"), "the event stream is open")
        facilitator = await board.staff("facilitator")
        await facilitator.open(f"/mod/{SLUG}")
        await facilitator.submit(f"/mod/{SLUG}/threads/{second}", {"action": "present"})
        await until(stream.has("status", '"present"'), "the present reaches phones")
        said = json.loads(next(d for k, d in stream.events if k == "status" and '"present"' in d))
        assert said == {
            "status": "present",
            "thread": second,
            "thread_status": "open",
            "timer_ends_at": None,
            "auto_close": False,
            "on_screen": second,
        }
    finally:
        await stream.close()
    page = (await phone.open(f"/e/{SLUG}")).text
    assert re.search(rf'<li data-thread="{second}" class="presented">', page)


async def test_a_closed_thread_disables_its_form_says_why_and_tells_open_pages(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    open_page = (await phone.open(f"/e/{SLUG}/t/{thread_id}")).text
    assert re.search(r'<p class="closed-notice" data-closed-notice role="status" hidden>', open_page)
    stream = EventStream(board.app, f"/e/{SLUG}/t/{thread_id}/stream")
    try:
        await until(stream.has("counts"), "the thread stream is open")
        facilitator = await board.staff("facilitator")
        await facilitator.open(f"/mod/{SLUG}")
        await facilitator.submit(f"/mod/{SLUG}/threads/{thread_id}", {"action": "close"})
        await until(stream.has("status", '"thread_status":"closed"'), "the closing reaches the thread's page")
    finally:
        await stream.close()
    closed = (await phone.open(f"/e/{SLUG}/t/{thread_id}")).text
    assert re.search(r'<textarea id="body"[^>]* disabled', closed)
    assert re.search(r'<p class="closed-notice" data-closed-notice role="status">', closed)
    assert "il n'accepte plus de réponses ni de votes" in closed
    listing = (await phone.open(f"/e/{SLUG}")).text
    assert re.search(rf'<li data-thread="{thread_id}".*?data-closed-mark> · fermé', listing, re.S)


async def test_an_event_that_closes_points_open_pages_to_the_results(board: Board) -> None:
    thread_ids = await board.thread_ids()
    admin = await board.staff(None, admin=True)
    streams = [
        EventStream(board.app, f"/e/{SLUG}/stream"),
        EventStream(board.app, f"/e/{SLUG}/t/{thread_ids[0]}/stream"),
    ]
    try:
        for stream in streams:
            await until(stream.has("counts"), "the stream is open")
        assert (await set_status(admin, SLUG, "closed")).status_code == 303
        for stream in streams:
            await until(
                stream.has("status", '"event_status":"closed"'), "the end of the event reaches the page"
            )
    finally:
        for stream in streams:
            await stream.close()
    phone = await board.phone(None)
    page = (await phone.open(f"/e/{SLUG}/t/{thread_ids[0]}")).text
    assert f'href="/e/{SLUG}/results"' in page
    assert re.search(r'<textarea id="body"[^>]* disabled', page)


async def test_an_answer_over_500_characters_is_refused_with_a_message_never_cut(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    form = (await phone.open(f"/e/{SLUG}/t/{thread_id}")).text
    textarea = re.search(r"<textarea id=\"body\"[^>]*>", form)
    assert textarea and "maxlength" not in textarea.group(0) and 'data-max="500"' in textarea.group(0)
    assert '<p class="char-count" id="body-count"' in form and "0 / 500 caractères" in form

    long = "é" * 499 + " suite"
    for htmx in (True, False):
        refused = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": long}, htmx=htmx)
        assert refused.status_code == 422
        assert "505 caractères ; 500 au plus sont acceptés" in refused.text
        assert long in refused.text  # the draft comes back whole, to be shortened
        assert '<p class="char-count over"' in refused.text and "5 caractères de trop" in refused.text
    accepted = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "é" * 500}, htmx=True)
    assert accepted.status_code == 201


async def test_the_display_name_is_shown_beside_the_answers_and_the_form_says_so(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(None)
    profile = (await phone.open(f"/e/{SLUG}")).text
    assert "Ce nom est affiché à côté de vos réponses, pour tout le monde." in profile
    assert (
        await phone.submit(f"/e/{SLUG}/profile", {"segment": "", "name": "Camille <b>L.</b>"})
    ).status_code == 303
    await phone.open(f"/e/{SLUG}/t/{thread_id}")
    posted = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Signé de mon nom."}, htmx=True)
    assert posted.status_code == 201 and "Camille &lt;b&gt;L.&lt;/b&gt;" in posted.text

    stream = EventStream(board.app, f"/e/{SLUG}/t/{thread_id}/stream")
    other = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    try:
        await until(stream.has("counts"), "the stream is open")
        await other.submit(f"/e/{SLUG}/profile", {"segment": "", "name": "Dominique"})
        await other.open(f"/e/{SLUG}/t/{thread_id}")
        await other.submit(
            f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Une réponse signée en direct."}, htmx=True
        )
        await until(
            stream.has("answer", '<span class="author">Dominique</span>'), "the name rides with the answer"
        )
    finally:
        await stream.close()

    reader = await board.phone(None)
    page = (await reader.open(f"/e/{SLUG}/t/{thread_id}")).text
    card = re.search(
        r'<article class="answer"[^>]*>\s*<p class="body">Signé de mon nom\.</p>.*?</article>', page, re.S
    )
    assert card and '<span class="author">Camille &lt;b&gt;L.&lt;/b&gt;</span>' in card.group(0)
    anonymous = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await anonymous.submit(
        f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Sans nom, sans auteur affiché."}, htmx=True
    )
    page = (await reader.open(f"/e/{SLUG}/t/{thread_id}")).text
    card = re.search(
        r'<article class="answer"[^>]*>\s*<p class="body">Sans nom, sans auteur affiché\.</p>.*?</article>',
        page,
        re.S,
    )
    assert card and 'class="author"' not in card.group(0)


async def test_the_header_shows_the_event_and_its_date_in_the_page_language(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(None)
    for path in (f"/e/{SLUG}", f"/e/{SLUG}/t/{thread_id}"):
        french = (await phone.open(path)).text
        header = re.search(r'<header class="top">.*?</header>', french, re.S)
        assert header, path
        assert "Vers une République collaborative" in header.group(0) and "Debate Board" not in header.group(
            0
        )
        assert '<time datetime="2017-11-22">22 novembre 2017</time>' in header.group(0)
        assert 'class="lang" href="/lang/en?next=' in header.group(0)
    phone.http.cookies.set("lang", "en")
    english = (await phone.open(f"/e/{SLUG}")).text
    assert '<time datetime="2017-11-22">November 22, 2017</time>' in english
    assert 'class="lang" href="/lang/fr?next=' in english
