"""The OpenAI chat-completions protocol over the advisor: which parameters are honoured, which are refused.

Honoured: ``model`` (echoed), ``messages`` (earlier user turns resolve a follow-up that names no
instrument), ``stream``, ``stream_options.include_usage``, ``n`` = 1, ``temperature`` (passed to the
configured model; offline extracts are deterministic), ``max_tokens`` / ``max_completion_tokens`` (the
content is cut there, ``finish_reason: "length"``), ``stop`` (the content ends before the first stop
sequence), ``response_format: {"type": "text"}``. Informational, with no effect on an answer by their
nature: ``user``, ``metadata``, ``store``, ``service_tier``, ``prompt_cache_key``, ``safety_identifier``.
Everything else, and any value we cannot honour (``n`` > 1, a JSON response format, tools, logprobs,
sampling penalties ...), is refused with OpenAI's error shape and names the parameter.

Token counts (``usage``) are estimates: one token per CJK character plus one per four other characters.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advisor.corpus import Corpus

INFORMATIONAL = {"user", "metadata", "store", "service_tier", "prompt_cache_key", "safety_identifier"}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class ChatError(Exception):
    """A request we refuse, in OpenAI's error shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_value", status: int = 400):
        super().__init__(message)
        self.message, self.param, self.code, self.status = message, param, code, status

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": "invalid_request_error", "param": self.param, "code": self.code}}


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = "text"
    text: Any = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[Any] | None = None


class ChatRequest(BaseModel):
    """The fields of a chat-completions request this server understands (others are refused by `check`)."""

    model_config = ConfigDict(extra="allow")
    model: str = "china-ai-advisor"
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    response_format: dict[str, Any] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    seed: int | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None
    parallel_tool_calls: bool | None = None
    modalities: list[str] | None = None
    audio: Any = None
    prediction: Any = None
    reasoning_effort: str | None = None


def parse(data: Any) -> ChatRequest:
    """The request, validated; ChatError (400, OpenAI shape) naming the first bad parameter."""
    if not isinstance(data, dict):
        raise ChatError("the request body must be a JSON object", None, "invalid_request_body")
    try:
        request = ChatRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise ChatError(f"{param or 'body'}: {first['msg']}", param) from None
    check(request)
    return request


def _refuse(param: str, why: str, code: str = "unsupported_parameter") -> ChatError:
    return ChatError(f"'{param}' is not supported here: {why}", param, code)


def check(request: ChatRequest) -> None:
    """Refuse any parameter whose value this server cannot honour."""
    known = set(ChatRequest.model_fields) | INFORMATIONAL
    unknown = sorted(set(request.model_extra or {}) - known)
    if unknown:
        raise ChatError(f"Unrecognized request argument supplied: {unknown[0]}", unknown[0], "unknown_parameter")
    if request.n not in (None, 1):
        raise _refuse("n", "the advisor gives one checked answer per request (n must be 1)")
    if request.stream_options and set(request.stream_options) - {"include_usage"}:
        name = sorted(set(request.stream_options) - {"include_usage"})[0]
        raise _refuse(f"stream_options.{name}", "only include_usage is supported")
    if request.response_format and request.response_format.get("type", "text") != "text":
        raise _refuse("response_format", "answers are Markdown text with verbatim citations; only {\"type\": \"text\"}")
    if request.top_p not in (None, 1, 1.0):
        raise _refuse("top_p", "only the default (1) is supported; use temperature")
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(request, name) not in (None, 0, 0.0):
            raise _refuse(name, "only the default (0) is supported")
    if request.logit_bias:
        raise _refuse("logit_bias", "answers quote the regulations verbatim")
    if request.logprobs or request.top_logprobs:
        raise _refuse("logprobs" if request.logprobs else "top_logprobs", "no log probabilities are available")
    if request.seed is not None:
        raise _refuse("seed", "a configured model's sampling cannot be seeded through the advisor")
    if request.tools or request.functions:
        raise _refuse("tools" if request.tools else "functions", "the advisor does not call tools")
    for name in ("tool_choice", "function_call"):
        if getattr(request, name) not in (None, "none", "auto"):
            raise _refuse(name, "the advisor does not call tools")
    if request.modalities and set(request.modalities) != {"text"}:
        raise _refuse("modalities", "only text")
    for name in ("audio", "prediction", "reasoning_effort"):
        if getattr(request, name) is not None:
            raise _refuse(name, "not available for the advisor")
    stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if len(stops) > 4 or any(not s for s in stops):
        raise ChatError("'stop' takes up to 4 non-empty strings", "stop")
    for i, message in enumerate(request.messages):
        texts(message, f"messages.{i}")  # refuses non-text parts now, before any work


def texts(message: Message, where: str = "messages") -> str:
    """The text of a message: a string, or its text parts (anything else is refused)."""
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    out = []
    for j, part in enumerate(message.content):
        if not isinstance(part, dict):
            raise ChatError(f"{where}.content.{j}: a content part must be an object like {{\"type\": \"text\", \"text\": \"...\"}}",
                            f"{where}.content")
        kind, text = part.get("type", "text"), part.get("text")
        if kind != "text":
            raise ChatError(f"{where}.content.{j}: only text content is supported, not '{kind}'", f"{where}.content")
        if not isinstance(text, str):
            raise ChatError(f"{where}.content.{j}.text must be a string", f"{where}.content")
        out.append(text)
    return "".join(out)


# ---- the question ------------------------------------------------------------------------------------

def _names(corpus: Corpus) -> list[re.Pattern]:
    patterns = []
    for inst in corpus:
        words = {inst.short_en.split(" (")[0], inst.title_en.split(" of the People's Republic")[0],
                 inst.title_zh.removeprefix("中华人民共和国").split("（")[0], inst.id.rsplit("-", 1)[0]}
        for w in words:
            if len(w) >= 3:
                patterns.append(re.compile(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])", re.IGNORECASE))
    return patterns


def names_instrument(text: str, corpus: Corpus) -> bool:
    """Whether `text` names an instrument of the corpus (short or full title, in English or Chinese)."""
    return any(p.search(text) for p in _names(corpus))


def question_from_turns(user_turns: list[str], corpus: Corpus, max_chars: int) -> str:
    """The question to answer: the last user turn, prefixed with the topic of earlier turns when it names no
    instrument itself (so "Does it require separate consent?" after a PIPL question stays about PIPL)."""
    last = user_turns[-1] if user_turns else ""
    earlier = [t.strip() for t in user_turns[:-1] if t.strip()]
    if not earlier or not last.strip() or names_instrument(last, corpus):
        return last
    topic = next((t for t in reversed(earlier) if names_instrument(t, corpus)), earlier[-1])
    room = max_chars - len(last.strip()) - 1
    if room <= 20:
        return last
    topic = topic if len(topic) <= room else topic[-room:]
    return f"{topic}\n{last.strip()}"


# ---- usage, stop and max_tokens -------------------------------------------------------------------------

def rough_tokens(text: str) -> int:
    """An estimate: one token per CJK character, one per four other characters."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def usage(request: ChatRequest, completion: str) -> dict:
    prompt = sum(rough_tokens(texts(m)) for m in request.messages)
    done = rough_tokens(completion)
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


@dataclass
class Cutter:
    """Applies `stop` and the token budget to content as it is produced (streamed or whole).

    feed() returns what may be sent now; a tail as long as the longest stop sequence is held back until it
    cannot be the start of one. `finish_reason` is "stop", or "length" once the budget is spent.
    """

    stops: list[str]
    budget: int | None
    sent: str = ""
    held: str = ""
    finish_reason: Literal["stop", "length"] = "stop"
    done: bool = False

    @classmethod
    def of(cls, request: ChatRequest) -> "Cutter":
        stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
        return cls(stops, request.max_completion_tokens or request.max_tokens)

    def _within_budget(self, text: str) -> str:
        if self.budget is None or rough_tokens(self.sent + text) <= self.budget:
            return text
        keep = ""
        for ch in text:  # the longest prefix that fits
            if rough_tokens(self.sent + keep + ch) > self.budget:
                break
            keep += ch
        self.done, self.finish_reason = True, "length"
        return keep

    def feed(self, text: str, last: bool = False) -> str:
        if self.done:
            return ""
        self.held += text
        hits = [i for i in (self.held.find(s) for s in self.stops) if i >= 0]
        if hits:
            out, self.done = self.held[:min(hits)], True
        else:
            hold = 0 if last else max((len(s) - 1 for s in self.stops), default=0)
            out = self.held[:len(self.held) - hold] if hold else self.held
            self.held = self.held[len(out):]
        out = self._within_budget(out)
        self.sent += out
        if self.done:
            self.held = ""
        return out

    def finish(self) -> str:
        return self.feed("", last=True)
