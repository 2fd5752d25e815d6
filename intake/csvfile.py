"""Reading a CSV of reports: ``url`` required; ``ref``, ``sha256`` and ``category`` optional."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from intake.exceptions import IntakeError
from intake.submissions import Submission

COLUMNS = ("url", "ref", "sha256", "category")
# Fields may be long (a URL up to 8 KB is fine, longer is rejected with a reason):
# a limit that stops the reader would lose the rest of the file instead.
csv.field_size_limit(64 * 1024 * 1024)
# Bytes that were not UTF-8, as surrogateescape decoding leaves them.
_UNDECODED = re.compile("[\udc80-\udcff]")


class BadFile(IntakeError):
    """The file as a whole cannot be read as a CSV of reports; nothing is stored."""


@dataclass(frozen=True)
class BadRow:
    line: int
    input: str
    reason: str


def read_reports(path: str | Path) -> Iterator[Submission | BadRow]:
    """Yield a submission per data row, or a ``BadRow`` naming its line and why."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise BadFile(f"{path}: cannot read it: {error.strerror}") from None
    text = _decode(raw)
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    try:
        header = next(reader)
    except StopIteration:
        raise BadFile(f"{path}: the file is empty; it needs a header line with url") from None
    names = [name.strip().lower() for name in header]
    if "url" not in names:
        raise BadFile(f"{path}: the header has no url column (found: {', '.join(header)})")
    index = {name: names.index(name) for name in COLUMNS if name in names}
    line = reader.line_num
    try:
        for row in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            yield _row(row, index, start)
    except csv.Error as error:
        raise BadFile(f"{path}: line {line + 1}: not valid CSV: {error}") from None


def _row(row: list[str], index: dict[str, int], line: int) -> Submission | BadRow:
    cells = {name: row[i] if i < len(row) else "" for name, i in index.items()}
    url = cells["url"]
    if any(_UNDECODED.search(cell) for cell in row):
        return BadRow(line, _printable(url), "not UTF-8 text")
    if not url.strip():
        return BadRow(line, "", "no url")
    return Submission(
        url=url,
        ref=cells.get("ref") or None,
        sha256=(cells["sha256"],) if cells.get("sha256", "").strip() else (),
        category=cells.get("category") or None,
        line=line,
    )


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        # What spreadsheets save as "Unicode text".
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise BadFile("the file starts as UTF-16 but is not valid UTF-16") from None
    # Undecodable bytes become lone surrogates, so that the row holding them is
    # rejected by line number while the rest of the file is read.
    return raw.decode("utf-8-sig", errors="surrogateescape")


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:200]
