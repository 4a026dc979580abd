"""Headers and limits that protect participants: CSP without inline script, no framing, body size."""

from tests.conftest import SLUG, Board


async def test_pages_carry_a_strict_content_security_policy(board: Board) -> None:
    phone = await board.phone(None)
    page = await phone.open(f"/e/{SLUG}")
    csp = page.headers["content-security-policy"]
    script = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    assert "frame-ancestors 'none'" in csp
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and " on" + "click=" not in page.text


async def test_error_pages_carry_the_policy_too_unknown_urls_and_nul_bytes_included(board: Board) -> None:
    phone = await board.phone(None)
    for path, status in [
        ("/nulle-part", 404),
        (f"/e/{SLUG}%00/t/1", 404),
        ("/e/inconnu", 404),
        (f"/e/{SLUG}/t/999999", 404),
        ("/healthz/x", 404),
    ]:
        page = await phone.open(path)
        assert page.status_code == status, path
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"], path
        assert page.headers["x-frame-options"] == "DENY", path
        assert page.headers["cache-control"] == "no-store", path
    screen = await phone.open(f"/e/{SLUG}/screen")
    assert "x-frame-options" not in screen.headers
    assert "frame-ancestors" in screen.headers["content-security-policy"]


async def test_moderation_pages_are_never_cached(board: Board) -> None:
    moderator = await board.staff("moderator")
    page = await moderator.open(f"/mod/{SLUG}")
    assert "no-store" in page.headers["cache-control"]


async def test_bodies_over_64_kb_are_refused_with_413(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "x" * 70_000})
    assert response.status_code == 413


async def test_new_participants_are_limited_per_address_behind_a_trusted_proxy(tmp_path: object) -> None:
    """A visit stores nobody; the limit meets newcomers at their first answer or vote, per venue address."""
    from pathlib import Path

    from tests.conftest import start_board

    async for board in start_board(
        Path(str(tmp_path)), join_limit="3/minute", trusted_proxies=frozenset({"127.0.0.1"})
    ):
        thread_id = (await board.thread_ids())[0]
        thread = f"/e/{SLUG}/t/{thread_id}"
        venue = {"x-forwarded-for": "203.0.113.7"}
        phones = [await board.phone(None) for _ in range(6)]
        looks = [(await p.open(thread, headers=venue)).status_code for p in phones]
        assert looks == [200] * 6
        codes = []
        for n, phone in enumerate(phones[:4]):
            fields = {"body": f"Une réponse venue du même réseau, numéro {n}.", "_csrf_token": phone.csrf}
            codes.append((await phone.http.post(f"{thread}/answers", data=fields, headers=venue)).status_code)
        assert codes[:3] == [303, 303, 303] and codes[3] == 429
        elsewhere = {"x-forwarded-for": "198.51.100.2"}
        fields = {"body": "Une réponse venue d'ailleurs.", "_csrf_token": phones[5].csrf}
        assert (
            await phones[5].http.post(f"{thread}/answers", data=fields, headers=elsewhere)
        ).status_code == 303
