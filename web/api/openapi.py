"""``GET /openapi.json``: the API described by hand, OpenAPI 3.1 (JSON Schema 2020-12).

Written out rather than generated, so that it says exactly what PRODUCT.md promises; the
tests validate real answers against these schemas, so it cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from intake.categories import CATEGORIES
from store.models import STATES, VERDICTS
from web.routing import route


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


TIME = {"type": "string", "format": "date-time"}
MAYBE_TIME = _nullable("string", format="date-time")
OUTCOMES = ["online", "changed", "replaced", "gone", "nxdomain", "blocked", "denied", "error"]
SECONDS = _nullable("number", minimum=0)
FRACTION = _nullable("number", minimum=0, maximum=1)


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


FIGURES = {
    "total": {"type": "integer"},
    "online": {"type": "integer"},
    "removed": {"type": "integer"},
    "unreachable": {"type": "integer"},
    "notified": {"type": "integer"},
    "median_time_to_removal_s": SECONDS,
    "p90_time_to_removal_s": SECONDS,
    "removed_within": _object({"24h": FRACTION, "72h": FRACTION, "7d": FRACTION}),
    "median_time_to_removal_after_report_s": SECONDS,
    "p90_time_to_removal_after_report_s": SECONDS,
    "never_seen_online": FRACTION,
    "reappearances": {"type": "integer"},
    "notices_bounced": {"type": "integer"},
    "notices_answered": {"type": "integer"},
    "median_time_to_first_response_s": SECONDS,
    "min_group": {"type": "integer"},
}


def _group(**keys: Any) -> dict[str, Any]:
    return {"type": "array", "items": _object({**keys, **FIGURES})}


SCHEMAS: dict[str, Any] = {
    "Error": _object({"error": {"type": "string"}}),
    "QueueRequest": _object(
        {
            "urls": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "maxItems": 10000,
            },
            "ref": _nullable("string"),
            "category": {"enum": [*CATEGORIES, None]},
            "sha256": _nullable("array", items={"type": "string"}),
        },
        required=["urls"],
    ),
    "QueueResult": _object(
        {
            "accepted": {
                "type": "array",
                "items": _object({"id": {"type": "integer"}, "canonical_url": {"type": "string"}}),
            },
            "rejected": {
                "type": "array",
                "items": _object({"input": {"type": "string"}, "reason": {"type": "string"}}),
            },
        }
    ),
    "Hosting": _object(
        {
            "ip": _nullable("string"),
            "asn": _nullable("integer"),
            "network": _nullable("string"),
            "org": _nullable("string"),
            "country": _nullable("string"),
            "abuse_email": _nullable("string"),
            "registered_domain": _nullable("string"),
            "registrar": _nullable("string"),
            "cdn": _nullable("string"),
            "sources": _nullable("object"),
            "resolved_at": TIME,
            "details": _nullable("object"),
        }
    ),
    "Check": _object(
        {
            "at": TIME,
            "outcome": {"enum": OUTCOMES},
            "http_status": _nullable("integer"),
            "final_url": _nullable("string"),
            "content_type": _nullable("string"),
            "bytes": _nullable("integer"),
            "truncated": _nullable("boolean"),
            "sha256": _nullable("string"),
            "ip": _nullable("string"),
            "elapsed_ms": _nullable("integer"),
            "detail": _nullable("string"),
            "redirects": _nullable("array", items={"type": "string"}),
        }
    ),
    "Notice": _object(
        {
            "id": {"type": "integer"},
            "kind": {"enum": ["notice", "reminder", "escalation", "partner"]},
            "to": {"type": "string"},
            "message_id": _nullable("string"),
            "created_at": TIME,
            "at": MAYBE_TIME,
            "status": {"enum": ["sent", "pending", "failed", "bounced"]},
            "reason": _nullable("string"),
            "error": _nullable("string"),
            "answered_at": MAYBE_TIME,
        }
    ),
    "Message": _object(
        {
            "id": {"type": "integer"},
            "received_at": TIME,
            "via": {"enum": ["pipe", "lmtp", "imap"]},
            "from": _nullable("string"),
            "subject": _nullable("string"),
            "kind": {"enum": ["bounce", "delay", "auto_reply", "reply", "unmatched"]},
            "notice_id": _nullable("integer"),
            "matched_by": {"enum": ["token", "message_id", "subject", "none"]},
            "ticket": _nullable("string"),
            "text": _nullable("string"),
            "text_cut": {"type": "boolean"},
            "attachments": _nullable("integer"),
            "attachment_types": {"type": "array", "items": {"type": "string"}},
            "outcome": _nullable("string"),
            "needs_reading": {"type": "boolean"},
            "read_at": MAYBE_TIME,
            "read_by": _nullable("string"),
        }
    ),
    "ProviderAction": _object(
        {
            "id": {"type": "integer"},
            "at": TIME,
            "notice_id": {"type": "integer"},
            "action": {"enum": ["removed", "not_our_customer", "question"]},
            "text": _nullable("string"),
            "read_at": MAYBE_TIME,
            "read_by": _nullable("string"),
        }
    ),
    "Report": _object(
        {
            "id": {"type": "integer"},
            "url": {"type": "string"},
            "canonical_url": {"type": "string"},
            "ref": _nullable("string"),
            "refs": {"type": "array", "items": {"type": "string"}},
            "category": {"enum": list(CATEGORIES)},
            "sha256": {"type": "array", "items": {"type": "string"}},
            "reason": _nullable("string"),
            "state": {"enum": list(STATES)},
            "seen_online": {"type": "boolean"},
            "paused": {"type": "boolean"},
            "reappearances": {"type": "integer"},
            "created_at": TIME,
            "created_by": {"type": "string"},
            "first_online_at": MAYBE_TIME,
            "last_online_at": MAYBE_TIME,
            "removed_at": MAYBE_TIME,
            "purged_at": MAYBE_TIME,
            "next_check_at": MAYBE_TIME,
            "hosting": {"oneOf": [{"$ref": "#/components/schemas/Hosting"}, {"type": "null"}]},
            "check_count": {"type": "integer"},
            "checks": {"type": "array", "items": {"$ref": "#/components/schemas/Check"}},
            "notices": {"type": "array", "items": {"$ref": "#/components/schemas/Notice"}},
            "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
            "provider_actions": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ProviderAction"},
            },
            "police_hold": {
                "oneOf": [
                    {"type": "null"},
                    _object(
                        {
                            "since": TIME,
                            "active": {"type": "boolean"},
                            "cleared_at": MAYBE_TIME,
                            "cleared_by": _nullable("string"),
                            "expires_at": MAYBE_TIME,
                        }
                    ),
                ]
            },
            "submissions": {
                "type": "array",
                "items": _object(
                    {
                        "id": {"type": "integer"},
                        "reference": {"type": "string"},
                        "received_at": TIME,
                        "seen": {"enum": [*CATEGORIES, "not-sure"]},
                        "state": {"enum": ["pending", "assessed", "duplicate"]},
                        "verdict": {"enum": [*VERDICTS, None]},
                        "assessed_at": MAYBE_TIME,
                        "assessed_by": _nullable("string"),
                    }
                ),
            },
        }
    ),
    "PublicReport": {
        **_object(
            {
                "urls": {
                    "oneOf": [
                        {"type": "string", "description": "One URL per line."},
                        {"type": "array", "items": {"type": "string"}, "maxItems": 20},
                    ]
                },
                "seen": {"enum": [*CATEGORIES, "not-sure"]},
                "text": _nullable("string", maxLength=2000),
                "email": _nullable("string"),
            },
            required=["urls", "seen"],
        ),
        "additionalProperties": False,
    },
    "PublicReportReceived": _object(
        {
            "reference": {"type": "string", "pattern": "^S-[A-Z2-9]{8}$"},
            "urls": {"type": "integer", "minimum": 1},
        }
    ),
    "FieldErrors": _object(
        {
            "error": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        required=["error"],
    ),
    "ReportSummary": _object(
        {
            "id": {"type": "integer"},
            "url": {"type": "string"},
            "canonical_url": {"type": "string"},
            "ref": _nullable("string"),
            "category": {"enum": list(CATEGORIES)},
            "state": {"enum": list(STATES)},
            "paused": {"type": "boolean"},
            "seen_online": {"type": "boolean"},
            "created_at": TIME,
            "created_by": {"type": "string"},
            "last_checked_at": MAYBE_TIME,
            "removed_at": MAYBE_TIME,
            "hosting": {
                "oneOf": [
                    {"type": "null"},
                    _object(
                        {
                            "asn": _nullable("integer"),
                            "org": _nullable("string"),
                            "country": _nullable("string"),
                        }
                    ),
                ]
            },
        }
    ),
    "ReportList": _object(
        {
            "reports": {"type": "array", "items": {"$ref": "#/components/schemas/ReportSummary"}},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        }
    ),
    "Stats": _object(
        {
            **FIGURES,
            "by_provider": _group(asn=_nullable("integer"), org=_nullable("string")),
            "by_country": _group(country=_nullable("string")),
            "by_month": _group(month={"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}),
            "by_category": _group(category={"enum": list(CATEGORIES)}),
            "submissions": _object(
                {
                    "received": {"type": "integer"},
                    "already_tracked": {"type": "integer"},
                    "pending": {"type": "integer"},
                    "assessed": {"type": "integer"},
                    "actionable": {"type": "integer"},
                    "actionable_share": FRACTION,
                    "median_time_to_assessment_s": SECONDS,
                    "median_time_from_assessment_to_first_notice_s": SECONDS,
                }
            ),
        }
    ),
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


DENIED = {
    "401": _answer("No valid token or session."),
    "403": _answer("The user's role lacks this right."),
    "429": {
        **_answer(
            "Too many unknown tokens from this address (LOGIN_ADDRESS_FAILURES): wait as "
            "Retry-After says."
        ),
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    },
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


# The filters are the dashboard's too, whose forms send a field left blank as empty.
TEXT = {"type": "string", "maxLength": 200, "pattern": "^[^\\x00-\\x1f\\x7f]*$"}

LIST_PARAMETERS = [
    _query("state", {"enum": ["", *STATES]}, "Only reports in this state; empty means any."),
    _query("ref", TEXT, "Only reports with this reference."),
    _query(
        "provider",
        TEXT,
        "An ASN (AS64500 or 64500), or part of the hosting organisation's name.",
    ),
    _query(
        "country",
        {"type": "string", "pattern": "^([A-Za-z]{2})?$"},
        "Hosting country, ISO 3166 alpha-2.",
    ),
    _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        "Reports per page.",
    ),
    _query(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": 10**9, "default": 0},
        "Reports to skip, newest first.",
    ),
]

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "ntd",
        "version": "1",
        "description": "Notice and takedown: queue reported URLs, follow them, "
        "read time-to-removal statistics. Roles: analyst (reports), "
        "manager (also stats), admin (everything).",
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/reports": {
            "post": {
                "summary": "Queue URLs, as `ntd add` does.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("QueueRequest")}},
                },
                "responses": {
                    "201": _answer("At least one URL was accepted.", "QueueResult"),
                    "400": {
                        "description": "Nothing accepted (the same body as 201), or a "
                        'malformed body ({"error": ...}).',
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [_ref("QueueResult"), _ref("Error")]}
                            }
                        },
                    },
                    **DENIED,
                },
            },
            "get": {
                "summary": "List reports, newest first.",
                "description": "An empty filter means any, and spaces around a value are "
                "ignored; a parameter not listed here is refused.",
                "parameters": LIST_PARAMETERS,
                "responses": {
                    "200": _answer("A page of reports.", "ReportList"),
                    "400": _answer("A bad parameter."),
                    **DENIED,
                },
            },
        },
        "/api/reports/{id}": {
            "get": {
                "summary": "One report, as `ntd show --json` gives it.",
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                    }
                ],
                "responses": {
                    "200": _answer("The report.", "Report"),
                    "404": _answer("No such report."),
                    **DENIED,
                },
            },
        },
        "/api/public-reports": {
            "post": {
                "summary": "A public report, as the /report page sends it. No login.",
                "description": "At most PUBLIC_REPORTS_PER_HOUR from one client address. The "
                "answer names the report's reference only, never whether a URL was known.",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("PublicReport")}},
                },
                "responses": {
                    "201": _answer("Stored, to be assessed.", "PublicReportReceived"),
                    "400": _answer("Nothing stored: each bad field named.", "FieldErrors"),
                    "429": {
                        **_answer("Too many reports from this address: wait as Retry-After says."),
                        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
                    },
                },
            },
        },
        "/api/stats": {
            "get": {
                "summary": "Time-to-removal statistics, as `ntd stats --json` gives them.",
                "responses": {"200": _answer("The figures.", "Stats"), **DENIED},
            },
        },
    },
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "The token `ntd users add` prints.",
            }
        },
    },
}


async def openapi(_request: Request) -> Response:
    return JSONResponse(SPEC)


routes = [route("/openapi.json", GET=openapi)]
