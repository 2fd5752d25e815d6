"""The queue page: paste URLs, or upload a CSV like ``ntd import`` takes.

Both go through ``intake.queueing``, as the command line does, so an input is accepted or
rejected here exactly as it would be there. Every rejected line comes back with its line
number and reason, and the pasted ones are put back in the box to be corrected.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from intake.categories import CATEGORIES
from intake.csvfile import BadFile, BadRow, read_reports
from intake.queueing import queue_submissions
from intake.submissions import Submission
from web.auth import requires
from web.context import in_thread, settings_of, store_of
from web.routing import route
from web.templating import render


@requires("reports")
async def queue_form(request: Request) -> Response:
    return _page(request)


@requires("reports")
async def queue_pasted(request: Request) -> Response:
    form = await request.form()
    urls, ref = str(form.get("urls") or ""), str(form.get("ref") or "")
    category = str(form.get("category") or "") or None
    sha256 = tuple(
        line.strip() for line in str(form.get("sha256") or "").splitlines() if line.strip()
    )
    submissions = [
        Submission(url=line, ref=ref or None, sha256=sha256, category=category, line=number)
        for number, line in enumerate(urls.splitlines(), 1)
        if line.strip()
    ]
    if not submissions:
        return _page(request, status=400, error="Paste at least one URL.")
    accepted, rejected = await in_thread(_queue, request, submissions)
    return _page(
        request,
        status=200 if accepted else 400,
        accepted=accepted,
        rejected=rejected,
        # The rejected lines go back into the box, to be corrected and sent again.
        urls="\n".join(row.input for row in rejected),
        ref=ref,
        category=category,
    )


@requires("reports")
async def queue_uploaded(request: Request) -> Response:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, status=400, error="Choose a CSV file to upload.")
    name = Path(upload.filename).name
    try:
        rows = await in_thread(_read_upload, upload, name)
    except BadFile as error:
        return _page(request, status=400, error=str(error))
    submissions = [row for row in rows if isinstance(row, Submission)]
    bad = [row for row in rows if isinstance(row, BadRow)]
    accepted, rejected = await in_thread(_queue, request, submissions)
    bad = sorted(bad + rejected, key=lambda row: row.line)
    return _page(
        request,
        status=200 if accepted or not bad else 400,
        accepted=accepted,
        rejected=bad,
        uploaded=name,
    )


def _queue(request: Request, submissions: list[Submission]):
    return queue_submissions(
        store_of(request),
        submissions,
        actor=request.state.principal.name,
        default_category=settings_of(request).default_category,
    )


def _read_upload(upload: UploadFile, name: str) -> list:
    # The CSV reader takes a path: it sniffs the encoding from the raw bytes. The copy
    # lives as long as the reading, in a directory only this process can enter.
    with tempfile.TemporaryDirectory(prefix="ntd-upload-") as folder:
        path = Path(folder) / "upload.csv"
        upload.file.seek(0)
        with path.open("wb") as copy:
            shutil.copyfileobj(upload.file, copy)
        try:
            return list(read_reports(path))
        except BadFile as error:
            raise BadFile(str(error).replace(str(path), name)) from None


def _page(request: Request, *, status: int = 200, **context) -> Response:
    context.setdefault("default_category", settings_of(request).default_category)
    return render(request, "queue.html", status=status, categories=CATEGORIES, **context)


routes = [
    route("/queue", GET=queue_form, POST=queue_pasted),
    route("/queue/upload", POST=queue_uploaded),
]
