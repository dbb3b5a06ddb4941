"""CSV cells safe to open in a spreadsheet: a cell that a spreadsheet would read as a
formula (``=``, ``+``, ``-``, ``@``, tab, carriage return first, possibly after
apostrophes) is written with a leading apostrophe (OWASP "CSV injection");
``unguard`` removes exactly that apostrophe on import, so a round trip is exact."""

from __future__ import annotations

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _needs_guard(cell: str) -> bool:
    # apostrophes already in front are guarded too, so that import restores them exactly
    return cell.lstrip("'").startswith(_FORMULA_START)


def spreadsheet_safe(cell: str) -> str:
    return "'" + cell if _needs_guard(cell) else cell


def unguard(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and _needs_guard(cell[1:]) else cell
