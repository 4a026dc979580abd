"""An event's accent colour, refused unless text drawn with it stays readable where the board uses it.

The accent replaces the board's blue: white text on buttons and badges, links and bars on the phones'
light background, bridge tags and bars on the projector's white. WCAG 2.x asks 4.5:1 for text.
"""

from __future__ import annotations

import math
import re

DEFAULT_ACCENT = "#1f4fd6"
MINIMUM = 4.5
HEX = re.compile(r"#[0-9a-f]{6}")
BACKGROUNDS = ("#ffffff", "#f6f7f9")
"""Every colour the accent meets as text or behind text: white text on buttons, the phones' background,
cards and the projector's white."""

NOT_A_COLOUR = "Une couleur s'écrit #rrggbb (six chiffres hexadécimaux), par exemple #8a1c7c."
TOO_PALE = (
    "Contraste de {ratio}:1 seulement avec le blanc et le fond clair des pages ; il faut au moins 4,5:1 "
    "pour que le texte reste lisible. Choisissez une couleur plus foncée."
)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG relative luminance of `#rrggbb`."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(one: str, other: str) -> float:
    """WCAG contrast ratio, from 1 (same colour) to 21 (black on white)."""
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def floored(ratio: float) -> float:
    """Two decimals, rounded down: 4.47 must not be shown as the 4.5 it fails."""
    return math.floor(ratio * 100) / 100


def read_accent(raw: object) -> tuple[str, tuple[str, dict[str, object]] | None]:
    """The accent to store ("" for the board's blue) and the problem with it, if any."""
    text = "" if raw is None else str(raw).strip().lower()
    if "\x00" in text:
        return "", ("Ce champ contient un caractère nul (U+0000) : retirez-le.", {})
    if text in ("", DEFAULT_ACCENT):
        return "", None
    if not HEX.fullmatch(text):
        return "", (NOT_A_COLOUR, {})
    ratio = min(contrast(text, background) for background in BACKGROUNDS)
    if ratio < MINIMUM:
        return "", (TOO_PALE, {"ratio": floored(ratio)})
    return text, None
