"""The HTTP API over real HTTP: the answer JSON, OpenAI-shaped chat, auth, limits and clear 4xx errors."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from advisor.present.http import create_app
from support.server import ServerThread


@pytest.fixture(scope="module")
def api(advisor):
    with ServerThread(create_app(advisor)) as server:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            yield client


@pytest.fixture
def secured(advisor):
    advisor.settings.api_token = SecretStr("letmein")
    try:
        with ServerThread(create_app(advisor)) as server, httpx.Client(base_url=server.url, timeout=120) as client:
            yield client
    finally:
        advisor.settings.api_token = None


def test_health(api):
    body = api.get("/healthz").json()
    assert body["status"] == "ok" and body["instruments"] >= 11


def test_ask_returns_the_cli_answer_json(api):
    body = api.post("/v1/ask", json={"question": "Do AI-generated images need a label?"}).json()
    assert set(body) >= {"answer", "citations", "provider", "as_of", "warnings"}
    assert body["citations"] and {"regulation", "article", "quote"} <= set(body["citations"][0])


def test_ask_with_a_template(api):
    body = api.post("/v1/ask", json={"template": "disclosure_text", "lang": "zh", "variables": {
        "platform": "小红书", "industry": "化妆品", "content_type": "产品图片", "function": "生成图片"}}).json()
    assert body["lang"] == "zh" and body["citations"]


def test_retrieve_and_regulations(api):
    hits = api.post("/v1/retrieve", json={"question": "个人信息出境 单独同意", "k": 3}).json()["hits"]
    assert len(hits) == 3 and isinstance(hits[0]["article"], int)
    regs = {r["id"] for r in api.get("/v1/regulations").json()["regulations"]}
    assert {"pipl-2021", "csl-2025"} <= regs


@pytest.mark.parametrize("payload, status, needle", [
    ({"template": "roadmap", "variables": {"nope": "x"}}, 400, "business_description"),
    ({"template": "no_such_template"}, 400, "available"),
    ({"question": ""}, 400, "question"),
    ({"question": "x" * 2001}, 400, "limit"),
    ({"question": 42}, 422, "question"),
    ({"question": "labels", "instruments": ["no-such-law"]}, 400, "no-such-law"),
    ({"question": "labels", "surprise": 1}, 422, "surprise"),
])
def test_bad_requests_get_a_clear_json_4xx(api, payload, status, needle):
    response = api.post("/v1/ask", json=payload)
    assert response.status_code == status
    assert needle in response.json()["error"]["message"]
    assert "Traceback" not in response.text


def test_malformed_json_is_a_4xx_not_a_500(api):
    response = api.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "error" in response.json()


def test_oversized_bodies_are_refused(api):
    response = api.post("/v1/ask", content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_openai_chat_completions(api):
    body = api.post("/v1/chat/completions", json={"model": "china-ai-advisor", "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "Who must store personal information in China?"}]}).json()
    assert body["object"] == "chat.completion"
    content = body["choices"][0]["message"]["content"]
    assert "Citations" in content and body["citations"]


def test_openai_chat_completions_streaming(api):
    chunks = []
    with api.stream("POST", "/v1/chat/completions", json={"stream": True, "messages": [{"role": "user", "content": "生成内容要加标识吗？"}]}) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]
    assert "第" in text


def test_the_openai_sdk_can_use_the_advisor_as_a_model(api):
    import openai

    client = openai.OpenAI(base_url=str(api.base_url) + "/v1", api_key="unused")
    reply = client.chat.completions.create(model="china-ai-advisor", messages=[{"role": "user", "content": "algorithm filing"}])
    assert reply.choices[0].message.content


def test_bearer_token_is_required_when_configured(secured):
    assert secured.post("/v1/ask", json={"question": "labels"}).status_code == 401
    assert secured.post("/v1/ask", json={"question": "labels"}, headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = secured.post("/v1/ask", json={"question": "labels"}, headers={"Authorization": "Bearer letmein"})
    assert ok.status_code == 200
    assert secured.get("/healthz").status_code == 200


def test_openapi_docs_are_served(api):
    assert api.get("/docs").status_code == 200
    assert "/v1/ask" in api.get("/openapi.json").json()["paths"]
