"""Malformed and hostile requests, in-process with the fake engine: each gets its 4xx code (or a plain 200 when
it is odd but valid Unicode), never a 5xx, and the service keeps answering afterwards.

The same battery runs in part against real uvicorn and the tiny real engine (tests/integration/
test_hostile_server.py), where SentencePiece and CTranslate2 see the odd characters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes import FakeEngine
from tests.unit.conftest import AppClient

MEMORY = "/memories"
JSON = "application/json"
MIB = 1 << 20


def body(**fields: Any) -> bytes:
    return json.dumps({"source": "en", "target": "de", **fields}).encode()


@dataclass(frozen=True)
class Case:
    name: str
    content: bytes
    status: int
    code: str | None  # None: a 200
    content_type: str | None = JSON
    path: str = "/translate"
    method: str = "POST"


def _tmx(inner: str, doctype: str = "") -> bytes:
    return (
        f'<?xml version="1.0"?>{doctype}<tmx version="1.4"><header srclang="en"/><body><tu>'
        f'<tuv xml:lang="en"><seg>{inner}</seg></tuv><tuv xml:lang="de"><seg>x</seg></tuv></tu></body></tmx>'
    ).encode()


_LAUGHS = (
    "<!DOCTYPE tmx [<!ENTITY a 'aaaaaaaaaa'>"
    + "".join(f"<!ENTITY {chr(98 + i)} '{('&' + chr(97 + i) + ';') * 10}'>" for i in range(8))
    + "]>"
)
_XXE = '<!DOCTYPE tmx [<!ENTITY x SYSTEM "file:///etc/passwd">]>'

# Valid but odd Unicode: translated like any text.
ODD_TEXT = {
    "nul": "a\x00b",
    "c0_controls": "a\x01\x02\x07\x08\x0b\x0c\x1b[31mred\x1b[0m\x7f",
    "c1_controls": "a\x85\x9b\x9fb",
    "bidi_override": "user \u202egnp.exe\u202c and \u2066isolate\u2069 \u200f",
    "emoji_zwj": "family 👨\u200d👩\u200d👧\u200d👦 flag 🏳️\u200d🌈 skin 👍🏽",
    "zalgo": " ".join(["z\u0351\u0352\u0353\u0354a\u0300\u0301\u0302\u0303"] * 50),
    "zero_width": "in\u200bvis\u200cible\u200d\ufeff",
    "noncharacters": "\ufffe\uffff\U0010ffff",
    "private_use": "\ue000\U000f0000",
    "mixed_scripts": "Привет مرحبا שלום 你好 こんにちは",
    "only_symbols": "!!! ??? ...",
    "lone_combining": "\u0301",
}

CASES = [
    # Not UTF-8, not JSON, or JSON no parser should follow.
    Case("invalid_utf8", b'{"text": "a \xff\xfe b", "target": "de"}', 400, "invalid_json"),
    Case("overlong_utf8", b'{"text": "\xc0\xaf", "target": "de"}', 400, "invalid_json"),
    Case("utf8_encoded_surrogate", b'{"text": "\xed\xa0\x80", "target": "de"}', 422, "invalid_request"),
    Case("utf8_bom", b"\xef\xbb\xbf" + body(text="a"), 200, None),
    Case("truncated_json", b'{"text": "a', 400, "invalid_json"),
    Case("deep_array", b"[" * 200_000 + b"]" * 200_000, 400, "invalid_json"),
    Case("deep_field", b'{"text": ' + b"[" * 50_000 + b"]" * 50_000 + b', "target": "de"}', 400, "invalid_json"),
    Case("deep_object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, 400, "invalid_json"),
    Case(
        "huge_integer",
        b'{"text": "a", "target": "de", "options": {"beam_size": ' + b"9" * 5000 + b"}}",
        400,
        "invalid_json",
    ),
    # Lone surrogates smuggled in as JSON escapes.
    Case("lone_surrogate_text", b'{"text": "a \\ud800 b", "source": "en", "target": "de"}', 422, "invalid_request"),
    Case(
        "lone_low_surrogate_list",
        b'{"text": ["ok", "\\udfff"], "source": "en", "target": "de"}',
        422,
        "invalid_request",
    ),
    Case(
        "reversed_surrogate_pair", b'{"text": "\\ude00\\ud83d", "source": "en", "target": "de"}', 422, "invalid_request"
    ),
    Case(
        "lone_surrogate_example",
        b'{"text": "a", "source": "en", "target": "de", "examples": [{"source": "\\ud800", "target": "x"}]}',
        422,
        "invalid_request",
    ),
    Case("lone_surrogate_key", b'{"text": "a", "target": "de", "\\ud800": 1}', 422, "invalid_request"),
    Case("lone_surrogate_model", b'{"text": "a", "target": "de", "model": "\\ud800"}', 422, "invalid_request"),
    Case("lone_surrogate_memory_name", b'{"name": "\\udc00"}', 422, "invalid_request", path=MEMORY),
    Case("escaped_surrogate_pair", b'{"text": "a \\ud83d\\ude00 b", "source": "en", "target": "de"}', 200, None),
    # Odd but valid Unicode: a 200 like any other text.
    *(Case(f"odd_{name}", body(text=text), 200, None) for name, text in ODD_TEXT.items()),
    Case("only_whitespace_unicode", body(text="\u00a0\u2003\u3000\n\t"), 422, "empty_text"),
    # Sizes.
    Case("text_1mb", body(text="a" * MIB), 413, "payload_too_large"),
    Case("text_over_char_limit", body(text="word " * 2000), 413, "text_too_long"),
    Case("items_100k", body(text=["a"] * 100_000), 413, "too_many_items"),
    Case(
        "examples_100k", body(text="a", examples=[{"source": "s", "target": "t"}] * 100_000), 413, "payload_too_large"
    ),
    Case("examples_too_many", body(text="a", examples=[{"source": "s", "target": "t"}] * 9), 413, "too_many_examples"),
    Case("example_too_long", body(text="a", examples=[{"source": "s" * 1001, "target": "t"}]), 413, "example_too_long"),
    Case(
        "memory_entries_100k",
        json.dumps(
            {"source_lang": "en", "target_lang": "de", "pairs": [{"source": "s", "target": "t"}] * 100_000}
        ).encode(),
        413,
        "payload_too_large",
        path=f"{MEMORY}/{'a' * 32}/entries",
    ),
    # Wrong types and shapes.
    Case("text_plain", body(text="a"), 422, "invalid_request", content_type="text/plain"),
    Case(
        "form_urlencoded", b"text=a&target=de", 422, "invalid_request", content_type="application/x-www-form-urlencoded"
    ),
    Case(
        "multipart",
        b'--x\r\nContent-Disposition: form-data; name="text"\r\n\r\na\r\n--x--\r\n',
        422,
        "invalid_request",
        content_type="multipart/form-data; boundary=x",
    ),
    Case("xml", b"<text>a</text>", 422, "invalid_request", content_type="application/xml"),
    Case("empty_body", b"", 422, "invalid_request"),
    Case("json_null", b"null", 422, "invalid_request"),
    Case("json_array", b'["a"]', 422, "invalid_request"),
    Case("json_string", b'"a"', 422, "invalid_request"),
    Case("text_number", body(text=1), 422, "invalid_request"),
    Case("text_object", body(text={"a": 1}), 422, "invalid_request"),
    Case("text_nested_list", body(text=[["a"]]), 422, "invalid_request"),
    Case("nan_beam", b'{"text": "a", "target": "de", "options": {"beam_size": NaN}}', 422, "invalid_request"),
    Case(
        "infinite_max_length",
        b'{"text": "a", "target": "de", "options": {"max_length": Infinity}}',
        422,
        "invalid_request",
    ),
    Case("negative_beam", body(text="a", options={"beam_size": -1}), 422, "invalid_request"),
    Case("float_beam", body(text="a", options={"beam_size": 2.5}), 422, "invalid_request"),
    Case("bool_as_text", body(text=True), 422, "invalid_request"),
    Case("unknown_strategy", body(text="a", strategy="teleport"), 422, "invalid_request"),
    Case("long_language_code", body(text="a", target="d" * 10_000), 422, "invalid_request"),
    Case("unicode_language_code", body(text="a", target="dé"), 422, "unsupported_language"),
    Case(
        "extra_field_long_name",
        json.dumps({"text": "a", "target": "de", "x" * 100_000: 1}).encode(),
        422,
        "invalid_request",
    ),
    # Ids that look like paths, SQL or worse.
    Case("model_path", body(text="a", model="../../etc/passwd"), 404, "model_not_found"),
    Case("model_absolute_path", body(text="a", model="/etc/passwd"), 404, "model_not_found"),
    Case("model_nul", body(text="a", model="fake\x00.bin"), 404, "model_not_found"),
    Case("memory_path", body(text="a", memory="../../etc/passwd"), 422, "invalid_memory_id"),
    Case("memory_sql", body(text="a", memory="' OR 1=1 --"), 422, "invalid_memory_id"),
    Case("memory_uuid1", body(text="a", memory="a" * 32), 422, "invalid_memory_id"),
    Case("memory_url_dotdot", b"", 422, "invalid_memory_id", path=f"{MEMORY}/%2e%2e", method="GET"),
    Case("memory_url_encoded_slashes", b"", 404, "not_found", path=f"{MEMORY}/..%2F..%2Fetc%2Fpasswd", method="GET"),
    Case("memory_url_nul", b"", 422, "invalid_memory_id", path=f"{MEMORY}/abc%00def", method="GET"),
    Case("memory_url_sql", b"", 422, "invalid_memory_id", path=f"{MEMORY}/1%27%20OR%201%3D1", method="DELETE"),
    Case("memory_url_long", b"", 422, "invalid_memory_id", path=f"{MEMORY}/{'f' * 5000}", method="GET"),
    # Imports: binary garbage, XML bombs and external entities.
    Case(
        "import_binary",
        bytes(range(256)) * 10,
        422,
        "invalid_import",
        content_type="application/octet-stream",
        path=f"{MEMORY}/{{memory}}/import?format=tsv&source_lang=en&target_lang=de",
    ),
    Case(
        "import_billion_laughs",
        _tmx("&i;", _LAUGHS),
        422,
        "invalid_import",
        content_type="application/xml",
        path=f"{MEMORY}/{{memory}}/import?format=tmx",
    ),
    Case(
        "import_external_entity",
        _tmx("&x;", _XXE),
        422,
        "invalid_import",
        content_type="application/xml",
        path=f"{MEMORY}/{{memory}}/import?format=tmx",
    ),
    Case(
        "import_surrogate_char_ref",
        _tmx("&#xD800;"),
        422,
        "invalid_import",
        content_type="application/xml",
        path=f"{MEMORY}/{{memory}}/import?format=tmx",
    ),
    # Methods.
    Case("put_translate", body(text="a"), 405, "method_not_allowed", method="PUT"),
    Case("unknown_route", b"", 404, "not_found", path="/../../etc/passwd", method="GET"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_hostile_request_gets_its_code_never_a_5xx(app_client: AppClient, case: Case) -> None:
    async with app_client([FakeEngine(few_shot=True)]) as client:
        path = case.path
        if "{memory}" in path:
            created = await client.post(MEMORY, json={"name": "target"})
            path = path.replace("{memory}", created.json()["id"])
        headers = {"content-type": case.content_type} if case.content_type else {}
        response = await client.request(case.method, path, content=case.content, headers=headers)
        assert response.status_code < 500, response.text[:300]
        assert response.status_code == case.status, response.text[:300]
        if case.code is not None:
            error = response.json()["error"]
            assert error["code"] == case.code and error["message"]
            assert len(error["message"]) < 2000  # messages never echo whole inputs
        # The service keeps answering after each one.
        follow_up = await client.post("/translate", json={"text": "still here", "source": "en", "target": "de"})
        assert follow_up.status_code == 200


async def test_odd_characters_come_back_intact(app_client: AppClient) -> None:
    """The fake engine echoes words: what was sent (valid Unicode) survives the round trip through JSON."""
    texts = list(ODD_TEXT.values())
    async with app_client([FakeEngine()], max_text_chars=10_000) as client:
        response = await client.post("/translate", json={"text": texts, "source": "en", "target": "de"})
    assert response.status_code == 200
    for sent, got in zip(texts, response.json()["translations"], strict=True):
        assert [w.removeprefix("de:") for w in got["text"].split()] == sent.split()


async def test_streamed_body_without_length_is_cut_at_the_limit(app_client: AppClient) -> None:
    async def endless() -> Any:
        for _ in range(10_000):
            yield b"[" * 1024

    async with app_client() as client:
        response = await client.post("/translate", content=endless(), headers={"content-type": JSON})
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


async def test_a_lying_content_length_is_refused_before_reading(app_client: AppClient) -> None:
    async with app_client() as client:
        request = client.build_request("POST", "/translate", content=b"{}", headers={"content-type": JSON})
        request.headers["content-length"] = str(50 * MIB)
        response = await client.send(request)
    assert response.status_code == 413


async def test_many_requests_with_odd_headers(app_client: AppClient) -> None:
    headers = [
        {"Authorization": "Basic Zm9vOmJhcg=="},
        {"Authorization": "Bearer"},
        {"X-API-Key": ""},
        {"Content-Type": "application/json; charset=latin-1"},
        {"Content-Type": "application/json; charset=utf-16"},
        {"Accept": "application/xml"},
        {"X-Request-ID": "x" * 10_000},
    ]
    async with app_client() as client:
        for extra in headers:
            response = await client.post("/translate", content=body(text="a"), headers={"content-type": JSON, **extra})
            assert response.status_code in (200, 401), (extra, response.text)


def test_the_battery_covers_the_issue() -> None:
    """The issue's list: invalid UTF-8, lone surrogates, NUL and control characters, RTL overrides, emoji,
    1 MB texts, 100k-item lists, deep nesting, wrong content types, path-like model and memory ids."""
    names = {c.name for c in CASES}
    for needed in ("invalid_utf8", "lone_surrogate_text", "odd_nul", "odd_c0_controls", "odd_bidi_override",
                   "odd_emoji_zwj", "text_1mb", "items_100k", "deep_array", "text_plain", "model_path",
                   "memory_path", "memory_url_dotdot"):  # fmt: skip
        assert needed in names
