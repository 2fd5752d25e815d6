"""The public report page, ``/report``, and ``POST /api/public-reports``: no login.

Anyone may report what they saw: one or more URLs, what it was (or "not sure"), a few
words, and an email if they want to hear back. Every field is checked and every bad one
named before anything is stored. One client address may send PUBLIC_REPORTS_PER_HOUR
reports an hour, counted in the store by a keyed hash of the address (never the address
itself). The answer gives only the report's reference: never whether a URL was already
known, which would tell an uploader what the hotline knows.

The form carries a token signed with the store's key and the time it was served, so a
page elsewhere cannot post reports through a visitor's browser; the JSON API asks for a
JSON body, which a cross-site form cannot send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from intake.public import MAX_TEXT, MAX_URLS, SEEN, SEEN_LABELS, FieldErrors, check
from notifier.tokens import store_key
from store import submissions
from store.types import utcnow
from web.context import in_store, settings_of
from web.exceptions import BadRequest, Forbidden, TooMany
from web.pages.login import client_address
from web.routing import route
from web.templating import render

FORM_TTL = 4 * 3600  # seconds a served form may be sent back
MAX_FORM_BYTES = 64 * 1024
_REFERENCE = re.compile(r"^S-[A-Z2-9]{8}$")
_TOKEN = re.compile(r"[0-9]{1,12}\.[0-9a-f]{64}", re.ASCII)


async def form(request: Request) -> Response:
    token = await in_store(request, _form_token, settings_of(request).secret_key, int(time.time()))
    return _page(request, token)


async def submit(request: Request) -> Response:
    _same_site(request)
    fields = await request.form(max_fields=8, max_part_size=MAX_FORM_BYTES)
    values = {name: _text(fields, name) for name in ("urls", "seen", "text", "email", "token")}
    secret = settings_of(request).secret_key
    if not await in_store(request, _token_is_good, secret, values["token"] or "", time.time()):
        raise Forbidden("this form has expired or did not come from this site; reload the page")
    try:
        report = check(values["urls"] or "", values["seen"], values["text"], values["email"])
    except FieldErrors as error:
        return _page(request, values["token"], errors=error.errors, values=values, status=400)
    received = await _receive(request, report)
    return RedirectResponse(f"/report/done?ref={received.reference}", status_code=303)


async def done(request: Request) -> Response:
    reference = request.query_params.get("ref", "")
    return render(
        request, "public_done.html", reference=reference if _REFERENCE.match(reference) else None
    )


async def api_submit(request: Request) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise BadRequest("send the report as JSON (Content-Type: application/json)")
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("the body is not JSON (or nests too deep)") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = set(body) - {"urls", "seen", "text", "email"}
    if unknown:
        raise BadRequest(f"unknown field {sorted(unknown)[0]!r}: use urls, seen, text, email")
    try:
        report = check(body.get("urls"), body.get("seen"), body.get("text"), body.get("email"))
    except FieldErrors as error:
        return JSONResponse({"error": str(error), "fields": error.errors}, status_code=400)
    received = await _receive(request, report)
    return JSONResponse(
        {"reference": received.reference, "urls": len(received.ids)}, status_code=201
    )


async def _receive(request: Request, report) -> submissions.Received:
    settings, address = settings_of(request), client_address(request)

    def store(session):
        digest = submissions.client_digest(store_key(session, settings.secret_key), address)
        return submissions.receive(
            session, report, client=digest, per_hour=settings.public_reports_per_hour, now=utcnow()
        )

    try:
        return await in_store(request, store)
    except submissions.TooManyReports as error:
        raise TooMany(str(error), error.retry_after) from None


def _same_site(request: Request) -> None:
    """Refuse a form a page elsewhere makes a visitor's browser send: browsers say so in
    Sec-Fetch-Site, and in an Origin that is not this server's."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("this form was sent from another site; report on this site's own page")
    origin = request.headers.get("origin")
    public_url = settings_of(request).public_url
    ours = {request.headers.get("host"), urlsplit(public_url).netloc if public_url else None}
    if origin and origin != "null" and urlsplit(origin).netloc not in ours:
        raise Forbidden("this form was sent from another site; report on this site's own page")


def _form_token(session, secret: str | None, issued: int) -> str:
    mac = hmac.new(store_key(session, secret), f"public-form:{issued}".encode(), hashlib.sha256)
    return f"{issued}.{mac.hexdigest()}"


def _token_is_good(session, secret: str | None, token: str, now: float) -> bool:
    if not _TOKEN.fullmatch(token):
        return False
    issued = token.partition(".")[0]
    if not 0 <= now - int(issued) <= FORM_TTL:
        return False
    return hmac.compare_digest(_form_token(session, secret, int(issued)), token)


def _page(request, token, *, errors=None, values=None, status: int = 200) -> Response:
    return render(
        request,
        "public_report.html",
        status=status,
        token=token,
        errors=errors or {},
        values=values or {},
        seen=[(code, SEEN_LABELS[code]) for code in SEEN],
        max_text=MAX_TEXT,
        max_urls=MAX_URLS,
    )


def _text(form, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


routes = [
    route("/report", GET=form, POST=submit),
    route("/report/done", GET=done),
    route("/api/public-reports", POST=api_submit),
]
