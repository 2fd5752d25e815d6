"""Administration (admins only): users and staff's own abuse contacts.

A new user's API token, and a replaced one, is shown once, on the page that answers the
form: the store keeps only its hash.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store.contacts import BadContact, list_contacts, remove_contact, set_contact
from store.types import utcnow
from store.users import ROLES, BadUser, add_user, find_user, list_users, replace_token
from store.users import set_disabled as set_user_disabled
from web.auth import requires
from web.context import in_store
from web.exceptions import Missing
from web.routing import route
from web.templating import render


@requires("admin")
async def users(request: Request) -> Response:
    return await _users_page(request)


@requires("admin")
async def user_added(request: Request) -> Response:
    form = await request.form()
    name, role = str(form.get("name") or "").strip(), str(form.get("role") or "")
    password, actor = str(form.get("password") or ""), request.state.principal.name
    try:
        _user, token = await in_store(
            request, add_user, name, role, password, actor=actor, now=utcnow()
        )
    except BadUser as error:
        return await _users_page(request, status=400, error=str(error), name=name, role=role)
    return await _users_page(request, token_for=name, token=token)


@requires("admin")
async def user_changed(request: Request) -> Response:
    name, action = request.path_params["name"], request.path_params["action"]
    actor = request.state.principal.name
    if action not in ("disable", "enable", "token"):
        raise Missing(f"there is no action {action!r}")
    if action == "disable" and name == actor:
        return await _users_page(request, status=400, error="You cannot disable yourself.")

    def change(session):
        user = find_user(session, name)
        if action == "token":
            return replace_token(session, user, actor=actor, now=utcnow())
        set_user_disabled(session, user, action == "disable", actor=actor, now=utcnow())
        return None

    token = await in_store(request, change)
    if token:
        return await _users_page(request, token_for=name, token=token)
    return RedirectResponse("/admin/users", status_code=303)


async def _users_page(request: Request, *, status: int = 200, **context) -> Response:
    people = await in_store(request, list_users)
    return render(request, "users.html", status=status, users=people, roles=ROLES, **context)


@requires("admin")
async def contacts(request: Request) -> Response:
    return await _contacts_page(request)


@requires("admin")
async def contact_set(request: Request) -> Response:
    form = await request.form()
    key, email = str(form.get("key") or ""), str(form.get("email") or "")
    actor = request.state.principal.name
    try:
        await in_store(request, set_contact, key, email, actor=actor, now=utcnow())
    except BadContact as error:
        return await _contacts_page(request, status=400, error=str(error), key=key, email=email)
    return RedirectResponse("/admin/contacts", status_code=303)


@requires("admin")
async def contact_removed(request: Request) -> Response:
    form = await request.form()
    actor = request.state.principal.name
    await in_store(request, remove_contact, str(form.get("key") or ""), actor=actor, now=utcnow())
    return RedirectResponse("/admin/contacts", status_code=303)


async def _contacts_page(request: Request, *, status: int = 200, **context) -> Response:
    rows = await in_store(request, list_contacts)
    return render(request, "contacts.html", status=status, contacts=rows, **context)


routes = [
    route("/admin/users", GET=users, POST=user_added),
    route("/admin/users/{name:str}/{action:str}", POST=user_changed),
    route("/admin/contacts", GET=contacts, POST=contact_set),
    route("/admin/contacts/remove", POST=contact_removed),
]
