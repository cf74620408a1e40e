"""Character folds the agents' matching shares: one character in, one character out, so
offsets found in a folded text still point into the text as written."""

from __future__ import annotations

EASTERN_DIGITS = {
    **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic ٠…٩
    **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian ۰…۹
}
"""Arabic-Indic and Persian digits as ASCII digits."""
ARABIC_LETTER_VARIANTS = {"أ": "ا", "إ": "ا", "آ": "ا", "ة": "ه", "ى": "ي"}
"""Hamza-carrying alefs, ta marbuta and alef maqsura as their plain letters: citizens write
them either way."""
DIGITS = str.maketrans(EASTERN_DIGITS)
