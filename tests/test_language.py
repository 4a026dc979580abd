"""French first, English second: chosen from Accept-Language, switched by a link, remembered."""

from tests.conftest import SLUG, Board


async def test_the_browser_language_picks_english(board: Board) -> None:
    phone = await board.phone(None)
    english = await phone.http.get(f"/e/{SLUG}", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert '<html lang="en">' in english.text
    assert "Questions" in english.text and "Les questions" not in english.text
    french = await phone.http.get(f"/e/{SLUG}", headers={"Accept-Language": "de-DE,fr;q=0.5"})
    assert '<html lang="fr">' in french.text and "Les questions" in french.text


async def test_the_switch_is_remembered(board: Board) -> None:
    phone = await board.phone(None)
    switched = await phone.http.get(f"/lang/en?next=/e/{SLUG}")
    assert switched.status_code == 303 and switched.headers["location"] == f"/e/{SLUG}"
    page = await phone.http.get(f"/e/{SLUG}", headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in page.text
    assert 'href="/lang/fr?next=' in page.text
    assert (await phone.http.get("/lang/de")).status_code == 404
    outside = await phone.http.get("/lang/fr?next=https://evil.example")
    assert outside.headers["location"] == "/"


async def test_errors_speak_the_chosen_language(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    phone.http.cookies.set("lang", "en")
    response = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "x" * 501}, htmx=True)
    assert response.status_code == 422
    assert "501" in response.text and "500" in response.text
    assert "caractères" not in response.text
    missing = await phone.open("/e/nope")
    assert missing.status_code == 404 and "existe" not in missing.text


async def test_the_projector_and_moderation_are_translated(board: Board) -> None:
    moderator = await board.staff("moderator")
    moderator.http.cookies.set("lang", "en")
    mod = (await moderator.open(f"/mod/{SLUG}")).text
    assert "File d&#39;attente" not in mod and "Modération" not in mod
    screen = (await moderator.open(f"/e/{SLUG}/screen")).text
    assert "Rejoignez le débat" not in screen and '<html lang="en">' in screen


def test_the_english_catalog_is_complete_and_keeps_placeholders() -> None:
    import re

    from babel.messages.pofile import read_po

    from tests.conftest import ROOT

    fields = re.compile(r"\{\w+\}|%\(\w+\)[sd]|%%")
    with (ROOT / "board/translations/en/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po, locale="en")
    entries = [m for m in catalog if m.id]
    assert len(entries) > 150
    for message in entries:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {ids[0]!r}"
        assert sorted(fields.findall(ids[-1])) == sorted(fields.findall(strings[-1])), ids[0]
