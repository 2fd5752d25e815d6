"""Errors of the web surface: each is an answer with its HTTP status and a message.

``web.errors`` turns them, and the store's errors, into JSON under ``/api/`` and into a
page everywhere else, in one place.
"""


class WebError(Exception):
    """Base class: the request cannot be answered as asked; the message says why."""

    status = 500


class BadRequest(WebError):
    """The request itself is wrong: a bad parameter, body or form field."""

    status = 400


class Unauthenticated(WebError):
    """No valid session or token came with the request."""

    status = 401


class Forbidden(WebError):
    """The user's role lacks the right, or a form's CSRF token is missing or wrong."""

    status = 403


class Missing(WebError):
    """The thing asked for does not exist."""

    status = 404


class Gone(WebError):
    """The thing asked for existed but no longer answers (an expired link)."""

    status = 410


class Unavailable(WebError):
    """This server cannot do it as installed (a missing system library, say)."""

    status = 503


class TooMany(WebError):
    """Too many requests in a while; ``Retry-After`` says when to come back."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(max(1, retry_after))}
