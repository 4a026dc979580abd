"""What an uploaded image really is, read from its own bytes: the name and type a browser sends prove nothing.

Only PNG, JPEG and WebP are taken: an SVG can carry script. Width and height come from the file's header,
so pages can reserve the logo's place, and a small file that would unpack into a huge bitmap on a phone is
refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from board.domain.errors import Invalid

MOST_BYTES = 256 * 1024
MOST_SIDE = 2048
"""Far more than a logo needs at 4K (about 200 pixels high), and a bitmap a phone decodes in 16 MB."""
PNG = b"\x89PNG\r\n\x1a\n"
NOT_AN_IMAGE = "Ce fichier n'est pas une image PNG, JPEG ou WebP."
SVG_REFUSED = (
    "Les images SVG sont refusées : elles peuvent contenir du script. Envoyez un PNG, un JPEG ou un WebP."
)
TOO_BIG = "Image de {size} Ko ; {most} Ko au plus."
TOO_WIDE = "Image de {width} sur {height} pixels ; {most} pixels au plus de chaque côté."


class TooLarge(Invalid):
    """Bigger than the board keeps: the upload is refused whole (413)."""


@dataclass(frozen=True)
class Image:
    media_type: str
    width: int
    height: int


def _png(data: bytes) -> Image | None:
    if not data.startswith(PNG) or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    return Image("image/png", int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"))


SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
"""JPEG start-of-frame markers, which hold the picture's size (0xC4, 0xC8, 0xCC are not frames)."""


def _jpeg(data: bytes) -> Image | None:
    if not data.startswith(b"\xff\xd8\xff"):
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD9)):
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if length < 2:
            return None
        if marker in SOF:
            if at + 9 > len(data):
                return None
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return Image("image/jpeg", width, height)
        if marker in (0xD9, 0xDA):
            return None
        at += 2 + length
    return None


def _webp(data: bytes) -> Image | None:
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
    elif chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
    else:
        return None
    return Image("image/webp", width, height)


def _looks_like_svg(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<svg", b"<?xml", b"<!doctype svg", b"<!--")) or b"<svg" in head


def read_image(data: bytes) -> Image:
    """The image's type and size, or a refusal a person can act on."""
    if len(data) > MOST_BYTES:
        raise TooLarge(TOO_BIG, size=-(-len(data) // 1024), most=MOST_BYTES // 1024)
    image = _png(data) or _jpeg(data) or _webp(data)
    if image is None:
        raise Invalid(SVG_REFUSED if _looks_like_svg(data) else NOT_AN_IMAGE)
    if not (0 < image.width <= MOST_SIDE and 0 < image.height <= MOST_SIDE):
        raise Invalid(TOO_WIDE, width=image.width, height=image.height, most=MOST_SIDE)
    return image
