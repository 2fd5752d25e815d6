"""Who may do what on the dashboard and API: 401 without a user, 403 without the right,
CSRF on every form, sessions that expire and end, and users who can be locked out.

Runs on SQLite and on PostgreSQL, like every store test.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from store.users import LoginSession
from tests.test_web_support import PASSWORD, ROLES, Web, cheap_passwords, csrf_of

# (method, path, the right it needs)
ENDPOINTS = [
    ("GET", "/", "reports"),
    ("GET", "/reports", "reports"),
    ("GET", "/reports/1", "reports"),
    ("POST", "/reports/1/pause", "reports"),
    ("GET", "/queue", "reports"),
    ("POST", "/queue", "reports"),
    ("POST", "/queue/upload", "reports"),
    ("GET", "/stats", "stats"),
    ("GET", "/stats.csv", "stats"),
    ("GET", "/admin/users", "admin"),
    ("POST", "/admin/users", "admin"),
    ("GET", "/admin/contacts", "admin"),
    ("POST", "/admin/contacts", "admin"),
    ("GET", "/admin/audit", "admin"),
    ("POST", "/logout", "reports"),
    ("GET", "/api/reports", "reports"),
    ("POST", "/api/reports", "reports"),
    ("GET", "/api/reports/1", "reports"),
    ("GET", "/api/stats", "stats"),
]
ALLOWED = {"reports": ROLES, "stats": ("manager", "admin"), "admin": ("admin",)}


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch):
    cheap_passwords(monkeypatch)


@pytest.fixture
def web(database_url):
    web = Web(database_url)
    web.queue("http://example.com/a")
    yield web
    web.close()


def test_without_a_user_the_answer_is_401(web):
    for method, path, _right in ENDPOINTS:
        answer = web.client().request(method, path)
        assert answer.status_code == 401, (method, path)
        if path.startswith("/api/"):
            assert answer.json() == {"error": "sign in, or send Authorization: Bearer TOKEN"}
            assert answer.headers["www-authenticate"] == "Bearer"
        else:  # a page answers with the login form, to come back to it once signed in
            assert 'name="password"' in answer.text
            if method == "GET":
                assert f'name="next" value="{path}"' in answer.text


def test_a_bad_or_unknown_token_is_401_even_with_a_session(web):
    browser = web.browser("admin")
    for header in ("Bearer ntd_nonsense", "Basic YWRtaW46cGFzcw==", "Bearer", "ntd_x"):
        answer = browser.get("/api/reports", headers={"Authorization": header})
        assert answer.status_code == 401, header


def test_the_role_matrix(web):
    for role in ROLES:
        api, browser = web.api(role), web.browser(role)
        for method, path, right in ENDPOINTS:
            client = api if path.startswith("/api/") else browser
            data = {"csrf": browser.csrf} if method == "POST" and client is browser else None
            answer = client.request(method, path, data=data)
            allowed = role in ALLOWED[right]
            assert (answer.status_code == 403) != allowed, (role, method, path, answer.text)
            if not allowed:
                assert f"the {role} role may not do this" in answer.text


def test_public_pages_need_nobody(web):
    client = web.client()
    assert client.get("/login").status_code == 200
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    assert client.get("/static/ntd.css").status_code == 200


def test_a_post_without_the_csrf_token_is_refused(web):
    browser = web.browser("analyst")
    for data in ({}, {"csrf": "forged"}, {"csrf": ""}):
        answer = browser.post("/queue", data={"urls": "http://example.com/b", **data})
        assert answer.status_code == 403
        assert "reload the page" in answer.text
    assert (
        browser.post(
            "/queue", data={"urls": "http://example.com/b", "csrf": browser.csrf}
        ).status_code
        == 200
    )


def test_the_token_is_per_session(web):
    first, second = web.browser("analyst", "ann"), web.browser("analyst", "ann")
    assert first.csrf != second.csrf
    answer = first.post("/queue", data={"urls": "http://example.com/b", "csrf": second.csrf})
    assert answer.status_code == 403


def test_the_api_with_a_session_needs_the_csrf_header(web):
    browser = web.browser("analyst")
    body = {"urls": ["http://example.com/b"]}
    assert browser.post("/api/reports", json=body).status_code == 403
    answer = browser.post("/api/reports", json=body, headers={"X-CSRF-Token": browser.csrf})
    assert answer.status_code == 201
    # A token is no cookie: a browser never sends one by itself, so no CSRF token is needed.
    assert web.api("analyst").post("/api/reports", json=body).status_code == 201


def test_login_sets_a_strict_http_only_cookie_that_lasts_session_ttl(web):
    web.user("ann", "analyst")
    client = web.client()
    nonce = csrf_of(client.get("/login").text)
    answer = client.post("/login", data={"name": "ann", "password": PASSWORD, "csrf": nonce})
    assert (answer.status_code, answer.headers["location"]) == (303, "/reports")
    cookie = answer.headers["set-cookie"].lower()
    assert "ntd_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "max-age=28800" in cookie


def test_login_refuses_wrong_passwords_and_forms_from_elsewhere(web):
    web.user("ann", "analyst")
    client = web.client()
    nonce = csrf_of(client.get("/login").text)
    wrong = client.post("/login", data={"name": "ann", "password": "nope", "csrf": nonce})
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    unknown = client.post("/login", data={"name": "bob", "password": PASSWORD, "csrf": nonce})
    assert unknown.status_code == 401
    # A page elsewhere cannot read our nonce cookie, so it cannot sign a victim in.
    forged = web.client().post(
        "/login", data={"name": "ann", "password": PASSWORD, "csrf": "guess"}
    )
    assert forged.status_code == 403 and "ntd_session" not in forged.headers.get("set-cookie", "")


def test_after_login_the_browser_stays_on_this_site(web):
    web.user("ann", "analyst")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil", "javascript:x"):
        client = web.client()
        nonce = csrf_of(client.get("/login").text)
        answer = client.post(
            "/login", data={"name": "ann", "password": PASSWORD, "csrf": nonce, "next": target}
        )
        assert answer.headers["location"] == "/reports", target


def test_a_bookmark_comes_back_after_login(web):
    web.user("ann", "analyst")
    client = web.client()
    page = client.get("/reports?state=queued")
    assert page.status_code == 401
    form = {
        "name": "ann",
        "password": PASSWORD,
        "csrf": csrf_of(page.text),
        "next": "/reports?state=queued",
    }
    answer = client.post("/login", data=form)
    assert answer.headers["location"] == "/reports?state=queued"


def test_sessions_expire(database_url):
    web = Web(database_url, session_ttl="0s")
    try:
        web.user("ann", "analyst")
        client = web.client()
        nonce = csrf_of(client.get("/login").text)
        answer = client.post("/login", data={"name": "ann", "password": PASSWORD, "csrf": nonce})
        # The browser drops a cookie of max-age 0 at once; a replayed one is refused too.
        token = answer.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        replay = web.client()
        replay.cookies.set("ntd_session", token)
        assert replay.get("/reports").status_code == 401
    finally:
        web.close()


def test_an_expired_session_is_refused(web):
    browser = web.browser("analyst")
    assert browser.get("/reports").status_code == 200
    with web.store.session() as session:
        session.execute(update(LoginSession).values(expires_at=LoginSession.created_at))
    assert browser.get("/reports").status_code == 401


def test_logout_ends_the_session_for_good(web):
    browser = web.browser("analyst")
    stolen = browser.cookies.get("ntd_session")
    answer = browser.post("/logout", data={"csrf": browser.csrf})
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    replay = web.client()
    replay.cookies.set("ntd_session", stolen)
    assert replay.get("/reports").status_code == 401


def test_a_disabled_user_is_locked_out_at_once(web):
    admin = web.browser("admin")
    browser, api = web.browser("analyst", "ann"), web.api("analyst")
    assert admin.post("/admin/users/ann/disable", data={"csrf": admin.csrf}).status_code == 303
    assert (
        admin.post("/admin/users/analyst-api/disable", data={"csrf": admin.csrf}).status_code == 303
    )
    assert browser.get("/reports").status_code == 401
    assert api.get("/api/reports").status_code == 401
    assert admin.post("/admin/users/ann/enable", data={"csrf": admin.csrf}).status_code == 303
    assert web.browser("analyst", "ann").get("/reports").status_code == 200
