"""Language models behind one interface, chosen by name in settings (`provider = "qwen"`).

Every provider speaks the OpenAI chat-completions protocol through the `openai` SDK, which also does
the retries (exponential backoff on timeouts, connection errors, 408/409/429 and 5xx, honouring
Retry-After). API keys come from environment variables named by the preset (or `api_key_env`) and
never appear in messages, logs or answers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator, Protocol

from advisor.errors import ProviderError
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

    def complete(self, messages: list[dict], max_tokens: int = 1024) -> str: ...

    def stream(self, messages: list[dict], max_tokens: int = 1024) -> Iterator[str]: ...


class OpenAICompatible:
    """Chat over any OpenAI-compatible endpoint."""

    def __init__(self, provider: str, base_url: str, model: str, api_key: str | None, timeout: float, max_retries: int, temperature: float = 0.1):
        import openai

        self.provider, self.model, self.base_url = provider, model, base_url
        self._secret = api_key or ""
        self._temperature = temperature
        self._openai = openai
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or "no-key", timeout=timeout, max_retries=max_retries)

    def _error(self, exc: Exception) -> ProviderError:
        """A message naming the provider and the failure, scrubbed of the key."""
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
        message = f"{self.provider} at {self.base_url} {what}"
        if self._secret:
            message = message.replace(self._secret, "***")
        return ProviderError(message)

    def complete(self, messages: list[dict], max_tokens: int = 1024) -> str:
        try:
            response = self._client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens, temperature=self._temperature,
            )
        except self._openai.OpenAIError as exc:
            raise self._error(exc) from None
        except ValueError:  # a body that is not JSON
            raise ProviderError(f"{self.provider} at {self.base_url} returned a malformed response (not JSON)") from None
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            content = None
        if not isinstance(content, str) or not content.strip():
            raise ProviderError(f"{self.provider} at {self.base_url} returned a malformed or empty response")
        return content

    def stream(self, messages: list[dict], max_tokens: int = 1024) -> Iterator[str]:
        try:
            chunks = self._client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens, temperature=self._temperature, stream=True,
            )
            got = False
            for chunk in chunks:
                choices = getattr(chunk, "choices", None) or []
                delta = getattr(choices[0], "delta", None) if choices else None
                text = getattr(delta, "content", None) if delta else None
                if text:
                    got = True
                    yield text
        except self._openai.OpenAIError as exc:
            raise self._error(exc) from None
        except ValueError:
            raise ProviderError(f"{self.provider} at {self.base_url} streamed a malformed response") from None
        if not got:
            raise ProviderError(f"{self.provider} at {self.base_url} streamed no content")


def api_key(settings: Settings, preset: Preset) -> str | None:
    env_name = settings.api_key_env or preset.key_env
    return os.environ.get(env_name) if env_name else None


def get_chat_model(settings: Settings) -> ChatModel | None:
    """The configured model, or None in offline mode."""
    name = settings.provider
    if name not in PRESETS:
        raise ProviderError(f"unknown provider '{name}'; available: {', '.join(PRESETS)}")
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
    timeout, retries = settings.request_timeout, settings.max_retries
    if name == "local":  # a CPU model is slow but not flaky: wait longer, do not repeat long requests
        timeout, retries = max(timeout, 900.0), min(retries, 1)
    return OpenAICompatible(name, base_url, model, key, timeout, retries)


def describe_providers(settings: Settings) -> list[dict]:
    """Each preset with whether it is usable as configured (key present), for pickers and `advisor providers`."""
    rows = []
    for p in PRESETS.values():
        env_name = (settings.api_key_env if settings.provider == p.name and settings.api_key_env else None) or p.key_env
        configured = p.key_env is None or bool(os.environ.get(env_name or ""))
        rows.append({"name": p.name, "model": p.model, "base_url": p.base_url, "key_env": p.key_env, "configured": configured, "note": p.note})
    return rows
