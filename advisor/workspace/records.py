"""The records the compliance guide asks a business to keep for each AI system, as typed schemas.

Each kind has its fields (pydantic), an English and a Chinese title, and Chinese/English column labels for
exports. They are entered one by one (CLI, API, the Workspace tab) or imported in bulk from CSV or JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from advisor.workspace.db import WorkspaceError


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class ModelVersion(_Record):
    """A model in use: name, provider, version, filing or registration number, dates."""

    name: str = Field(min_length=1, max_length=200)
    provider: str = Field(min_length=1, max_length=200)
    version: Optional[str] = Field(None, max_length=120)
    filing_number: Optional[str] = Field(None, max_length=200, description="filing (备案) or registration (登记) number")
    in_use_from: Optional[dt.date] = None
    in_use_to: Optional[dt.date] = None
    notes: Optional[str] = Field(None, max_length=2000)


class TrainingData(_Record):
    """A training-data source: what, where from, on what basis."""

    name: str = Field(min_length=1, max_length=200)
    origin: str = Field(min_length=1, max_length=500, description="where it comes from: supplier, URL, own users ...")
    legal_basis: Optional[str] = Field(None, max_length=500, description="licence, consent or other basis")
    personal_information: bool = False
    period: Optional[str] = Field(None, max_length=120, description="when it was collected")
    notes: Optional[str] = Field(None, max_length=2000)


class ModerationDecision(_Record):
    """A content-moderation decision: date, content reference, decision, reviewer."""

    date: dt.date
    content_ref: str = Field(min_length=1, max_length=500)
    decision: str = Field(min_length=1, max_length=500)
    reviewer: str = Field(min_length=1, max_length=120)
    reason: Optional[str] = Field(None, max_length=2000)


class LabellingMethod(_Record):
    """How generated content is labelled."""

    method: str = Field(min_length=1, max_length=500, description="e.g. visible watermark, metadata, spoken notice")
    content_types: Optional[str] = Field(None, max_length=200, description="text, image, audio, video ...")
    since: Optional[dt.date] = None
    notes: Optional[str] = Field(None, max_length=2000)


@dataclass(frozen=True)
class RecordKind:
    name: str
    schema: type[_Record]
    title_en: str
    title_zh: str
    labels_zh: dict[str, str]

    @property
    def fields(self) -> list[str]:
        return list(self.schema.model_fields)

    def label(self, field: str, lang: str) -> str:
        return self.labels_zh.get(field, field) if lang == "zh" else field.replace("_", " ")


KINDS: dict[str, RecordKind] = {k.name: k for k in (
    RecordKind("model_versions", ModelVersion, "Model versions in use", "在用模型版本",
               {"name": "模型名称", "provider": "提供方", "version": "版本", "filing_number": "备案或登记编号",
                "in_use_from": "启用日期", "in_use_to": "停用日期", "notes": "备注"}),
    RecordKind("training_data", TrainingData, "Training-data sources", "训练数据来源",
               {"name": "数据名称", "origin": "来源", "legal_basis": "合法性基础（授权、同意等）",
                "personal_information": "含个人信息", "period": "采集时间", "notes": "备注"}),
    RecordKind("moderation", ModerationDecision, "Content-moderation decisions", "内容审核决定",
               {"date": "日期", "content_ref": "内容编号或链接", "decision": "处理决定", "reviewer": "审核人",
                "reason": "理由"}),
    RecordKind("labelling", LabellingMethod, "Labelling methods", "标识方式",
               {"method": "标识方式", "content_types": "内容类型", "since": "启用日期", "notes": "备注"}),
)}


def record_kind(name: str) -> RecordKind:
    kind = KINDS.get(name.replace("-", "_"))
    if kind is None:
        raise WorkspaceError(f"unknown record kind '{name}'; use one of: {', '.join(KINDS)}")
    return kind


def _problem(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "record"
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def validate_record(kind: RecordKind, data: Any, where: str = "record") -> dict:
    """The record as JSON-ready data; WorkspaceError naming the bad fields (and the valid ones)."""
    if not isinstance(data, dict):
        raise WorkspaceError(f"{where}: expected an object with the fields {', '.join(kind.fields)}")
    try:
        return kind.schema.model_validate(data).model_dump(mode="json")
    except ValidationError as exc:
        raise WorkspaceError(f"{where}: {_problem(exc)} (fields of {kind.name}: {', '.join(kind.fields)})") from None


def parse_rows(text: str, fmt: str) -> list[dict]:
    """Rows from CSV (a header line with the field names) or JSON (a list of objects)."""
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise WorkspaceError(f"not valid JSON (line {exc.lineno}): {exc.msg}") from None
        if isinstance(data, dict) and isinstance(data.get("records"), list):
            data = data["records"]
        if not isinstance(data, list):
            raise WorkspaceError("JSON import: expected a list of records (or {\"records\": [...]})")
        return data
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        if not reader.fieldnames:
            raise WorkspaceError("CSV import: the first line must name the fields")
        return [{k.strip(): v for k, v in row.items() if k is not None and v not in (None, "")} for row in reader]
    raise WorkspaceError(f"import format must be csv or json, not '{fmt}'")
