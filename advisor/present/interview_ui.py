"""The interview: a form that fills a business profile, then shows its cited checklist, risk level and
six-month roadmap (``Advisor.assess``), with the report as Markdown and the profile as YAML to download.

The form is derived from the ``Profile`` model (``model_fields``, nested models flattened into paths
such as ``features.generative_text``), so a field added to the model appears here without code: it
gets a readable label from its name, and its pydantic ``description`` as help if it has one.

Stable element ids: ``assess``, ``assess-lang``, ``assess-as-of``, ``assessment-risk``, ``assessment``,
``assessment-download``, ``profile-download``, ``profile-upload``, ``profile-status``, one
``section-<key>`` per section, and one ``field-<path>`` per field (dots and underscores as dashes:
``field-public-service``, ``field-features-generative-text``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import yaml
from gradio import utils as gradio_utils
from pydantic import BaseModel

from advisor.compose.assess import (
    LEVEL_ZH,
    Assessment,
    Profile,
    ProfileError,
    load_profile,
    parse_profile,
    profile_leaves,
    UNKNOWABLE,
)
from advisor.compose.markup import md_text
from advisor.corpus.obligations import FieldInfo
from advisor.errors import AdvisorError
from advisor.present.advisor import Advisor

NONE = "none"  # the form's value for "not set" in an optional choice
SECTIONS: dict[str, str] = {
    "business": "About the business · 企业概况",
    "ai": "AI features · AI功能",
    "users": "Users · 用户",
    "pi": "Personal information · 个人信息",
    "processing": "Processing · 处理活动",
    "cross_border": "Cross-border · 数据出境",
    "infra": "Infrastructure & corporate · 基础设施与公司",
}
PREFIX_SECTIONS = {"features": "ai", "processing": "processing", "cross_border": "cross_border"}

# path -> (section, English label, Chinese label, help); fields not listed get a label from their name
KNOWN: dict[str, tuple[str, str, str, str]] = {
    "name": ("business", "Name", "名称", "How the report names the business or product."),
    "description": ("business", "Description", "描述",
                    "What the business does with AI and data, in a few sentences (kept with the profile; not evaluated)."),
    "entity_location": ("business", "Where the business is established", "主体所在地",
                        "A company in mainland China, or one outside it."),
    "sector": ("business", "Sector", "行业", ""),
    "public_service": ("business", "Offers the service to the public in mainland China", "向境内公众提供服务",
                       ("Anyone in mainland China, person or organisation, can sign up or use it (app, website, "
                        "mini-program). Not sure: the rules that depend on it are to confirm.")),
    "internal_only": ("business", "Used only inside the business", "仅内部使用", "Staff or R&D only."),
    "customer_facing": ("business", "Used by the business's own customers", "面向本企业客户",
                        "e.g. a bank's assistant for its account holders."),
    "launched": ("business", "Already launched", "已上线", "The service is live: every step is due sooner."),
    "features.generative_text": ("ai", "Generates text", "生成文本", "Chat, writing, Q&A."),
    "features.generative_image": ("ai", "Generates images", "生成图片", ""),
    "features.generative_audio": ("ai", "Generates audio", "生成音频", "Speech, music, sound."),
    "features.generative_video": ("ai", "Generates video", "生成视频", ""),
    "features.face_or_voice_editing": ("ai", "Generates or edits faces or voices", "人脸、人声生成或编辑",
                                       "Face swap, voice cloning."),
    "features.virtual_scenes": ("ai", "Digital humans or immersive scenes", "数字人、沉浸式拟真场景", ""),
    "features.algorithmic_recommendation": ("ai", "Algorithmic recommendation", "算法推荐",
                                            "Personalised push, ranking, search filtering, scheduling decisions."),
    "features.user_publishing": ("ai", "Users publish or message each other", "用户发布信息或相互通信", ""),
    "features.publishes_ai_content": ("ai", "Publishes AI-generated content", "发布AI生成内容",
                                      "Its own or its clients'."),
    "features.api_access": ("ai", "Offers models or tools to other businesses", "向其他企业提供模型或工具",
                            "API, SDK."),
    "features.third_party_platform": ("ai", "Hosts third-party sellers, apps or creators", "平台内有第三方经营者", ""),
    "features.app_distribution": ("ai", "Distributes other parties' apps", "分发第三方应用", "App store."),
    "features.sells_to_consumers": ("ai", "Sells to consumers through the service", "向消费者销售商品或服务", ""),
    "features.targeted_advertising": ("ai", "Targeted advertising", "定向广告",
                                      "Ads or marketing chosen by automated decision."),
    "features.work_scheduling": ("ai", "Schedules workers by algorithm", "算法派单、调度",
                                 ("Assigns orders or schedules work (delivery riders, drivers …); tick algorithmic "
                                  "recommendation too.")),
    "public_opinion_or_mobilisation": ("ai", "Public-opinion attributes or social mobilisation capacity",
                                       "具有舆论属性或者社会动员能力",
                                       ("Forums, comments, groups, short video, live streaming or information sharing "
                                        "mean yes (2018 Provisions Art. 2); not sure: derived from the features, else "
                                        "security assessment and filing are to confirm.")),
    "models": ("ai", "Models used", "所用模型", ""),
    "features.emotional_companion": ("ai", "Emotional companionship", "情感陪伴互动",
                                     ("Sustained emotional interaction simulating a person: companion, virtual friend "
                                      "or partner (not customer service or Q&A).")),
    "processing.face_recognition": ("processing", "Face recognition", "人脸识别",
                                    "Recognises or verifies people by their face."),
    "pi_role": ("pi", "Role for personal information", "个人信息处理角色",
                "Handler: decides purposes and means. Processor: only on behalf of other businesses (受托人)."),
    "unknown": ("business", "Facts not known yet", "尚不确定的事项",
                "Rules that depend on them are listed as to confirm, with the question to ask."),
    "platforms": ("ai", "Publishes on platforms", "发布平台",
                  ("Third-party platforms, comma-separated: WeChat, Weibo, Xiaohongshu, Douyin … (shown in the "
                   "report; no obligation depends on it).")),
    "users": ("users", "Registered users", "注册用户数量", "For a service without registration, its users."),
    "monthly_active_users": ("users", "Monthly active users", "月活跃用户数量", "Leave empty if not known."),
    "minors_among_users": ("users", "Minors among the users", "用户中有未成年人", "Users under 18."),
    "elderly_users": ("users", "Older people among the users", "用户中有老年人", "ARP Art. 19."),
    "children_under_14": ("users", "Children under 14", "不满十四周岁未成年人的个人信息",
                          "Processes their personal information (they are minors too)."),
    "personal_information": ("pi", "Processes personal information", "处理个人信息",
                             "Any information about identified or identifiable people."),
    "pi_subjects": ("pi", "People whose personal information is processed", "个人信息涉及人数", ""),
    "sensitive_pi": ("pi", "Sensitive personal information", "敏感个人信息",
                     "Health, financial accounts, whereabouts, religion … (PIPL Art. 28)."),
    "sensitive_pi_subjects": ("pi", "People whose sensitive personal information is processed",
                              "敏感个人信息涉及人数", "At most the number above."),
    "biometric": ("pi", "Biometric information", "生物识别信息", "Face, voiceprint, fingerprint …"),
    "processing.shares_with_third_parties": ("processing", "Shares it with third parties", "向其他处理者提供",
                                             "Other independent handlers."),
    "processing.uses_processors": ("processing", "Entrusts processing to processors", "委托处理",
                                   "Cloud, outsourcers, model APIs."),
    "processing.publishes_pi": ("processing", "Makes personal information public", "公开个人信息", ""),
    "processing.public_space_cameras": ("processing", "Cameras in public places", "公共场所图像采集、个人身份识别",
                                        "Image capture or identity recognition."),
    "processing.automated_decisions": ("processing", "Automated decisions about individuals", "自动化决策",
                                       "Scoring, pricing … by automated analysis."),
    "cross_border.destinations": ("cross_border", "Destinations", "境外接收方所在国家或地区",
                                  ("Countries or regions, comma-separated (shown in the report; no obligation "
                                   "depends on it).")),
    "cross_border.subjects": ("cross_border", "People whose personal information goes abroad",
                              "出境个人信息涉及人数", "Non-sensitive; individuals since 1 January this year."),
    "cross_border.sensitive_subjects": ("cross_border", "People whose sensitive personal information goes abroad",
                                        "出境敏感个人信息涉及人数", "Individuals since 1 January this year."),
    "cross_border.important_data": ("cross_border", "Important data goes abroad", "重要数据出境", ""),
    "cross_border.exemption": ("cross_border", "Exemption claimed", "豁免情形",
                               ("Cross-Border Provisions Art. 5(1)-(3): a contract the individual is party to "
                                "(cross-border shopping, travel …), cross-border HR management, or an emergency "
                                "protecting life, health or property.")),
    "cii_operator": ("infra", "Critical information infrastructure operator", "关键信息基础设施运营者",
                     "Notified as such."),
    "important_data": ("infra", "Processes important data", "处理重要数据", "Data identified as important data."),
    "data_storage": ("infra", "Where data is stored", "数据存储地", ""),
    "foreign_investment": ("infra", "Foreign-invested enterprise", "外商投资企业", ""),
    "listing_foreign_country": ("infra", "Plans to list in a foreign country", "拟赴国外上市",
                                "A stock exchange in a foreign country (Cybersecurity Review Measures Art. 7)."),
    "listing_hong_kong": ("infra", "Plans to list in Hong Kong", "拟赴香港上市",
                          "Not 赴国外上市; the national-security review of Art. 2 may apply."),
}
CHOICE_LABELS = {
    NONE: "None · 无", "mainland": "Mainland China · 境内", "abroad": "Abroad · 境外", "both": "Both · 两者皆有",
    "other": "Other · 其他", "finance": "Finance · 金融", "healthcare": "Healthcare · 医疗健康",
    "education": "Education · 教育", "ecommerce": "E-commerce · 电子商务", "media": "Media · 媒体",
    "marketing": "Marketing · 营销", "gaming": "Gaming · 游戏", "government": "Government · 政务",
    "telecom": "Telecom · 电信", "energy": "Energy · 能源", "transport": "Transport · 交通",
    "manufacturing": "Manufacturing · 制造", "software": "Software · 软件", "research": "Research · 科研",
    "domestic_filed": "Domestic model, filed · 已备案的境内模型", "foreign_api": "Foreign model API · 境外模型接口",
    "own_model": "Own model · 自有模型",
    "handler": "Handler · 个人信息处理者", "processor": "Processor · 受托人",
    "contract": "Contract · 合同所必需", "hr_management": "HR management · 人力资源管理",
    "emergency": "Emergency · 紧急情况",
}
BADGES = {"low": "🟢", "medium": "🟡", "high": "🟠", "critical": "🔴"}
EMPTY_REPORT = ("_Answer the questions, then press **Assess**: the obligations that apply, with the articles they rest "
                "on, the risk level and a six-month roadmap appear here._\n\n"
                "_回答问题后点击“评估”：适用的义务及其依据条文、风险等级和六个月路线图将显示在此处。_")
NOT_ASSESSED = "**Risk level · 风险等级:** _not assessed yet · 尚未评估_"
TAG_SPLIT = re.compile(r"[,，、;；\n]+")


# ---- the fields (pure: no Gradio) ----------------------------------------------------------------

@dataclass(frozen=True)
class FormField:
    """One question of the interview: a leaf of the Profile model."""

    path: str                       # e.g. "features.generative_text"
    kind: str                       # bool | int | choice | multi (list of choices) | tags (list of text) | text
    default: Any
    choices: tuple[str, ...] = ()
    optional: bool = False          # may be left unset (None): an optional choice or count
    section: str = "business"
    label_en: str = ""
    label_zh: str = ""
    help: str = ""

    @property
    def label(self) -> str:
        return f"{self.label_en} · {self.label_zh}" if self.label_zh else self.label_en

    @property
    def elem_id(self) -> str:
        return "field-" + self.path.replace(".", "-").replace("_", "-")


_FORM_KINDS = {("bool", False): "bool", ("int", False): "int", ("str", True): "choice", ("str", False): "text",
               ("list", True): "multi", ("list", False): "tags"}


def _kind(kind: FieldInfo) -> tuple[str, tuple[str, ...], bool]:
    """(form kind, choices, optional) for a profile leaf's kind; an optional yes/no is a three-way choice whose
    "not sure" leaves it unsettled (the engine then asks instead of assuming no)."""
    if kind.kind == "bool" and kind.nullable:
        return "tristate", ("yes", "no"), True
    return _FORM_KINDS[(kind.kind, bool(kind.choices))], tuple(kind.choices or ()), kind.nullable


def _readable(name: str) -> str:
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _describe(path: str, info) -> tuple[str, str, str, str]:
    """(section, label_en, label_zh, help): from KNOWN, else from the name and the field's description."""
    if path in KNOWN:
        return KNOWN[path]
    head = path.split(".")[0] if "." in path else ""
    section = PREFIX_SECTIONS.get(head, head or "business")
    return section, _readable(path.rsplit(".", 1)[-1]), "", info.description or ""


def _walk(model: type[BaseModel]) -> list[FormField]:
    fields = []
    for path, kind, info in profile_leaves(model):
        form_kind, choices, optional = _kind(kind)
        if path == "unknown":  # the facts left unsettled: a choice among the fields a profile may leave open
            form_kind, choices = "multi", tuple(sorted(UNKNOWABLE))
        section, en, zh, help_text = _describe(path, info)
        fields.append(FormField(path, form_kind, info.get_default(call_default_factory=True), choices, optional,
                                section, en, zh, help_text))
    return fields


def section_titles(fields: Sequence[FormField]) -> dict[str, str]:
    """Section key -> title, in display order (known sections first, then any new nested model)."""
    keys = list(SECTIONS) + [f.section for f in fields if f.section not in SECTIONS]
    return {k: SECTIONS.get(k, _readable(k)) for k in dict.fromkeys(keys) if any(f.section == k for f in fields)}


@functools.cache
def form_fields(model: type[BaseModel] = Profile) -> tuple[FormField, ...]:
    """Every leaf field of `model`, grouped by section (model order within a section)."""
    fields = _walk(model)
    order = list(section_titles(fields))
    return tuple(sorted(fields, key=lambda f: order.index(f.section)))


def choice_label(value: str) -> str:
    return CHOICE_LABELS.get(value, _readable(value))


# ---- form values <-> profile (pure) -------------------------------------------------------------

def _split_tags(value: Any) -> list:
    if value is None:
        return []
    items = TAG_SPLIT.split(value) if isinstance(value, str) else list(value)
    return [item.strip() if isinstance(item, str) else item for item in items if not isinstance(item, str) or item.strip()]


def _as_int(value: Any, default: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d[\d,_ ]*\s*", value):
        return int(re.sub(r"[,_ ]", "", value))
    return value  # anything else is left for parse_profile to reject, naming the field


def _normalise(field: FormField, value: Any) -> Any:
    """A form value as the Profile wants it (invalid values pass through for parse_profile to report)."""
    if field.kind == "bool":
        return field.default if value is None else value
    if field.kind == "tristate":
        return {"yes": True, "no": False, NONE: None, "": None}.get(value, value) if isinstance(value, str) else value
    if field.kind == "int":
        return _as_int(value, field.default)
    if field.kind == "choice":
        if value in (None, "", NONE):
            return None if field.optional else field.default
        return value
    if field.kind in ("multi", "tags"):
        return _split_tags(value)
    return field.default if value is None else (value.strip() if isinstance(value, str) else value)


def form_to_profile(values: Mapping[str, Any], fields: Sequence[FormField] | None = None) -> dict:
    """Form values {path: value} -> a nested mapping for parse_profile, without the fields left at their default."""
    out: dict = {}
    for field in fields or form_fields():
        if field.path not in values:
            continue
        value = _normalise(field, values[field.path])
        if value == field.default and type(value) is type(field.default):
            continue
        *parents, leaf = field.path.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _value_at(profile: BaseModel, path: str) -> Any:
    node: Any = profile
    for part in path.split("."):
        node = getattr(node, part)
    return node


def profile_to_form(profile: Profile | Mapping, fields: Sequence[FormField] | None = None) -> dict[str, Any]:
    """Every form value {path: value} for a profile (a mapping is validated first)."""
    if not isinstance(profile, BaseModel):
        profile = parse_profile(dict(profile))
    form = {}
    for field in fields or form_fields(type(profile)):
        value = _value_at(profile, field.path)
        if field.kind == "tags":
            value = ", ".join(str(v) for v in value)
        elif field.kind == "multi":
            value = list(value)
        elif field.kind == "choice" and value is None:
            value = NONE
        elif field.kind == "tristate":
            value = NONE if value is None else ("yes" if value else "no")
        elif field.kind == "int" and field.optional:
            value = "" if value is None else str(value)
        form[field.path] = value
    return form


def profile_dict(profile: Profile | Mapping) -> dict:
    """The profile as a plain mapping with only its non-default fields."""
    if not isinstance(profile, BaseModel):
        profile = parse_profile(dict(profile))
    return profile.model_dump(mode="json", exclude_defaults=True)


def profile_yaml(profile: Profile | Mapping) -> str:
    """The profile as YAML (non-default fields only), loadable by `load_profile`."""
    return yaml.safe_dump(profile_dict(profile), allow_unicode=True, sort_keys=False, width=100)


# ---- report helpers (pure) ----------------------------------------------------------------------

def parse_day(text: str | None) -> dt.date | None:
    """The as-of date (None: today); ProfileError with a one-line message if it is not YYYY-MM-DD."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ProfileError(f"'{text}' is not a date; use YYYY-MM-DD. / 日期格式应为 YYYY-MM-DD。") from None


def risk_line(assessment: Assessment) -> str:
    """The badge line: risk level, counts, date."""
    level = assessment.risk_level
    icon, zh = BADGES.get(level, "⚪"), LEVEL_ZH.get(level, level)
    return (f"**{icon} Risk level · 风险等级: {level.upper()} · {zh}** — "
            f"{len(assessment.applicable)} obligations apply · 适用义务 {len(assessment.applicable)} 项 · "
            f"{len(assessment.to_confirm)} to confirm · 待确认 {len(assessment.to_confirm)} 项 · "
            f"{len(assessment.roadmap)} roadmap steps · 路线图 {len(assessment.roadmap)} 步 · "
            f"as of 截至 {assessment.as_of.isoformat()}")


def problem_line(exc: Exception) -> str:
    """A profile or date problem as one warning line (without the list of every valid field)."""
    text = " ".join(str(exc).split()).split(" | valid fields:")[0]
    return f"⚠️ **Cannot assess · 无法评估:** {md_text(text)}"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "profile"


def report_markdown(assessment: Assessment, profile: Profile, lang: str) -> str:
    """The downloadable report: the assessment, then the profile it was made from."""
    return (assessment.to_markdown(lang) + "\n---\n\n## Profile assessed · 评估所依据的档案\n\n"
            f"```yaml\n{profile_yaml(profile)}```\n")


def write_files(folder: Path, assessment: Assessment, profile: Profile, lang: str) -> tuple[str, str]:
    """The report (.md) and the profile (.yaml) as files in `folder`; returns their paths."""
    report, data = report_markdown(assessment, profile, lang), profile_yaml(profile)
    slug = _slug(profile.name)
    md = folder / f"assessment-{slug}-{assessment.as_of.isoformat()}-{lang}-{_digest(report)}.md"
    yml = folder / f"profile-{slug}-{_digest(data)}.yaml"
    md.write_text(report, encoding="utf-8")
    yml.write_text(data, encoding="utf-8")
    return str(md), str(yml)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


# ---- the Gradio tab -----------------------------------------------------------------------------

def _component(field: FormField) -> gr.components.Component:
    common: dict[str, Any] = {"label": field.label, "elem_id": field.elem_id}
    if field.help:
        common["info"] = field.help
    if field.kind == "bool":
        return gr.Checkbox(value=bool(field.default), **common)
    if field.kind == "tristate":
        choices = [("Not sure · 不确定", NONE), ("Yes · 是", "yes"), ("No · 否", "no")]
        return gr.Radio(choices=choices, value=NONE if field.default is None else ("yes" if field.default else "no"), **common)
    if field.kind == "int" and field.optional:  # a text box, so that "not known" can stay empty
        return gr.Textbox(value="" if field.default is None else str(field.default), placeholder="not known · 未知",
                          **common)
    if field.kind == "int":
        return gr.Number(value=field.default or 0, precision=0, minimum=0, **common)
    if field.kind == "choice":
        values = ([NONE] if field.optional else []) + list(field.choices)
        choices = [(choice_label(v), v) for v in values]
        value = NONE if field.default is None else field.default
        if len(choices) <= 4:
            return gr.Radio(choices=choices, value=value, **common)
        return gr.Dropdown(choices=choices, value=value, filterable=False, **common)
    if field.kind == "multi":
        return gr.CheckboxGroup(choices=[(choice_label(v), v) for v in field.choices], value=list(field.default),
                                **common)
    if field.kind == "tags":
        return gr.Textbox(value=", ".join(field.default), placeholder="comma-separated · 以逗号分隔", **common)
    long = field.path == "description"
    return gr.Textbox(value=field.default or "", lines=3 if long else 1, max_lines=8 if long else 1, **common)


def _rows(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _render_form(fields: Sequence[FormField]) -> list[gr.components.Component]:
    """Every section as an open accordion: text boxes, then the other inputs two a row, then the check boxes
    three a row; returns the components in `fields` order."""
    made: dict[str, gr.components.Component] = {}
    for key, title in section_titles(fields).items():
        mine = [f for f in fields if f.section == key]
        with gr.Accordion(title, open=True, elem_id=f"section-{key.replace('_', '-')}"):
            for f in (f for f in mine if f.kind == "text"):
                made[f.path] = _component(f)
            rows = _rows([f for f in mine if f.kind not in ("text", "bool")], 2)
            rows += _rows([f for f in mine if f.kind == "bool"], 3)
            for row in rows:
                with gr.Row(equal_height=False):
                    for f in row:
                        made[f.path] = _component(f)
                    for _ in range((2 if row[0].kind != "bool" else 3) - len(row)):
                        gr.HTML("")  # keeps the columns of a short last row aligned
    return [made[f.path] for f in fields]


NOT_UPLOADED = "only a file uploaded here can be loaded · 只能载入在此上传的文件"


def uploaded_file(file: Any) -> Path | None:
    """The path of a file that was uploaded through this app (inside Gradio's upload folder), or None.

    A mounted Gradio app does not check where a FileData path points, so an API caller could name any file
    on the server's disk; only files under the upload folder are read (symlinks and '..' resolved first).
    """
    raw = file if isinstance(file, str) else getattr(file, "path", None) or getattr(file, "name", None)
    if not isinstance(raw, str) or not raw:
        return None
    folder = Path(gradio_utils.get_upload_folder()).resolve()
    try:
        path = Path(raw).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return path if path.is_file() and path.is_relative_to(folder) and path != folder else None


def build_interview(advisor: Advisor) -> gr.State:
    """The interview tab's content (call inside an open Blocks or Tab); returns the State holding the last
    valid profile as a minimal dict (None until one is assessed or loaded)."""
    fields = form_fields()
    folder = Path(tempfile.mkdtemp(prefix="advisor-assessments-"))
    keep = [gr.update() for _ in fields]

    def assess_profile_form(lang: str, as_of: str, current: dict | None, *values: Any):
        """Assess the form: (risk line, report, report download, profile download, profile state)."""
        off = gr.update(value=None, interactive=False)
        try:
            day = parse_day(as_of)
            profile = parse_profile(form_to_profile(dict(zip((f.path for f in fields), values))), "profile")
            assessment = advisor.assess(profile, as_of=day)
        except AdvisorError as exc:
            return problem_line(exc), EMPTY_REPORT, off, off, current
        lang = lang if lang in ("en", "zh") else "en"
        md, yml = write_files(folder, assessment, profile, lang)
        return (risk_line(assessment), assessment.to_markdown(lang), gr.update(value=md, interactive=True),
                gr.update(value=yml, interactive=True), profile_dict(profile))

    def load_profile_file(file: Any, current: dict | None):
        """Fill the form from an uploaded YAML/JSON profile: (every field, status, profile state)."""
        if not file:
            return [*keep, "", current]
        path = uploaded_file(file)
        if path is None:  # a path on the server's disk sent through the API: never read, never echoed
            return [*keep, f"⚠️ **Not loaded · 未载入:** {NOT_UPLOADED}", current]
        try:
            profile = load_profile(path)
        except AdvisorError as exc:
            text = md_text(" ".join(str(exc).split()))
            return [*keep, f"⚠️ **Not loaded · 未载入:** {text}", current]
        form = profile_to_form(profile, fields)
        message = f"✅ Loaded **{md_text(path.name)}** · 已载入。Press **Assess** · 请点击“评估”。"
        return [*(form[f.path] for f in fields), message, profile_dict(profile)]

    profile_state = gr.State(None)
    gr.Markdown("Describe the business: every answer maps to a condition in the obligations rulebook, and the "
                "assessment is deterministic (no language model). · 描述您的业务：每个问题对应义务规则中的一项条件，"
                "评估结果由规则确定（不使用语言模型）。")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            with gr.Row(equal_height=True):
                upload = gr.UploadButton("Load a profile (YAML/JSON) · 载入档案", file_types=[".yaml", ".yml", ".json"],
                                         type="filepath", elem_id="profile-upload", size="sm", scale=0)
                status = gr.Markdown("", elem_id="profile-status")
            components = _render_form(fields)
        with gr.Column(scale=2, min_width=360):
            with gr.Row():
                lang = gr.Radio(choices=[("English", "en"), ("中文", "zh")], value="en",
                                label="Report language · 报告语言", elem_id="assess-lang", scale=1)
                as_of = gr.Textbox(label="As of · 评估日期", placeholder="YYYY-MM-DD (default: today)",
                                   elem_id="assess-as-of", scale=1)
            button = gr.Button("Assess · 评估", variant="primary", elem_id="assess")
            risk = gr.Markdown(NOT_ASSESSED, elem_id="assessment-risk")
            report = gr.Markdown(EMPTY_REPORT, elem_id="assessment", max_height=900, container=True)
            with gr.Row():
                report_file = gr.DownloadButton("Download report (.md) · 下载报告", value=None, interactive=False,
                                                elem_id="assessment-download")
                profile_file = gr.DownloadButton("Download profile (.yaml) · 下载档案", value=None,
                                                 interactive=False, elem_id="profile-download")

    button.click(assess_profile_form, inputs=[lang, as_of, profile_state, *components],
                 outputs=[risk, report, report_file, profile_file, profile_state])
    upload.upload(load_profile_file, inputs=[upload, profile_state], outputs=[*components, status, profile_state])
    return profile_state
