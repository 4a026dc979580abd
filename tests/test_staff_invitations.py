"""An admin invites moderators and facilitators by one-time links, and takes roles back."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlmodel import select

from board.domain import accounts
from board.models import AuditEntry, Invitation, utcnow
from tests.conftest import PASSWORD, SLUG, Board, Phone

LINK = re.compile(r'value="http://testserver\.local(/invite/[A-Za-z0-9_-]+)"')
NEW_PASSWORD = "un mot de passe assez long"


async def invite(admin: Phone, role: str = "moderator", label: str = "Camille") -> str:
    await admin.open(f"/admin/events/{SLUG}/staff")
    response = await admin.submit(f"/admin/events/{SLUG}/invitations", {"role": role, "label": label})
    assert response.status_code == 201, response.text
    found = LINK.search(response.text)
    assert found, "the page shows the link"
    return found.group(1)


async def accept(board: Board, path: str, username: str, password: str = NEW_PASSWORD) -> Phone:
    person = await board.phone(None)
    page = await person.open(path)
    assert page.status_code == 200, page.text
    response = await person.submit(path, {"username": username, "password": password})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/mod/{SLUG}"
    return person


async def test_an_invited_moderator_chooses_a_password_and_lands_on_the_moderation_page(board: Board) -> None:
    admin = await board.staff(None, admin=True)
    path = await invite(admin, "moderator", "Camille Martin")
    async with board.ctx.db.session() as session:
        stored = (await session.exec(select(Invitation))).one()
    assert path.rsplit("/", 1)[1] not in stored.token_hash, "only a hash of the token is kept"
    assert timedelta(days=6, hours=23) < stored.expires_at - stored.created_at <= timedelta(days=7)

    camille = await accept(board, path, "camille")
    assert (await camille.open(f"/mod/{SLUG}")).status_code == 200
    hide = await camille.open(f"/mod/{SLUG}/audit")
    assert hide.status_code == 200, "a moderator reads the audit log"

    again = await board.phone("/login")
    assert (await again.open(path)).status_code == 410, "the link works once"
    assert (await again.submit(path, {"username": "other", "password": NEW_PASSWORD})).status_code == 410
    staff_page = (await admin.open(f"/admin/events/{SLUG}/staff")).text
    assert "camille" in staff_page and "Camille Martin" not in staff_page.split("Invitations en attente")[1]


async def test_a_facilitator_invitation_gives_only_the_facilitator_role(board: Board) -> None:
    admin = await board.staff(None, admin=True)
    dominique = await accept(board, await invite(admin, "facilitator", "Dominique"), "dominique")
    await dominique.open(f"/mod/{SLUG}")
    assert (await dominique.open(f"/mod/{SLUG}/audit")).status_code == 403


async def test_a_signed_in_person_takes_the_role_on_their_own_account(board: Board) -> None:
    admin = await board.staff(None, admin=True)
    stranger = await board.staff(None)
    assert (await stranger.open(f"/mod/{SLUG}")).status_code == 403
    path = await invite(admin, "facilitator")
    page = await stranger.open(path)
    assert "Accepter avec le compte" in page.text
    response = await stranger.submit(path, {})
    assert response.status_code == 303
    assert (await stranger.open(f"/mod/{SLUG}")).status_code == 200


async def test_bad_choices_are_refused_beside_the_field_and_keep_the_link(board: Board) -> None:
    admin = await board.staff(None, admin=True)
    await accounts.add_account(board.ctx, "taken", PASSWORD)
    path = await invite(admin)
    person = await board.phone(None)
    await person.open(path)
    short = await person.submit(path, {"username": "eden", "password": "short"})
    assert short.status_code == 422 and "12" in short.text and 'value="eden"' in short.text
    taken = await person.submit(path, {"username": "taken", "password": NEW_PASSWORD})
    assert taken.status_code == 409 and "existe déjà" in taken.text
    odd = await person.submit(path, {"username": "a b\x00", "password": NEW_PASSWORD})
    assert odd.status_code == 422
    assert (await person.submit(path, {"username": "eden", "password": NEW_PASSWORD})).status_code == 303


async def test_a_bad_role_or_label_gets_422_and_creates_no_invitation(board: Board) -> None:
    admin = await board.staff(None, admin=True)
    await admin.open(f"/admin/events/{SLUG}/staff")
    for fields in ({"role": "admin", "label": "x"}, {"role": "moderator", "label": "x" * 121}):
        response = await admin.submit(f"/admin/events/{SLUG}/invitations", fields)
        assert response.status_code == 422, fields
    async with board.ctx.db.session() as session:
        assert (await session.exec(select(Invitation))).all() == []


async def test_an_expired_or_withdrawn_link_answers_410_and_an_unknown_one_404(board: Board) -> None:
    admin = await board.staff(None, admin=True)
    expired = await invite(admin, label="Tard")
    withdrawn = await invite(admin, label="Annulé")
    async with board.ctx.db.writing() as session:
        for row in (await session.exec(select(Invitation).where(Invitation.label == "Tard"))).all():
            row.expires_at = utcnow() - timedelta(seconds=1)
            session.add(row)
        await session.commit()
        target = (await session.exec(select(Invitation).where(Invitation.label == "Annulé"))).one()
    await admin.open(f"/admin/events/{SLUG}/staff")
    response = await admin.submit(f"/admin/events/{SLUG}/invitations/{target.id}/withdraw", {})
    assert response.status_code == 303
    visitor = await board.phone(None)
    assert (await visitor.open(expired)).status_code == 410
    assert (await visitor.open(withdrawn)).status_code == 410
    assert "expiré" in (await visitor.open(withdrawn)).text
    assert (await visitor.open("/invite/not-a-token")).status_code == 404


async def test_one_link_opened_at_once_by_many_makes_one_account(board: Board) -> None:
    admin = await board.staff(None, admin=True)
    path = await invite(admin)
    people = [await board.phone(None) for _ in range(12)]
    for person in people:
        await person.open(path)
    answers = await asyncio.gather(
        *(p.submit(path, {"username": f"racer{i}", "password": NEW_PASSWORD}) for i, p in enumerate(people))
    )
    codes = sorted(r.status_code for r in answers)
    assert codes.count(303) == 1 and set(codes) <= {303, 410}, codes
    async with board.ctx.db.session() as session:
        joined = (await session.exec(select(AuditEntry).where(AuditEntry.action == "join"))).all()
    assert len(joined) == 1


async def test_a_revoked_person_keeps_the_session_but_gets_403_on_the_event(board: Board) -> None:
    admin = await board.staff(None, admin=True)
    camille = await accept(board, await invite(admin), "camille")
    assert (await camille.open(f"/mod/{SLUG}")).status_code == 200
    await admin.open(f"/admin/events/{SLUG}/staff")
    response = await admin.submit(f"/admin/events/{SLUG}/staff/camille/revoke", {})
    assert response.status_code == 303
    assert (await camille.open(f"/mod/{SLUG}")).status_code == 403, "signed in, but no role"
    assert (await camille.open("/account/password")).status_code == 200, "still signed in"
    again = await admin.submit(f"/admin/events/{SLUG}/staff/camille/revoke", {})
    assert again.status_code == 404
    nobody = await admin.submit(f"/admin/events/{SLUG}/staff/ghost/revoke", {})
    assert nobody.status_code == 404


async def test_only_admins_see_the_staff_page(board: Board) -> None:
    moderator = await board.staff("moderator")
    response = await moderator.open(f"/admin/events/{SLUG}/staff")
    assert response.status_code == 403 and "administrateurs" in response.text
    anonymous = await board.phone(None)
    response = await anonymous.open(f"/admin/events/{SLUG}/staff")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
