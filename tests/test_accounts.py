"""Signing in: argon2id accounts, a fresh HttpOnly session per login, the same answer for every failure."""

import pytest
from argon2 import PasswordHasher, extract_parameters

from board.domain import accounts
from tests.conftest import PASSWORD, SLUG, Board


async def test_login_opens_a_session_and_logout_ends_it(board: Board) -> None:
    await accounts.add_account(board.ctx, "camille", PASSWORD, event_slug=SLUG, role="moderator")
    phone = await board.phone("/login")
    response = await phone.submit(
        "/login", {"username": "camille", "password": PASSWORD, "next": f"/mod/{SLUG}"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/mod/{SLUG}"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("board_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert (await phone.open(f"/mod/{SLUG}")).status_code == 200

    await phone.open(f"/mod/{SLUG}")
    assert (await phone.submit("/logout", {})).status_code == 303
    phone.http.cookies.set("board_session", cookie.split(";")[0].split("=", 1)[1])
    assert (await phone.open(f"/mod/{SLUG}")).status_code == 303, "the old token is dead"


async def test_each_login_issues_a_new_session_token(board: Board) -> None:
    await accounts.add_account(board.ctx, "dominique", PASSWORD, event_slug=SLUG)
    phone = await board.phone("/login")
    first = await phone.submit("/login", {"username": "dominique", "password": PASSWORD})
    await phone.open("/login")
    second = await phone.submit("/login", {"username": "dominique", "password": PASSWORD})
    token = [
        c.split(";")[0]
        for r in (first, second)
        for c in r.headers.get_list("set-cookie")
        if "board_session" in c
    ]
    assert len(token) == 2 and token[0] != token[1]


async def test_unknown_user_and_wrong_password_get_the_same_401(board: Board) -> None:
    await accounts.add_account(board.ctx, "eden", PASSWORD)
    phone = await board.phone("/login")
    wrong = await phone.submit("/login", {"username": "eden", "password": "nope-nope"})
    unknown = await phone.submit("/login", {"username": "ghost", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert "Identifiant ou mot de passe incorrect." in wrong.text
    assert wrong.text.replace("eden", "X") == unknown.text.replace("ghost", "X")


async def test_repeated_failures_are_limited_per_username(board: Board) -> None:
    await accounts.add_account(board.ctx, "fred", PASSWORD)
    phone = await board.phone("/login")
    for _ in range(10):
        assert (
            await phone.submit("/login", {"username": "fred", "password": "bad-password"})
        ).status_code == 401
    limited = await phone.submit("/login", {"username": "fred", "password": PASSWORD})
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers or "retry-after" in limited.headers
    other = await board.phone("/login")
    await accounts.add_account(board.ctx, "gaby", PASSWORD)
    assert (await other.submit("/login", {"username": "gaby", "password": PASSWORD})).status_code == 303


@pytest.mark.real_argon2
async def test_passwords_are_stored_as_argon2id(board: Board) -> None:
    from sqlmodel import select

    from board.models import Account

    await accounts.add_account(board.ctx, "hana", PASSWORD)
    async with board.ctx.db.session() as session:
        stored = (await session.exec(select(Account).where(Account.username == "hana"))).one()
    assert stored.password_hash.startswith("$argon2id$")
    production = PasswordHasher()  # the library's defaults, which the board keeps
    used = extract_parameters(stored.password_hash)
    assert (used.memory_cost, used.time_cost, used.parallelism) == (
        production.memory_cost,
        production.time_cost,
        production.parallelism,
    )
    assert used.memory_cost >= 65536, "at least 64 MiB"
    assert PASSWORD not in stored.password_hash
