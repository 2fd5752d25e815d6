"""Partner hotlines, from PARTNERS_FILE: a CSV of ``country,email,name``."""

from __future__ import annotations

import csv
from pathlib import Path

from notifier.exceptions import NotifierError
from notifier.policy import Partner
from settings.parse import COUNTRY, EMAIL


def load_partners(path: str | None) -> dict[str, Partner]:
    """Partners by country; an error names the line that is wrong."""
    if not path:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise NotifierError(f"PARTNERS_FILE {path}: cannot read it: {error.strerror}") from None
    partners = {}
    rows = csv.reader(text.splitlines())
    for line, row in enumerate(rows, 1):
        if not row or row[0].strip().lower() in ("", "country"):
            continue
        if len(row) < 3:
            raise NotifierError(f"PARTNERS_FILE {path}: line {line}: need country,email,name")
        country, email, name = (cell.strip() for cell in row[:3])
        if not COUNTRY.match(country.upper()) or not EMAIL.match(email):
            raise NotifierError(f"PARTNERS_FILE {path}: line {line}: bad country or email")
        partners[country.upper()] = Partner(country.upper(), email, name)
    return partners
