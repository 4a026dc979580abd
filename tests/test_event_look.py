"""An event's look: organisers set an accent colour and a logo; phones and the projector use them."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from board.domain.errors import Invalid
from board.domain.images import read_image
from board.domain.look import contrast, floored
from board.domain.seeding import SeedError, seed_file
from board.models import AuditEntry, Event, EventLogo
from tests.conftest import SLUG, Board, Phone
from tests.pictures import SVG, jpeg_header, png, png_header, webp_lossless_header, webp_lossy_header
from tests.test_event_admin import _form_values, create

PLUM = "#8a1c7c"


async def admin_on_event(board: Board) -> Phone:
    admin = await board.staff(None, admin=True)
    assert (await admin.open(f"/admin/events/{SLUG}")).status_code == 200
    return admin


async def send_form(admin: Phone, slug: str = SLUG, **changes: str) -> httpx.Response:
    """The event's form sent back as a browser shows it, with some fields changed."""
    page = await admin.open(f"/admin/events/{slug}")
    fields = _form_values(page.text)
    fields.update(changes)
    return await admin.submit(f"/admin/events/{slug}", fields)


async def upload(
    admin: Phone, data: bytes, name: str = "logo.png", kind: str = "image/png", slug: str = SLUG
) -> httpx.Response:
    files = {"file": (name, data, kind)}
    return await admin.http.post(f"/admin/events/{slug}/logo", data={"_csrf_token": admin.csrf}, files=files)


async def event_row(board: Board, slug: str = SLUG) -> Event:
    async with board.ctx.db.session() as session:
        return (await session.exec(select(Event).where(Event.slug == slug))).one()


async def actions(board: Board) -> list[str]:
    async with board.ctx.db.session() as session:
        return list(await session.exec(select(AuditEntry.action).order_by(col(AuditEntry.id))))


def test_the_contrast_ratio_gives_the_known_wcag_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#ffffff", "#000000") == pytest.approx(21)
    assert contrast("#1f4fd6", "#1f4fd6") == pytest.approx(1)
    # The greys either side of 4.5:1 on white, as WebAIM's checker gives them.
    assert floored(contrast("#767676", "#ffffff")) == 4.54
    assert floored(contrast("#777777", "#ffffff")) == 4.47
    assert floored(contrast("#ff0000", "#ffffff")) == 3.99
    assert floored(contrast("#0000ff", "#ffffff")) == 8.59


def test_images_are_known_by_their_own_bytes() -> None:
    assert read_image(png(120, 40)).__dict__ == {"media_type": "image/png", "width": 120, "height": 40}
    assert read_image(jpeg_header(640, 480)).__dict__ == {
        "media_type": "image/jpeg",
        "width": 640,
        "height": 480,
    }
    assert read_image(webp_lossless_header(300, 90)).__dict__ == {
        "media_type": "image/webp",
        "width": 300,
        "height": 90,
    }
    assert read_image(webp_lossy_header(200, 100)).__dict__ == {
        "media_type": "image/webp",
        "width": 200,
        "height": 100,
    }
    assert read_image(png_header(2048, 10)).width == 2048, "as wide as a logo is allowed"
    for refused in (
        png_header(2049, 10),
        png_header(10, 2049),
        png_header(0, 10),
        b"",
        b"\x00" * 64,
        b"GIF89a" + b"\x00" * 40,
        png(10, 10)[:20],
        b"\xff\xd8\xff\xe0\x00",
    ):
        with pytest.raises(Invalid):
            read_image(refused)


async def test_an_organiser_gives_the_event_its_accent_and_every_screen_wears_it(board: Board) -> None:
    admin = await admin_on_event(board)
    form = await admin.open(f"/admin/events/{SLUG}")
    assert 'type="color" value="#1f4fd6"' in form.text, "the picker starts from the board's blue"
    assert re.search(r'name="accent_default" value="1" checked', form.text)

    saved = await send_form(admin, accent=PLUM.upper())
    assert saved.status_code == 303, saved.text
    assert (await event_row(board)).accent == PLUM
    assert f'type="color" value="{PLUM}"' in (await admin.open(f"/admin/events/{SLUG}")).text

    phone = await board.phone()
    thread_id = (await board.thread_ids())[0]
    for path in (f"/e/{SLUG}", f"/e/{SLUG}/t/{thread_id}", f"/e/{SLUG}/privacy", f"/e/{SLUG}/me"):
        assert f'<body style="--brand:{PLUM};"' in (await phone.open(path)).text, path
    screen = (await phone.open(f"/e/{SLUG}/screen")).text
    assert f'style="--accent:{PLUM};--bridge:{PLUM};"' in screen
    redrawn = await phone.open(f"/e/{SLUG}/screen?block=board", headers={"HX-Request": "true"})
    assert redrawn.text.startswith("<main") and f"--accent:{PLUM};" in redrawn.text, (
        "a redraw brings a new accent"
    )
    assert (
        f'<body class="results-page" style="--bridge:{PLUM};">'
        in (await phone.open(f"/e/{SLUG}/results")).text
    )
    assert f'accent = "{PLUM}"' in (await admin.open(f"/admin/events/{SLUG}/event.toml")).text

    back = await send_form(admin, accent=PLUM, accent_shown=PLUM, accent_default="1")
    assert back.status_code == 303
    assert (await event_row(board)).accent == ""
    assert "--brand" not in (await phone.open(f"/e/{SLUG}")).text


@pytest.mark.parametrize(
    ("colour", "message"),
    [
        ("red", "Une couleur s&#39;écrit #rrggbb"),
        ("#12345", "Une couleur s&#39;écrit #rrggbb"),
        ("#8a1c7c;background:url(x)", "Une couleur s&#39;écrit #rrggbb"),
        ("#8a1c7c\x00", "caractère nul"),
        ("#" + "8" * 50_000, "Une couleur s&#39;écrit #rrggbb"),
        ("#ffff00", "Contraste de 1:1 seulement"),
        ("#767676", "Contraste de 4,23:1 seulement"),
        ("#ffffff", "Contraste de 1:1 seulement"),
    ],
    ids=["name", "short", "injection", "nul", "huge", "yellow", "grey-passing-on-white-only", "white"],
)
async def test_a_colour_that_is_not_one_or_is_too_pale_is_refused_beside_the_field(
    board: Board, colour: str, message: str
) -> None:
    admin = await admin_on_event(board)
    refused = await send_form(admin, accent=colour)
    assert refused.status_code == 422
    text = refused.text
    assert message in text
    assert 'id="f-accent-error"' in text and 'aria-describedby="f-accent-hint f-accent-error"' in text
    assert (await event_row(board)).accent == ""


async def test_the_contrast_message_speaks_english_on_english_pages(board: Board) -> None:
    admin = await admin_on_event(board)
    admin.http.cookies.set("lang", "en")
    refused = await send_form(admin, accent="#777777")
    assert refused.status_code == 422
    assert "Contrast of only 4.17:1" in refused.text
    assert "at least 4.5:1" in refused.text


async def test_the_accent_travels_in_toml_and_seed_files_and_a_pale_one_is_refused_there(
    board: Board, tmp_path: Path
) -> None:
    admin = await admin_on_event(board)
    toml = b'[event]\nslug = "atelier-violet"\ntitle = "Atelier violet"\naccent = "#8A1C7C"\n'
    imported = await admin.http.post(
        "/admin/import",
        data={"_csrf_token": admin.csrf},
        files={"file": ("e.toml", toml, "application/toml")},
    )
    assert imported.status_code == 303, imported.text
    assert (await event_row(board, "atelier-violet")).accent == PLUM

    pale = toml.replace(b"atelier-violet", b"atelier-jaune").replace(b"#8A1C7C", b"#eeee00")
    refused = await admin.http.post(
        "/admin/import",
        data={"_csrf_token": admin.csrf},
        files={"file": ("e.toml", pale, "application/toml")},
    )
    assert refused.status_code == 422
    assert "accent : Contraste de" in refused.text

    seed = tmp_path / "seed.toml"
    seed.write_text('[event]\nslug = "graine"\ntitle = "Graine"\naccent = "#0b5d1e"\n', encoding="utf-8")
    await seed_file(board.ctx, seed)
    assert (await event_row(board, "graine")).accent == "#0b5d1e"
    seed.write_text('[event]\nslug = "graine-pale"\ntitle = "Pâle"\naccent = "#ccffcc"\n', encoding="utf-8")
    with pytest.raises(SeedError, match=r"Contraste de 1\.04:1"):
        await seed_file(board.ctx, seed)


async def test_an_uploaded_logo_is_served_by_the_board_and_shown_on_phones_and_projector(
    board: Board,
) -> None:
    admin = await admin_on_event(board)
    picture = png(120, 40)
    sent = await upload(admin, picture)
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"/admin/events/{SLUG}#logo"
    event = await event_row(board)
    assert (event.logo_width, event.logo_height) == (120, 40)
    version = event.logo_version
    assert version and re.fullmatch(r"[0-9a-f]{16}", version)
    assert (await actions(board))[-1] == "logo-set"

    phone = await board.phone()
    img = f'src="/e/{SLUG}/logo?v={version}" alt="Logo de Vers une République collaborative" width="120" height="40"'
    assert img in (await phone.open(f"/e/{SLUG}")).text
    assert img in (await phone.open(f"/e/{SLUG}/t/{(await board.thread_ids())[0]}")).text
    assert img in (await phone.open(f"/e/{SLUG}/screen")).text
    assert img in (await phone.open(f"/e/{SLUG}/screen?show=join")).text
    assert img in (await phone.open(f"/e/{SLUG}/results")).text
    assert "data:image/png" not in (await phone.open(f"/e/{SLUG}")).text

    served = await phone.open(f"/e/{SLUG}/logo?v={version}")
    assert served.status_code == 200 and served.content == picture
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "content-encoding" not in served.headers
    unversioned = await phone.open(f"/e/{SLUG}/logo")
    assert unversioned.status_code == 200 and unversioned.headers["cache-control"] == "public, max-age=300"
    head = await phone.http.head(f"/e/{SLUG}/logo?v={version}")
    assert head.status_code == 200 and head.content == b""

    replaced = await upload(admin, webp_lossless_header(300, 90), name="logo.webp", kind="image/webp")
    assert replaced.status_code == 303
    newer = (await event_row(board)).logo_version
    assert newer != version
    again = await phone.open(f"/e/{SLUG}/logo?v={newer}")
    assert again.headers["content-type"] == "image/webp"
    async with board.ctx.db.session() as session:
        assert len(list(await session.exec(select(EventLogo)))) == 1, "one logo an event, replaced in place"


async def test_a_logo_over_256_kb_is_refused_with_413_and_a_message(board: Board) -> None:
    admin = await admin_on_event(board)
    big = png(16, 16) + b"\x00" * (300 * 1024)
    refused = await upload(admin, big)
    assert refused.status_code == 413
    assert "Image de 301 Ko ; 256 Ko au plus." in refused.text
    assert 'id="f-logo-error"' in refused.text
    huge = await upload(admin, b"\x00" * (2 * 1024 * 1024))
    assert huge.status_code == 413
    assert "trop volumineux" in huge.text, "beyond what the route reads at all: a page in French"
    assert (await event_row(board)).logo_version is None
    assert "logo-set" not in await actions(board)


@pytest.mark.parametrize(
    ("data", "name", "kind", "message"),
    [
        (SVG, "logo.svg", "image/svg+xml", "Les images SVG sont refusées"),
        (SVG, "logo.png", "image/png", "Les images SVG sont refusées"),
        (b"<svg onload=alert(1)>", "logo.png", "image/png", "Les images SVG sont refusées"),
        (b"GIF89a" + b"\x00" * 100, "logo.png", "image/png", "n&#39;est pas une image PNG, JPEG ou WebP"),
        (b"<html><script>alert(1)</script>", "logo.jpg", "image/jpeg", "n&#39;est pas une image PNG"),
        (b"\x00" * 512, "logo\x00.png", "image/png", "n&#39;est pas une image PNG"),
        (png_header(100_000, 100_000), "bomb.png", "image/png", "100000 sur 100000 pixels"),
        (b"", "logo.png", "image/png", "Choisissez une image PNG, JPEG ou WebP"),
    ],
    ids=["svg", "svg-named-png", "bare-svg", "gif", "html-named-jpeg", "nul", "huge-bitmap", "empty"],
)
async def test_what_is_not_a_png_jpeg_or_webp_is_refused_whatever_it_claims(
    board: Board, data: bytes, name: str, kind: str, message: str
) -> None:
    admin = await admin_on_event(board)
    refused = await upload(admin, data, name=name, kind=kind)
    assert refused.status_code == 422
    assert message in refused.text
    assert (await event_row(board)).logo_version is None
    assert (await (await board.phone()).open(f"/e/{SLUG}/logo")).status_code == 404


async def test_a_logo_is_removed_and_its_address_then_answers_404(board: Board) -> None:
    admin = await admin_on_event(board)
    assert (await upload(admin, png())).status_code == 303
    version = (await event_row(board)).logo_version
    assert "Retirer le logo" in (await admin.open(f"/admin/events/{SLUG}")).text
    removed = await admin.submit(f"/admin/events/{SLUG}/logo/remove", {})
    assert removed.status_code == 303
    assert (await actions(board))[-2:] == ["logo-set", "logo-remove"]
    phone = await board.phone()
    assert (await phone.open(f"/e/{SLUG}/logo?v={version}")).status_code == 404
    assert "/logo?v=" not in (await phone.open(f"/e/{SLUG}")).text
    assert (await admin.submit(f"/admin/events/{SLUG}/logo/remove", {})).status_code == 404
    audit = (await admin.open(f"/mod/{SLUG}/audit")).text
    assert "a changé le logo de l&#39;événement" in audit and "a retiré le logo de l&#39;événement" in audit


async def test_a_draft_shows_its_logo_to_organisers_only_and_an_archived_event_keeps_its_own(
    board: Board,
) -> None:
    admin = await admin_on_event(board)
    draft = (await create(board, admin)).rsplit("/", 1)[-1]
    assert (await upload(admin, png(), slug=draft)).status_code == 303
    version = (await event_row(board, draft)).logo_version
    page = (await admin.open(f"/admin/events/{draft}")).text
    assert f'src="/admin/events/{draft}/logo?v={version}"' in page
    preview = await admin.open(f"/admin/events/{draft}/logo?v={version}")
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
    assert (await (await board.phone(None)).open(f"/e/{draft}/logo?v={version}")).status_code == 404

    assert (await send_form(admin, status="closed")).status_code == 303
    assert (await send_form(admin, status="archived")).status_code == 303
    assert (await upload(admin, png())).status_code == 409
    assert 'id="logo-upload"' not in (await admin.open(f"/admin/events/{SLUG}")).text


async def test_logo_routes_refuse_a_nul_in_the_address_and_a_post_without_its_token(board: Board) -> None:
    admin = await admin_on_event(board)
    assert (await admin.open(f"/e/{SLUG}%00/logo")).status_code == 404
    files = {"file": ("logo.png", png(), "image/png")}
    assert (await admin.http.post(f"/admin/events/{SLUG}/logo", files=files)).status_code == 403
    assert (await event_row(board)).logo_version is None


async def test_two_organisers_uploading_at_once_leave_one_logo_that_pages_and_file_agree_on(
    board: Board,
) -> None:
    first, second = await admin_on_event(board), await admin_on_event(board)
    pictures = [png(60, 20, (10, 60, 120)), png(90, 30, (120, 20, 10))]
    sent = await asyncio.gather(upload(first, pictures[0]), upload(second, pictures[1]))
    assert [r.status_code for r in sent] == [303, 303]
    event = await event_row(board)
    async with board.ctx.db.session() as session:
        logos = list(await session.exec(select(EventLogo)))
    assert len(logos) == 1
    assert logos[0].sha256[:16] == event.logo_version
    assert hashlib.sha256(logos[0].data).hexdigest() == logos[0].sha256
    assert (event.logo_width, event.logo_height) == ((60, 20) if logos[0].data == pictures[0] else (90, 30))
    assert (await actions(board))[-2:] == ["logo-set", "logo-set"]


async def test_without_script_a_moved_picker_wins_over_the_box_left_ticked(board: Board) -> None:
    admin = await admin_on_event(board)
    page = (await admin.open(f"/admin/events/{SLUG}")).text
    assert 'name="accent_shown" value="#1f4fd6"' in page
    moved = await send_form(admin, accent=PLUM, accent_shown="#1f4fd6", accent_default="1")
    assert moved.status_code == 303
    assert (await event_row(board)).accent == PLUM
    kept = await send_form(admin, accent="#0b5d1e", accent_shown=PLUM)
    assert kept.status_code == 303
    assert (await event_row(board)).accent == "#0b5d1e"
    untouched = await send_form(admin, accent="#0b5d1e", accent_shown="#0b5d1e", accent_default="1")
    assert untouched.status_code == 303
    assert (await event_row(board)).accent == "", "ticking the box alone brings the board's blue back"
