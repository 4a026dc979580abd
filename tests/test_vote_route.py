"""The vote route reads its own request: CSRF as strict as everywhere else, a vote-sized body, one widget."""

import re

import pytest

from board.domain import events
from board.web import i18n
from tests.conftest import SLUG, Board
from tests.test_votes import post_answer, vote_rows


async def test_a_vote_carries_its_token_in_the_header_or_in_the_form(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    by_header = await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
    assert by_header.status_code == 200
    by_form = await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "-1"})
    assert by_form.status_code == 303
    assert [v for _, v in await vote_rows(board, answer_id)] == [-1]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda token: token[:-1] + ("0" if token[-1] != "0" else "1"), id="forged signature"),
        pytest.param(lambda token: "0" * 64 + token[64:], id="another random part"),
        pytest.param(lambda token: "", id="empty"),
        pytest.param(lambda token: token + "\x00", id="NUL byte"),
    ],
)
async def test_a_vote_with_a_token_that_does_not_match_its_cookie_is_403(
    board: Board, tamper: object
) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    phone.csrf = tamper(phone.csrf)  # type: ignore[operator]
    for htmx in (True, False):
        response = await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=htmx)
        assert response.status_code == 403
    assert await vote_rows(board, answer_id) == []


async def test_a_cookie_signed_by_another_secret_is_refused_even_when_the_token_repeats_it(
    board: Board,
) -> None:
    from litestar.middleware.csrf import generate_csrf_token

    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    forged = generate_csrf_token("not the board's secret")
    phone.http.cookies.set("csrftoken", forged)
    phone.csrf = forged
    response = await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
    assert response.status_code == 403
    assert await vote_rows(board, answer_id) == []


async def test_a_body_larger_than_a_vote_is_413_and_a_body_not_in_utf8_is_refused(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    headers = {
        "HX-Request": "true",
        "x-csrftoken": phone.csrf,
        "content-type": "application/x-www-form-urlencoded",
    }
    large = await phone.http.post(
        f"/e/{SLUG}/answers/{answer_id}/vote", content=b"value=1&pad=" + b"x" * 10_000, headers=headers
    )
    assert large.status_code == 413
    latin1 = await phone.http.post(
        f"/e/{SLUG}/answers/{answer_id}/vote", content="value=1&scope=é".encode("latin-1"), headers=headers
    )
    assert latin1.status_code == 422
    assert await vote_rows(board, answer_id) == []
    ok = await phone.http.post(f"/e/{SLUG}/answers/{answer_id}/vote", content=b"value=1", headers=headers)
    assert ok.status_code == 200


async def test_the_first_value_of_a_repeated_field_counts(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    headers = {
        "HX-Request": "true",
        "x-csrftoken": phone.csrf,
        "content-type": "application/x-www-form-urlencoded",
    }
    response = await phone.http.post(
        f"/e/{SLUG}/answers/{answer_id}/vote", content=b"value=-1&value=1", headers=headers
    )
    assert response.status_code == 200
    assert [v for _, v in await vote_rows(board, answer_id)] == [-1]


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_the_vote_widget_answering_a_vote_is_the_one_its_template_draws(
    board: Board, language: str
) -> None:
    fragments = board.app.state.fragments
    token = i18n._current.set(language)
    try:
        for args in [
            (SLUG, 12, 3, 4, 1, False, True, ""),
            (SLUG, 7, 0, 0, 0, True, True, "similar"),
            ("autre-evenement", 99999, 120, 3, -1, False, False, ""),
            (SLUG, 5, 1, 0, 0, True, False, "similar"),
        ]:
            drawn = fragments.macro("components/vote_widget.html", "vote_widget", *args)
            assert fragments.vote_widget(*args) == drawn
            assert fragments.vote_widget(*args) == drawn
    finally:
        i18n._current.reset(token)


async def test_a_vote_answers_in_the_language_the_phone_chose(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    url = f"/e/{SLUG}/answers/{answer_id}/vote"
    french = await phone.submit(url, {"value": "1"}, htmx=True)
    assert "D&#39;accord" in french.text or "D'accord" in french.text
    assert french.headers["content-type"] == "text/html; charset=utf-8"
    assert int(french.headers["content-length"]) == len(french.content)
    phone.http.cookies.set("lang", "en")
    english = await phone.submit(url, {"value": "-1"}, htmx=True)
    assert "Agree" in english.text and "D'accord" not in english.text
    phone.http.cookies.delete("lang")
    asked = await phone.http.post(
        url,
        data={"value": "1"},
        headers={"HX-Request": "true", "x-csrftoken": phone.csrf, "accept-language": "en-GB,en;q=0.9"},
    )
    assert "Agree" in asked.text
    assert asked.headers["x-content-type-options"] == "nosniff"


async def test_a_vote_for_an_answer_id_out_of_range_is_404_and_counts_nothing(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    for wrong in ("0", "-3", "2147483648", "99999999999999999999"):
        response = await phone.submit(f"/e/{SLUG}/answers/{wrong}/vote", {"value": "1"}, htmx=True)
        assert response.status_code == 404, wrong
    assert await vote_rows(board, answer_id) == []


SAME_HEADERS = (
    "content-type",
    "cache-control",
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "hx-retarget",
    "hx-reswap",
    "retry-after",
)


async def test_a_vote_gets_the_same_answer_through_its_own_entry_and_through_the_router(board: Board) -> None:
    """A URL-encoded vote is answered before Litestar's router; the same vote sent as multipart goes
    through the router to the same route: statuses, headers and pages agree, errors included."""
    thread_id, first = await post_answer(board)
    _, second = await post_answer(board, "Une autre idée")
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")

    async def both(answer_ids: tuple[int, int], fields: dict[str, str], htmx: bool, token: str) -> None:
        headers = {"HX-Request": "true", "x-csrftoken": token} if htmx else {}
        sent = fields if htmx else {**fields, "_csrf_token": token}
        door = await phone.http.post(f"/e/{SLUG}/answers/{answer_ids[0]}/vote", data=sent, headers=headers)
        router = await phone.http.post(
            f"/e/{SLUG}/answers/{answer_ids[1]}/vote",
            files={name: (None, value) for name, value in sent.items()},
            headers=headers,
        )
        assert door.request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert router.request.headers["content-type"].startswith("multipart/form-data")
        assert door.status_code == router.status_code, (fields, htmx, door.text, router.text)
        for name in SAME_HEADERS:
            assert door.headers.get(name) == router.headers.get(name), name
        assert _unnumbered(door.text, answer_ids[0]) == _unnumbered(router.text, answer_ids[1])
        if door.status_code == 303:
            assert door.headers["location"].endswith(f"#a{answer_ids[0]}")
            assert router.headers["location"].endswith(f"#a{answer_ids[1]}")

    for htmx in (True, False):
        await both((first, second), {"value": "1"}, htmx, phone.csrf)
        await both((first, second), {"value": "0"}, htmx, phone.csrf)
        await both((first, second), {"value": "1"}, htmx, "forged")
        await both((first, second), {"value": "2"}, htmx, phone.csrf)
        await both((first, second), {"value": "\x00"}, htmx, phone.csrf)
        await both((2_000_000, 2_000_001), {"value": "1"}, htmx, phone.csrf)
        await both((0, 0), {"value": "1"}, htmx, phone.csrf)
    english = phone.http.cookies.set("lang", "en")
    assert english is None
    await both((first, second), {"value": "1"}, True, "forged")
    await both((first, second), {"value": "-1"}, True, phone.csrf)
    assert sorted(v for _, v in await vote_rows(board, first)) == [-1]
    assert sorted(v for _, v in await vote_rows(board, second)) == [-1]


def _unnumbered(page: str, answer_id: int) -> str:
    """The page with the answer's id taken out of element ids and links."""
    return re.sub(rf'((?:id="|#)[a-z]+|/answers/){answer_id}(?=["/])', r"\1ID", page)


async def test_only_the_vote_url_spelled_as_the_router_spells_it_is_taken_early(board: Board) -> None:
    """Other spellings of the vote URL get what Litestar's router gives them, as before."""
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    for path, status in [
        (f"/e/{SLUG}/answers/{answer_id}/vote", 200),
        (f"/e/{SLUG}/answers/+{answer_id}/vote", 200),
        (f"/e/{SLUG}/answers/{answer_id}/vote/", 200),
        (f"/e/{SLUG}/answers/{answer_id}/votes", 404),
        (f"/e/{SLUG}/answers/{answer_id}/vote/x", 404),
        (f"/e/{SLUG}/answers/{'٣'}/vote", 404),
        (f"/e/{SLUG}%00/answers/{answer_id}/vote", 404),
    ]:
        response = await phone.submit(path, {"value": "1" if status == 200 else "-1"}, htmx=True)
        assert response.status_code in (status, 405), (path, response.status_code, response.text)
    assert [v for _, v in await vote_rows(board, answer_id)] == [1]


async def test_a_first_vote_joins_the_answers_event_and_an_unknown_event_takes_nobody(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    phone.http.cookies.delete(f"bp_{SLUG}")
    elsewhere = await phone.submit(f"/e/nulle-part/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
    assert elsewhere.status_code == 404
    assert "set-cookie" not in elsewhere.headers
    first = await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    event = await events.get_event(board.ctx, SLUG)
    assert cookie.startswith(f"bp_{SLUG}={event.id}.") and f"Path=/e/{SLUG}" in cookie
    again = await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "-1"}, htmx=True)
    assert again.status_code == 200 and "set-cookie" not in again.headers
    assert [v for _, v in await vote_rows(board, answer_id)] == [-1]
