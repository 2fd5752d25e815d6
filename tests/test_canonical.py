"""URL intake agrees with the WHATWG URL test suite on absolute http(s) inputs."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.canonical import MAX_URL_BYTES, canonicalise
from intake.exceptions import RejectedInput
from tests.conftest import shared_file

C0_AND_SPACE = "".join(chr(c) for c in range(0x21))


def whatwg_cases() -> list[dict]:
    """The suite's absolute http(s) cases: base null, or an input with ``//`` authority.

    Either way the result does not depend on a base URL, so it is what intake of a
    pasted URL must give.
    """
    cases = json.loads(shared_file("url-tests/urltestdata.json").read_text())
    selected = []
    for case in cases:
        if not isinstance(case, dict):
            continue
        bare = case["input"].strip(C0_AND_SPACE)
        bare = bare.replace("\t", "").replace("\n", "").replace("\r", "").lower()
        absolute = bare.startswith(("http://", "https://")) or (
            case.get("base") is None and bare.startswith(("http:", "https:"))
        )
        if absolute:
            selected.append(case)
    return selected


def agrees(case: dict) -> bool:
    try:
        canonical = canonicalise(case["input"])
    except RejectedInput:
        return bool(case.get("failure"))
    return not case.get("failure") and canonical == case["href"].partition("#")[0]


def test_agreement_with_the_whatwg_suite(capsys):
    cases = whatwg_cases()
    disagreements = [case for case in cases if not agrees(case)]
    with capsys.disabled():
        print(
            f"\nWHATWG absolute http(s) cases: {len(cases) - len(disagreements)} of "
            f"{len(cases)} agree"
        )
    assert len(cases) > 300
    assert disagreements == []


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("  HTTP://Example.COM:80/a/../b?q#frag \n", "http://example.com/b?q"),
        ("https://example.com:443", "https://example.com/"),
        ("http://0x7f.1/", "http://127.0.0.1/"),  # urllib keeps 0x7f.1 as a name
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
        ("http://bücher.example/ä", "http://xn--bcher-kva.example/%C3%A4"),
        ("http://exa\tmple.com/", "http://example.com/"),
    ],
)
def test_canonical_forms(raw, canonical):
    assert canonicalise(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ftp://example.com/", "scheme 'ftp' is not http or https"),
        ("javascript:alert(1)", "scheme 'javascript' is not http or https"),
        ("example.com/path", "not a valid URL"),
        ("http://", "not a valid URL"),
        ("http://exa mple.com/", "not a valid URL"),
        ("   ", "empty"),
        ("http://xn--/", "host label 'xn--' is not valid punycode"),
        ("http://example.com/" + "a" * MAX_URL_BYTES, "longer than 8 KB"),
    ],
)
def test_rejections_say_why(raw, reason):
    with pytest.raises(RejectedInput) as error:
        canonicalise(raw)
    assert str(error.value) == reason


@given(st.text(max_size=300))
def test_any_text_is_canonicalised_or_rejected(raw):
    try:
        canonical = canonicalise(raw)
    except RejectedInput as error:
        assert str(error)
        return
    assert canonical.startswith(("http://", "https://"))
    assert "#" not in canonical
    # The canonical form is a fixed point: canonicalising it again changes nothing.
    assert canonicalise(canonical) == canonical


@given(st.from_regex(r"https?://[a-z0-9.-]{1,30}(:[0-9]{1,5})?(/[ -~]{0,40})?", fullmatch=True))
def test_url_like_inputs_are_canonicalised_or_rejected(raw):
    try:
        canonical = canonicalise(raw)
    except RejectedInput:
        return
    assert canonicalise(canonical) == canonical
