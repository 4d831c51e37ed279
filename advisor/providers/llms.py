"""Language models behind one interface, chosen by name in settings (`provider = "qwen"`).

Every provider speaks the OpenAI chat-completions protocol through the `openai` SDK. One deadline
(`answer_deadline`) bounds each answer, retries included; connection errors, 408/409/429 and 5xx are
retried with exponential backoff (honouring Retry-After), timeouts are not. API keys come from
environment variables named by the preset (or, for the configured provider only, `api_key_env`) and
never appear in messages, logs or answers; URLs are shown without credentials or query strings.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import threading
import time
from dataclasses import dataclass
from typing import Iterator, Protocol

from advisor.errors import ProviderError, UnknownProvider
from advisor.redact import install_log_redaction, redact_url
from advisor.settings import Settings


@dataclass(frozen=True)
class Preset:
    name: str
    base_url: str | None
    model: str | None
    key_env: str | None  # environment variable holding the API key; None: no key needed
    note: str = ""


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("offline", None, None, None, "no model: verbatim extracts of the retrieved articles"),
    Preset("qwen", "https://dashscope.aliyuncs.com/compatible-mode/v1", "qwen-plus", "DASHSCOPE_API_KEY", "Alibaba Qwen, DashScope compatible mode"),
    Preset("ernie", "https://qianfan.baidubce.com/v2", "ernie-4.0-turbo-8k", "QIANFAN_API_KEY", "Baidu ERNIE, Qianfan v2"),
    Preset("deepseek", "https://api.deepseek.com/v1", "deepseek-chat", "DEEPSEEK_API_KEY", "DeepSeek"),
    Preset("kimi", "https://api.moonshot.cn/v1", "moonshot-v1-8k", "MOONSHOT_API_KEY", "Moonshot Kimi"),
    Preset("glm", "https://open.bigmodel.cn/api/paas/v4", "glm-4-flash", "ZHIPUAI_API_KEY", "Zhipu GLM"),
    Preset("openai", "https://api.openai.com/v1", "gpt-4o-mini", "OPENAI_API_KEY", "OpenAI"),
    Preset("vllm", "http://127.0.0.1:8000/v1", None, "VLLM_API_KEY", "a local vLLM server (set model)"),
    Preset("ollama", "http://127.0.0.1:11434/v1", "qwen2.5:7b-instruct", None, "a local Ollama server"),
    Preset("llamacpp", "http://127.0.0.1:8080/v1", "local", None, "a running llama.cpp / llama-cpp-python server"),
    Preset("local", None, "qwen2.5-coder-1.5b-instruct", None, "the packaged Qwen2.5-Coder-1.5B GGUF, served here by llama-cpp-python"),
]}


class ChatModel(Protocol):
    provider: str
    model: str
    context_tokens: int | None  # the model's context window when it is small enough to matter; None: large

    def complete(self, messages: list[dict], max_tokens: int = 1024, temperature: float | None = None,
                 response_format: dict | None = None) -> str: ...

    def stream(self, messages: list[dict], max_tokens: int = 1024, temperature: float | None = None) -> Iterator[str]: ...


_RETRY_STATUS = {408, 409, 429}
_END = object()


class OpenAICompatible:
    """Chat over any OpenAI-compatible endpoint, within one deadline per answer.

    `deadline` (seconds) bounds a whole call, retries and backoff included, however slowly the server
    answers or streams; `timeout` bounds each wait for a response or a token. A timeout is never retried
    (the server is slow, asking again only doubles the wait); connection errors, 408/409/429 and 5xx are
    retried with exponential backoff (honouring Retry-After) while the deadline leaves time.
    """

    def __init__(self, provider: str, base_url: str, model: str, api_key: str | None, timeout: float, max_retries: int,
                 temperature: float = 0.1, deadline: float = 40.0, context_tokens: int | None = None):
        import openai

        self.provider, self.model, self.base_url = provider, model, base_url
        self.context_tokens = context_tokens
        self.shown_url = redact_url(base_url)
        self.deadline, self.max_retries, self.timeout = deadline, max(0, max_retries), timeout
        self._secret = api_key or ""
        self._temperature = temperature
        self._openai = openai
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or "no-key", timeout=timeout, max_retries=0)
        install_log_redaction()

    def _fail(self, what: str) -> ProviderError:
        message = f"{self.provider} at {self.shown_url} {what}"
        return ProviderError(message.replace(self._secret, "***") if self._secret else message)

    def _timed_out(self) -> ProviderError:
        return self._fail(f"timed out (no complete answer within {self.deadline:g} s)")

    def _error(self, exc: Exception) -> ProviderError:
        """A message naming the provider and the failure, scrubbed of the key and of URL credentials."""
        status = getattr(exc, "status_code", None)
        kind = {
            self._openai.APITimeoutError: "timed out",
            self._openai.APIConnectionError: "could not be reached",
            self._openai.RateLimitError: "rate-limited the request (429)",
            self._openai.AuthenticationError: "rejected the API key (401)",
        }
        what = next((text for cls, text in kind.items() if isinstance(exc, cls)), None)
        if what is None:
            what = f"failed with HTTP {status}" if status else f"failed ({type(exc).__name__})"
        return self._fail(what)

    def _retryable(self, exc: Exception) -> bool:
        if isinstance(exc, self._openai.APITimeoutError):
            return False
        if isinstance(exc, self._openai.APIConnectionError):
            return True
        status = getattr(exc, "status_code", None)
        return isinstance(status, int) and (status in _RETRY_STATUS or status >= 500)

    @staticmethod
    def _backoff(exc: Exception, attempt: int) -> float:
        response = getattr(exc, "response", None)
        header = response.headers.get("retry-after") if response is not None else None
        try:
            if header is not None:
                return min(max(float(header), 0.0), 60.0)
        except ValueError:
            pass
        return min(0.5 * 2 ** attempt, 8.0) * random.uniform(0.8, 1.2)

    def _create(self, end: float, **params):
        """chat.completions.create, retried while the deadline allows; raises ProviderError."""
        for attempt in range(self.max_retries + 1):
            left = end - time.monotonic()
            if left <= 0:
                raise self._timed_out()
            try:
                return self._client.chat.completions.create(model=self.model, timeout=min(self.timeout, left), **params)
            except self._openai.OpenAIError as exc:
                if isinstance(exc, self._openai.APITimeoutError):
                    raise self._timed_out() if time.monotonic() >= end - 0.05 else self._error(exc) from None
                wait = self._backoff(exc, attempt)
                if not self._retryable(exc) or attempt == self.max_retries or time.monotonic() + wait >= end:
                    raise self._error(exc) from None
                time.sleep(wait)
            except ValueError:  # a body that is not JSON
                raise self._fail("returned a malformed response (not JSON)") from None
        raise self._timed_out()  # pragma: no cover - the loop returns or raises

    def _params(self, messages: list[dict], max_tokens: int, temperature: float | None) -> dict:
        return {"messages": messages, "max_tokens": max_tokens,
                "temperature": self._temperature if temperature is None else temperature}

    def complete(self, messages: list[dict], max_tokens: int = 1024, temperature: float | None = None,
                 response_format: dict | None = None) -> str:
        """One whole reply. `response_format` (OpenAI's structured-output parameter, e.g. a JSON schema) is
        passed through; a server that rejects it answers 400, raised like any other error."""
        end = time.monotonic() + self.deadline
        params = self._params(messages, max_tokens, temperature)
        if response_format is not None:
            params["response_format"] = response_format
        response = _before(end, lambda: self._create(end, **params), self._timed_out)
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            content = None
        if not isinstance(content, str) or not content.strip():
            raise self._fail("returned a malformed or empty response")
        return content

    def stream(self, messages: list[dict], max_tokens: int = 1024, temperature: float | None = None) -> Iterator[str]:
        end = time.monotonic() + self.deadline
        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()

        def produce() -> None:
            chunks = None
            try:
                chunks = self._create(end, stream=True, **self._params(messages, max_tokens, temperature))
                for chunk in chunks:
                    if stop.is_set():
                        break
                    choices = getattr(chunk, "choices", None) or []
                    delta = getattr(choices[0], "delta", None) if choices else None
                    text = getattr(delta, "content", None) if delta else None
                    if text:
                        pieces.put(text)
                pieces.put(_END)
            except ProviderError as exc:
                pieces.put(exc)
            except self._openai.OpenAIError as exc:
                pieces.put(self._timed_out() if isinstance(exc, self._openai.APITimeoutError) and time.monotonic() >= end - 0.05
                           else self._error(exc))
            except Exception:  # noqa: BLE001 - a malformed stream, whatever the parser raised
                pieces.put(self._fail("streamed a malformed response"))
            finally:
                if chunks is not None and hasattr(chunks, "close"):
                    with contextlib.suppress(Exception):
                        chunks.close()

        threading.Thread(target=produce, name=f"advisor-{self.provider}-stream", daemon=True).start()
        got = False
        try:
            while True:
                try:
                    item = pieces.get(timeout=max(0.0, end - time.monotonic()))
                except queue.Empty:
                    raise self._timed_out() from None
                if item is _END:
                    break
                if isinstance(item, ProviderError):
                    raise item
                got = True
                yield item
        finally:
            stop.set()
        if not got:
            raise self._fail("streamed no content")


def _before(end: float, call, timed_out):
    """call() in a helper thread; its result, or timed_out() once `end` (monotonic) has passed.

    httpx bounds each read, not a whole response: a server trickling bytes could otherwise hold a request far
    past the deadline. An abandoned call ends by itself at its own read timeout.
    """
    box: queue.Queue = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            box.put((True, call()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box.put((False, exc))

    threading.Thread(target=run, name="advisor-model-call", daemon=True).start()
    try:
        ok, value = box.get(timeout=max(0.0, end - time.monotonic()))
    except queue.Empty:
        raise timed_out() from None
    if not ok:
        raise value
    return value


def api_key(settings: Settings, preset: Preset) -> str | None:
    env_name = settings.api_key_env or preset.key_env
    return os.environ.get(env_name) if env_name else None


def settings_for(settings: Settings, name: str) -> Settings:
    """Settings to build provider `name` with. The configured provider keeps the operator's model, base URL and
    key variable; any other preset gets only its own (a key never goes to a provider it was not set for)."""
    if name == settings.provider:
        return settings
    return settings.model_copy(update={"provider": name, "model": None, "base_url": None, "api_key_env": None})


def allowed_providers(settings: Settings) -> list[str]:
    """The providers a request may pick: settings.allowed_providers, else the configured one and offline."""
    allowed = settings.allowed_providers if settings.allowed_providers is not None else ["offline"]
    return list(dict.fromkeys([settings.provider, *allowed]))


def check_provider(settings: Settings, name: str) -> str:
    """`name` if a request may use it; UnknownProvider (a 400) naming the allowed ones otherwise."""
    allowed = allowed_providers(settings)
    if name not in PRESETS:
        raise UnknownProvider(f"unknown provider '{name}'; allowed here: {', '.join(allowed)}")
    if name not in allowed:
        raise UnknownProvider(f"provider '{name}' is not allowed here; allowed: {', '.join(allowed)} "
                              "(the operator sets allowed_providers)")
    return name


def get_chat_model(settings: Settings) -> ChatModel | None:
    """The configured model, or None in offline mode."""
    name = settings.provider
    if name not in PRESETS:
        raise UnknownProvider(f"unknown provider '{name}'; available: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    if name == "offline":
        return None
    if name == "local" and not settings.base_url:
        from advisor.providers.local_llm import local_server_url

        base_url = local_server_url(settings)
    else:
        base_url = settings.base_url or preset.base_url
    model = settings.model or preset.model
    if not base_url or not model:
        raise ProviderError(f"provider '{name}' needs {'a base_url' if not base_url else 'a model'} (ADVISOR_BASE_URL / ADVISOR_MODEL)")
    key = api_key(settings, preset)
    env_name = settings.api_key_env or preset.key_env
    if preset.key_env and not key and name not in ("vllm",):
        raise ProviderError(f"provider '{name}' needs an API key in the environment variable {env_name}")
    timeout, retries, deadline = settings.request_timeout, settings.max_retries, settings.answer_deadline
    context = settings.model_context_tokens
    if name == "local":  # a CPU model is slow but not flaky: wait longer, do not repeat long requests
        timeout, retries, deadline = max(timeout, 900.0), min(retries, 1), settings.local_answer_deadline
        if not settings.base_url:
            context = min(context or settings.local_n_ctx, settings.local_n_ctx)
    return OpenAICompatible(name, base_url, model, key, timeout, retries, deadline=deadline, context_tokens=context)


def describe_providers(settings: Settings) -> list[dict]:
    """Each preset with whether it is usable as configured (key present), for pickers and `advisor providers`."""
    rows = []
    for p in PRESETS.values():
        env_name = (settings.api_key_env if settings.provider == p.name and settings.api_key_env else None) or p.key_env
        configured = p.key_env is None or bool(os.environ.get(env_name or ""))
        rows.append({"name": p.name, "model": p.model, "base_url": p.base_url, "key_env": p.key_env, "configured": configured, "note": p.note})
    return rows
