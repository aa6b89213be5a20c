"""The playground's files, their accessibility basics, and the OpenAPI document (in-process).

The page itself is driven in a real browser by ``tests/e2e/test_playground.py``.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from tests.unit.conftest import AppClient


class Controls(HTMLParser):
    """Form controls' ids and the ids that labels point at."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[str] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in {"input", "select", "textarea"}:
            self.controls.append(a.get("id") or "")
        if tag == "label" and a.get("for"):
            self.labelled.add(a["for"] or "")
        if a.get("aria-labelledby") and a.get("id"):
            self.labelled.add(a["id"] or "")


async def test_page_and_its_files(app_client: AppClient) -> None:
    async with app_client() as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<script src="/static/app.js" defer></script>' in page.text
        assert '<meta name="viewport"' in page.text
        script = await client.get("/static/app.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        style = await client.get("/static/style.css")
        assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
        for path in ("/static/index.html", "/static/..%2F..%2Fapp.py", "/static/nope.js"):
            missing = await client.get(path)
            assert missing.status_code == 404, path
            assert missing.json()["error"]["code"] == "not_found"


async def test_every_control_has_a_label(app_client: AppClient) -> None:
    async with app_client() as client:
        parser = Controls()
        parser.feed((await client.get("/")).text)
    assert parser.controls and all(parser.controls)
    assert set(parser.controls) <= parser.labelled


async def test_openapi_documents_every_route_with_examples(app_client: AppClient) -> None:
    async with app_client() as client:
        schema = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = schema["paths"]
    components = schema["components"]["schemas"]

    def has_example(content: dict[str, Any]) -> bool:
        if "example" in content or "examples" in content:
            return True
        node = content.get("schema", {})
        node = node.get("items", node)  # a list answer: its items' model
        ref = node.get("$ref", "")
        return bool(node.get("examples") or (ref and components[ref.rsplit("/", 1)[-1]].get("examples")))

    for path in ("/", "/translate", "/detect", "/libretranslate/translate", "/libretranslate/detect"):
        assert path in paths, path
    for path, methods in paths.items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            assert operation.get("description"), where  # the handler's docstring
            answers = [r.get("content", {}) for s, r in operation["responses"].items() if s.startswith("2")]
            contents = [*operation.get("requestBody", {}).get("content", {}).values()]
            contents += [c for answer in answers for c in answer.values()]
            assert not contents or any(has_example(c) for c in contents), where
    body = paths["/libretranslate/translate"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(body)
    assert body["application/json"]["schema"]["examples"]
