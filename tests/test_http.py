"""The HTTP API over real HTTP: the answer JSON, OpenAI-shaped chat, auth, limits and clear 4xx errors."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import SecretStr
from support.server import ServerThread

from advisor.present.http import create_app


@pytest.fixture(scope="module")
def api(advisor):
    with ServerThread(create_app(advisor)) as server, httpx.Client(base_url=server.url, timeout=120) as client:
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
    assert body["index"]["state"] == "complete" and body["index"]["chunks"] == body["index"]["expected"] > 600


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


# --------------------------------------------------------------------------- /v1/assess and /v1/profile/schema

PROFILES = Path(__file__).parent / "profiles"
AS_OF = "2026-06-01"


def _profile(name: str) -> dict:
    return yaml.safe_load((PROFILES / f"{name}.yaml").read_text(encoding="utf-8"))


def test_assess_returns_the_cli_assessment_json(api, advisor):
    profile = _profile("public-chatbot")
    response = api.post("/v1/assess", json={"profile": profile, "as_of": AS_OF})
    assert response.status_code == 200, response.text
    assert response.json() == advisor.assess(profile, as_of=dt.date.fromisoformat(AS_OF)).to_dict()


def test_assess_meets_the_hand_derived_expectations(api):
    expected = yaml.safe_load((PROFILES / "public-chatbot.expected.yaml").read_text(encoding="utf-8"))
    body = api.post("/v1/assess", json={"profile": _profile("public-chatbot"), "as_of": AS_OF}).json()
    applies = {f["id"] for f in body["obligations"]["applicable"]}
    confirm = {f["id"] for f in body["obligations"]["to_confirm"]}
    assert set(expected["must_apply"]) <= applies
    assert set(expected["must_confirm"]) <= confirm
    assert not set(expected["must_not_apply"]) & (applies | confirm)
    assert body["risk"]["level"] == expected["risk_level"]


def test_assess_as_markdown_has_the_risk_level_and_verbatim_citations(api):
    body = api.post("/v1/assess", json={"profile": _profile("public-chatbot"), "as_of": AS_OF, "format": "markdown"}).json()
    assert body["risk_level"] == "high" and body["as_of"] == AS_OF and body["lang"] == "en"
    assert "Risk level: **HIGH**" in body["markdown"]
    assert re.search(r"《[^》]+》第[一二三四五六七八九十百零〇]+条", body["markdown"])


def test_assess_as_markdown_in_chinese(api):
    body = api.post("/v1/assess", json={"profile": _profile("public-chatbot"), "as_of": AS_OF, "format": "markdown", "lang": "zh"}).json()
    assert "风险等级: **高（high）**" in body["markdown"] and "六个月路线图" in body["markdown"]


def test_assess_unknown_profile_field_names_it_and_lists_the_valid_fields(api):
    response = api.post("/v1/assess", json={"profile": {"public_servce": True}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "ProfileError"
    assert "unknown field 'public_servce'" in error["message"]
    assert "valid fields" in error["message"] and "public_service" in error["message"] and "cross_border" in error["message"]


@pytest.mark.parametrize("payload, needle", [
    ({"profile": {}, "as_of": "2026-13-40"}, "as_of"),
    ({"profile": {}, "as_of": "next week"}, "as_of"),
    ({"profile": {}, "surprise": 1}, "surprise"),
    ({"profile": {}, "format": "pdf"}, "format"),
    ({"profile": {}, "lang": "fr"}, "lang"),
    ({}, "profile"),
    ({"profile": "tests/profiles/public-chatbot.yaml"}, "expected a mapping"),  # never read as a file path
    ({"profile": {"users": "many"}}, "field 'users'"),
    ({"profile": {"features": {"telepathy": True}}}, "features.telepathy"),
    ({"profile": {"public_service": True, "internal_only": True}}, "cannot both be true"),
])
def test_assess_bad_requests_get_a_clear_json_4xx(api, payload, needle):
    response = api.post("/v1/assess", json=payload)
    assert response.status_code == 422
    assert needle in response.json()["error"]["message"]
    assert "Traceback" not in response.text


def test_bearer_token_is_required_for_assess(secured):
    payload = {"profile": _profile("public-chatbot"), "format": "markdown"}
    assert secured.post("/v1/assess", json=payload).status_code == 401
    assert secured.post("/v1/assess", json=payload, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert secured.post("/v1/assess", json=payload, headers={"Authorization": "Bearer letmein"}).status_code == 200


def test_profile_schema_is_the_profile_json_schema(api):
    schema = api.get("/v1/profile/schema").json()
    assert schema["type"] == "object" and {"features", "cross_border"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False


def test_assess_and_profile_schema_are_in_the_openapi_docs(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert paths["/v1/assess"]["post"]["description"] and paths["/v1/profile/schema"]["get"]["description"]


def test_ask_with_a_profile_is_built_on_the_engine(api, advisor):
    profile = _profile("content-agency")
    body = api.post("/v1/ask", json={"template": "roadmap", "profile": profile, "as_of": "2026-11-25"}).json()
    steps = [s.obligation for s in advisor.assess(profile, dt.date(2026, 11, 25)).roadmap]
    assert body["provider"] == "engine" and re.findall(r"\[`([a-z0-9-]+)`\]", body["answer"]) == steps
    bad = api.post("/v1/ask", json={"template": "roadmap", "profile": {"public_servce": True}})
    assert bad.status_code == 422 and "public_servce" in bad.json()["error"]["message"]
