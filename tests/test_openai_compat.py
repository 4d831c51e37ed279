"""The advisor as an OpenAI model for real clients (the `openai` SDK, LangChain's ChatOpenAI) over real HTTP:
every parameter is honoured or refused in OpenAI's error shape, earlier turns resolve a follow-up, and usage
is reported (issue 12 item 12)."""

from __future__ import annotations

import contextlib

import openai
import pytest
from support.fake_openai import FakeOpenAI
from support.server import ServerThread

from advisor.present.http import create_app
from advisor.present.openai_chat import rough_tokens

MODEL = "china-ai-advisor"
ASK = [{"role": "user", "content": "Do AI-generated images need a label?"}]
PIPL_TURN = "What does PIPL say about providing personal information to a recipient outside China?"


@pytest.fixture(scope="module")
def url(advisor):
    with ServerThread(create_app(advisor)) as server:
        yield server.url


@pytest.fixture(scope="module")
def client(url):
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)


def _refused(client, param: str, **kwargs) -> dict:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=ASK, **kwargs)
    error = info.value.body
    assert set(error) >= {"message", "type", "param", "code"}, error
    assert error["type"] == "invalid_request_error" and error["param"] == param, error
    return error


# ---- refused, in OpenAI's error shape ---------------------------------------------------------------

@pytest.mark.parametrize("param, kwargs", [
    ("n", {"n": 2}),
    ("response_format", {"response_format": {"type": "json_object"}}),
    ("temperature", {"temperature": 3}),
    ("tools", {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}),
    ("logprobs", {"logprobs": True}),
    ("seed", {"seed": 7}),
    ("top_p", {"top_p": 0.5}),
    ("presence_penalty", {"presence_penalty": 1.0}),
    ("stop", {"stop": ["a", "b", "c", "d", "e"]}),
])
def test_parameters_that_cannot_be_honoured_are_refused(client, param, kwargs):
    error = _refused(client, param, **kwargs)
    assert param in error["message"]


def test_an_unknown_parameter_is_refused(client):
    error = _refused(client, "best_of", extra_body={"best_of": 3})
    assert error["code"] == "unknown_parameter"


def test_informational_parameters_are_accepted(client):
    reply = client.chat.completions.create(model=MODEL, messages=ASK, user="alice", n=1, response_format={"type": "text"},
                                           metadata={"team": "legal"}, store=False)
    assert reply.choices[0].message.content


# ---- honoured ------------------------------------------------------------------------------------------

def test_usage_is_reported(client):
    reply = client.chat.completions.create(model=MODEL, messages=ASK)
    usage = reply.usage
    assert usage.prompt_tokens == rough_tokens(ASK[0]["content"])
    assert usage.completion_tokens == rough_tokens(reply.choices[0].message.content) > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_streaming_usage_when_asked(client):
    chunks = list(client.chat.completions.create(model=MODEL, messages=ASK, stream=True,
                                                 stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == rough_tokens(text) > 0
    assert all(c.usage is None for c in chunks[:-1])
    plain = list(client.chat.completions.create(model=MODEL, messages=ASK, stream=True))
    assert all(getattr(c, "usage", None) is None for c in plain)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_cuts_the_content(client, stream, field):
    kwargs = {field: 20}
    if stream:
        chunks = list(client.chat.completions.create(model=MODEL, messages=ASK, stream=True, **kwargs))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    else:
        reply = client.chat.completions.create(model=MODEL, messages=ASK, **kwargs)
        text, finish = reply.choices[0].message.content, [reply.choices[0].finish_reason]
    full = client.chat.completions.create(model=MODEL, messages=ASK).choices[0].message.content
    assert 0 < rough_tokens(text) <= 20 and full.startswith(text)
    assert finish == ["length"]


@pytest.mark.parametrize("stream", [False, True])
def test_stop_ends_the_content_before_the_sequence(client, stream):
    full = client.chat.completions.create(model=MODEL, messages=ASK).choices[0].message.content
    assert "Art." in full
    if stream:
        chunks = list(client.chat.completions.create(model=MODEL, messages=ASK, stream=True, stop=["Art.", "zzz"]))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    else:
        reply = client.chat.completions.create(model=MODEL, messages=ASK, stop="Art.")
        text, finish = reply.choices[0].message.content, [reply.choices[0].finish_reason]
    assert text == full[:full.index("Art.")] and finish == ["stop"]


def test_temperature_reaches_the_model(advisor):
    cited = "Labels are required 「对图片、视频等生成内容进行标识」[gai-interim-measures-2023 art. 12]."
    with FakeOpenAI([("ok", cited)]) as model, configured(advisor, provider="vllm", base_url=model.url, model="fake"), \
            ServerThread(create_app(advisor)) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
        client.chat.completions.create(model=MODEL, messages=ASK, temperature=0.7)
        client.chat.completions.create(model=MODEL, messages=ASK)
    assert [r["body"]["temperature"] for r in model.requests] == [0.7, 0.1]  # asked for, then the provider's own


def test_earlier_user_turns_resolve_a_follow_up(client):
    follow_up = "Does it require separate consent?"
    conversation = [{"role": "user", "content": PIPL_TURN}, {"role": "assistant", "content": "PIPL Art. 38-39 ..."},
                    {"role": "user", "content": follow_up}]
    reply = client.chat.completions.create(model=MODEL, messages=conversation)
    cited = [(c["instrument_id"], c["article"]) for c in reply.model_extra["citations"]]
    assert ("pipl-2021", 39) in cited, cited  # separate consent for providing personal information abroad
    assert reply.usage.prompt_tokens == sum(rough_tokens(m["content"]) for m in conversation)


def test_a_follow_up_naming_its_own_instrument_is_taken_as_it_is(advisor):
    from advisor.present.openai_chat import question_from_turns

    corpus = advisor.corpus
    assert question_from_turns([PIPL_TURN, "And under the Data Security Law?"], corpus, 2000) == "And under the Data Security Law?"
    assert question_from_turns([PIPL_TURN, "Does it require separate consent?"], corpus, 2000).startswith(PIPL_TURN)
    assert question_from_turns(["生成式人工智能服务管理暂行办法适用于谁？", "需要备案吗？"], corpus, 2000).startswith("生成式")
    assert len(question_from_turns(["x" * 3000 + " PIPL", "And consent?"], corpus, 2000)) <= 2000


# ---- LangChain's ChatOpenAI ----------------------------------------------------------------------------

def test_langchain_chat_openai_invoke_and_stream(url):
    langchain_openai = pytest.importorskip("langchain_openai")
    llm = langchain_openai.ChatOpenAI(base_url=url + "/v1", api_key="unused", model=MODEL, max_retries=0)
    message = llm.invoke("Do AI-generated images need a label?")
    assert "第十二条" in message.content or "Art. 12" in message.content
    assert message.usage_metadata["output_tokens"] == rough_tokens(message.content)
    streaming = langchain_openai.ChatOpenAI(base_url=url + "/v1", api_key="unused", model=MODEL, stream_usage=True,
                                            temperature=0.2, max_tokens=30, max_retries=0)
    chunks = list(streaming.stream("Do AI-generated images need a label?"))
    text = "".join(c.content for c in chunks)
    assert text and rough_tokens(text) <= 30
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert total.usage_metadata["output_tokens"] == rough_tokens(text)
    assert total.response_metadata.get("finish_reason") == "length"


@contextlib.contextmanager
def configured(advisor, **changes):
    saved = advisor.settings
    advisor.settings = saved.model_copy(update=changes)
    advisor._models.clear()
    try:
        yield advisor
    finally:
        advisor.settings = saved
        advisor._models.clear()
