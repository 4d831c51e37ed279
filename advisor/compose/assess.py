"""Deterministic applicability engine: a business profile in, a cited checklist, a risk level and a
six-month roadmap out. No language model, no randomness: the same profile, corpus, obligations and
date always give byte-identical output.

Inputs
------
* ``Profile`` (strict: an unknown or ill-typed field is an error naming the valid fields), loaded
  from YAML or JSON by ``load_profile``. Derived facts the conditions may use:
  ``features.generative`` (any generative_* feature), ``features.deep_synthesis`` (generative, face
  or voice editing, or virtual scenes), ``processes_sensitive_pi`` (sensitive_pi, biometric or
  children_under_14), ``cross_border.exempt`` (an Art. 5(1)-(3) exemption is declared),
  ``cross_border.pi_exported`` (subjects or sensitive_subjects > 0, or a mainland entity storing
  personal information abroad), ``cross_border.pi_subjects_abroad`` and
  ``cross_border.sensitive_subjects_abroad`` (the declared counts; when a mainland entity stores all
  its data abroad, at least pi_subjects / sensitive_pi_subjects). ``monthly_active_users`` is the
  one optional number: null means not known, and a numeric comparison with null does not hold (the
  large-platform scope therefore asks when it is null and registered users are 10 million or more).
  ``platforms`` and ``cross_border.destinations`` are recorded and shown in the report header, but no
  condition uses them: no article in the corpus makes an obligation depend on the platform a business
  publishes on or on the destination country (the destination's laws are something the CAC security
  assessment and the certification impact assessment weigh, not a trigger; corpus/obligations/README.md
  lists what was checked). elderly_users and features.work_scheduling feed ARP Arts. 19 and 20; a
  profile with work_scheduling must also declare algorithmic_recommendation (a scheduling-decision
  algorithm, ARP Art. 2 para. 2).
* The obligations rulebook (``advisor.corpus.obligations``; files in ``corpus/obligations``).
* The corpus, for the verbatim article texts, and the date (``as_of``): only instrument versions in
  force that day are cited; a rule none of whose instruments is in force does not apply.

Statuses
--------
Facts are three-valued (true, false, or UNKNOWN: a field listed in ``Profile.unknown``, an undeclared
public-opinion status the features do not settle, a customer-facing service whose openness is not
stated). An obligation whose condition holds *applies*; if it carries a ``confirm`` question (a fact the
corpus leaves to another rule, e.g. the CAC's volume threshold in PIPL Art. 52) it is listed *to
confirm* instead; a condition that depends on UNKNOWN facts is *to confirm* with the question for each
(``advisor.compose.questions``); otherwise it is *not applicable*, with the profile facts that decided it.
A finding citing an instrument the corpus holds only in part names what is missing and the official URL.

Risk level (the highest level any rule reaches; every rule that fires is listed as a driver)
-------------------------------------------------------------------------------------------
critical
  * ``cii-operator``: the business is a critical information infrastructure operator.
  * ``export-security-assessment``: obligation xb-security-assessment applies (CAC security
    assessment before data may leave China).
  * ``listing-abroad-review``: obligation csr-listing-abroad applies (cybersecurity review before
    listing in a foreign country).
high
  * ``public-opinion-ai``: a public generative, deep synthesis or algorithmic service with
    public-opinion attributes or social mobilisation capacity (security assessment and filing).
  * ``face-voice-synthesis``: face or voice generation/editing offered as a deep synthesis service
    or to other businesses (separate consent, security assessment).
  * ``sensitive-pi-public``: sensitive personal information processed in a service offered to the
    public.
  * ``minors-ai``: minors use a public generative, deep synthesis or recommendation service.
  * ``export-contract``: obligation xb-standard-contract-or-certification applies.
  * ``important-data``: the business processes important data.
  * ``large-scale-pi``: personal information of 1,000,000 people or more.
  * ``foreign-model-public-genai``: a public generative AI service built on a foreign model API
    (our judgement: GAI Art. 7(1) requires lawful foundation models for training and Art. 20 lets the
    CAC act against non-compliant services from abroad; the upstream model's position must be checked).
medium
  * ``public-ai-service``: any public generative, deep synthesis or algorithmic service.
  * ``personal-information-service``: personal information handled in a service for the public or
    for customers.
  * ``sensitive-pi``: any sensitive personal information.
  * ``pi-export``: personal information leaves China (even under an exemption).
  * ``overseas-handler``: a handler abroad serving people in China (PIPL Art. 3(2)).
  * ``publishes-ai-content``: the business publishes AI-generated content.
low
  none of the above.

The thresholds are our policy, chosen to track the corpus's own lines (1 million people: the
Cybersecurity Review Measures Art. 7 and the Cross-Border Provisions Art. 7); they grade effort and
exposure, they are not legal categories.

Roadmap (months 1-6)
--------------------
For a live service (``launched: true``) every applicable duty with ``due_before`` (launch, processing,
transfer) is *overdue if not done*: it comes first, in month 1, with its ``if_late`` step, after only what
it depends on. Then one step per applicable obligation (and one "confirm" step per obligation to confirm,
month 1 unless it waits for a dependency). A step's earliest month comes from its obligation's ``stage``: prepare 1, assess 2, build 3,
file 4, operate 5, review 6; for a service already launched (``launched: true``) everything is due,
so the stages are compressed to prepare 1, assess 1, build 2, file 2, operate 3, review 4. A step
is then placed at least one month after every applicable obligation it ``depends_on`` (capped at
month 6, where order within the month still follows the dependencies). Steps are ordered by month,
then dependencies first, then stage, then id.
"""

from __future__ import annotations

import datetime as dt
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from advisor.corpus.load import Corpus
from advisor.corpus.schema import label_en as article_label_en
from advisor.corpus.obligations import (
    STAGES,
    UNKNOWN,
    FieldInfo,
    Obligation,
    Rulebook,
    evaluate,
    parse_condition,
    topological,
)
from advisor.compose.markup import md_text
from advisor.compose.questions import question
from advisor.errors import AdvisorError, read_user_file

DISCLAIMER_EN = "Not legal advice. The Chinese text is authoritative; translations are ours and unofficial."
DISCLAIMER_ZH = "本结果不构成法律意见。以中文原文为准，英文译文为本项目的非官方翻译。"


class ProfileError(AdvisorError):
    """The business profile is missing, unreadable, or has unknown / ill-typed / inconsistent fields."""


# --------------------------------------------------------------------------- profile

NonNegInt = Annotated[int, Field(ge=0)]
Sector = Literal[
    "other", "finance", "healthcare", "education", "ecommerce", "media", "marketing", "gaming",
    "government", "telecom", "energy", "transport", "manufacturing", "software", "research",
]
Model = Literal["domestic_filed", "foreign_api", "own_model"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Features(_Strict):
    """What the product does."""

    generative_text: bool = False            # generates text (chat, writing, Q&A)
    generative_image: bool = False
    generative_audio: bool = False           # speech, music, sound
    generative_video: bool = False
    face_or_voice_editing: bool = False      # generates or edits a person's face or voice (face swap, voice clone)
    virtual_scenes: bool = False             # digital humans, immersive realistic scenes
    algorithmic_recommendation: bool = False  # personalised push, ranking, search filtering, scheduling decisions
    work_scheduling: bool = False            # assigns orders or schedules work of workers by algorithm (delivery riders,
                                             # drivers ...): a scheduling-decision algorithm (ARP Arts. 2, 20), so it needs
                                             # algorithmic_recommendation: true
    user_publishing: bool = False            # users publish information or message each other
    publishes_ai_content: bool = False       # the business publishes AI-generated content (own or clients')
    emotional_companion: bool = False        # sustained emotional interaction simulating a person: companionship, emotional
                                             # support, virtual friend or partner (拟人化互动服务; not customer service or Q&A)
    api_access: bool = False                 # offers its models or tools to other businesses (API, SDK)
    third_party_platform: bool = False       # hosts third-party sellers, apps or creators
    app_distribution: bool = False           # distributes other parties' apps (app store)
    sells_to_consumers: bool = False         # sells goods or services to consumers through the service
    targeted_advertising: bool = False       # shows ads or marketing chosen by automated decision


class Processing(_Strict):
    """How personal information (or important data) is handled."""

    shares_with_third_parties: bool = False  # provides it to other independent handlers
    uses_processors: bool = False            # entrusts processing to processors (cloud, outsourcers, model APIs)
    publishes_pi: bool = False               # makes personal information public
    public_space_cameras: bool = False       # image capture / identity recognition in public places
    automated_decisions: bool = False        # decides about individuals by automated analysis (scoring, pricing ...)
    face_recognition: bool = False           # recognises or verifies people by their face (人脸识别技术处理人脸信息)


class CrossBorder(_Strict):
    """Data provided outside mainland China; counts are individuals since 1 January of this year."""

    destinations: list[str] = []             # countries or regions of the recipients; recorded and shown in the report
                                             # header, but no article in the corpus makes whether an obligation applies
                                             # depend on the destination (it is a matter the CAC security assessment and
                                             # certification impact assessment must weigh: Security Assessment Measures
                                             # Art. 8(2), Certification Measures Art. 6(5))
    subjects: NonNegInt = 0                  # individuals whose (non-sensitive) personal information goes abroad
    sensitive_subjects: NonNegInt = 0        # individuals whose sensitive personal information goes abroad
    important_data: bool = False             # important data goes abroad
    exemption: Optional[Literal["contract", "hr_management", "emergency"]] = None  # Cross-Border Provisions Art. 5(1)-(3)


class Profile(_Strict):
    """A description of the business, its AI features and its data."""

    name: str = ""
    description: str = ""
    entity_location: Literal["mainland", "abroad"] = "mainland"
    public_service: Optional[bool] = None    # offers the service to the public in mainland China; null = not stated (a
                                             # customer-facing service any organisation or person can sign up for is then
                                             # "to confirm": GAI Art. 22 counts organisations as users)
    internal_only: bool = False              # used only inside the business (staff, R&D)
    customer_facing: bool = False            # used by the business's own customers
    launched: bool = False                   # the service is already live
    features: Features = Features()
    public_opinion_or_mobilisation: Optional[bool] = None  # 具有舆论属性或者社会动员能力; null = not declared: derived from
                                             # the features (2018 Security Assessment Provisions Art. 2), else "to confirm"
    users: NonNegInt = 0                     # registered users (注册用户); for a service without registration, its users
    monthly_active_users: NonNegInt | None = None  # 月活跃用户; null = not known (NDSR Art. 62(8): the
                                                   # large-platform line is 50 million registered or 10 million
                                                   # monthly active users)
    minors_among_users: bool = False         # users under 18
    elderly_users: bool = False              # older people (老年人) are among the users (ARP Art. 19)
    children_under_14: bool = False          # processes personal information of children under 14
    personal_information: bool = False
    pi_role: Literal["handler", "processor", "both"] = "handler"  # decides purposes and means (个人信息处理者), processes
                                             # only on behalf of other handlers (受托人, PIPL Arts. 21, 59), or both
    pi_subjects: NonNegInt = 0
    sensitive_pi: bool = False
    sensitive_pi_subjects: NonNegInt = 0
    biometric: bool = False
    processing: Processing = Processing()
    cross_border: CrossBorder = CrossBorder()
    cii_operator: bool = False               # notified as a critical information infrastructure operator
    important_data: bool = False             # processes data identified as important data
    sector: Sector = "other"
    platforms: list[str] = []                # third-party platforms it publishes on (WeChat, Weibo, Xiaohongshu, Douyin ...);
                                             # recorded and shown in the report header, but no article in the corpus makes
                                             # an obligation depend on the platform used (the platforms' own rules are not
                                             # in the corpus)
    models: list[Model] = []
    data_storage: Literal["mainland", "abroad", "both"] = "mainland"
    foreign_investment: bool = False         # foreign-invested enterprise
    listing_foreign_country: bool = False    # plans to list in a foreign country (赴国外上市, Cybersecurity Review Measures Art. 7)
    listing_hong_kong: bool = False          # plans to list in Hong Kong (not 国外: Review Measures Art. 2 may apply)
    unknown: list[str] = []                  # profile fields the business has not settled (e.g. inferred from a question):
                                             # rules that depend on them are "to confirm", with the question to ask

    @model_validator(mode="after")
    def _consistent(self) -> "Profile":
        problems = []
        if self.public_service is True and self.internal_only:
            problems.append("public_service and internal_only cannot both be true")
        if self.internal_only and self.customer_facing:
            problems.append("internal_only and customer_facing cannot both be true")
        if not self.personal_information:
            named = [n for n, v in (("pi_subjects", self.pi_subjects), ("sensitive_pi", self.sensitive_pi),
                                    ("sensitive_pi_subjects", self.sensitive_pi_subjects), ("biometric", self.biometric),
                                    ("children_under_14", self.children_under_14),
                                    ("cross_border.subjects", self.cross_border.subjects),
                                    ("cross_border.sensitive_subjects", self.cross_border.sensitive_subjects)) if v]
            if named:
                problems.append(f"{', '.join(named)} need personal_information: true")
        sensitive = self.sensitive_pi or self.biometric or self.children_under_14
        if (self.sensitive_pi_subjects or self.cross_border.sensitive_subjects) and not sensitive:
            problems.append("sensitive_pi_subjects / cross_border.sensitive_subjects need sensitive_pi, biometric or children_under_14")
        if self.sensitive_pi_subjects > self.pi_subjects:
            problems.append("sensitive_pi_subjects cannot exceed pi_subjects")
        if self.processing.face_recognition and not self.biometric:
            problems.append("processing.face_recognition needs biometric: true (facial information is biometric, PIPL Art. 28)")
        if self.children_under_14 and not self.minors_among_users:
            problems.append("children_under_14 needs minors_among_users: true (children are minors)")
        if self.features.work_scheduling and not self.features.algorithmic_recommendation:
            problems.append("features.work_scheduling needs features.algorithmic_recommendation: true (scheduling work by "
                            "algorithm is a scheduling-decision algorithm, 调度决策类, ARP Art. 2 para. 2)")
        bad = [u for u in self.unknown if u not in UNKNOWABLE]
        if bad:
            problems.append(f"unknown: {', '.join(bad)} not profile field(s) (valid: {', '.join(sorted(UNKNOWABLE))})")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _field_info(annotation: Any) -> FieldInfo | None:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _field_info(args[0])
    if annotation is bool:
        return FieldInfo("bool")
    if annotation is int:
        return FieldInfo("int")
    if annotation is str:
        return FieldInfo("str")
    if origin is Literal:
        return FieldInfo("str", tuple(args))
    if origin is list:
        inner = _field_info(args[0])
        return FieldInfo("list", inner.choices if inner else None)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = _field_info(next(a for a in args if a is not type(None)))
        return FieldInfo(inner.kind, inner.choices, nullable=True) if inner else None
    return None


def profile_leaves(model: type[BaseModel] = Profile, prefix: str = "") -> list[tuple[str, FieldInfo, Any]]:
    """(path, kind, pydantic field) for every leaf of `model`, nested models flattened, in model order.

    TypeError for a field type conditions and forms cannot use."""
    leaves: list[tuple[str, FieldInfo, Any]] = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            leaves += profile_leaves(ann, f"{prefix}{name}.")
            continue
        fi = _field_info(ann)
        if fi is None:
            raise TypeError(f"unsupported profile field type for {prefix}{name}: {ann}")
        leaves.append((prefix + name, fi, info))
    return leaves


NOT_CONDITIONS = ("name", "description", "unknown")  # profile fields no condition may test


def _profile_fields() -> dict[str, FieldInfo]:
    found = {path: fi for path, fi, _ in profile_leaves() if path not in NOT_CONDITIONS}
    found.update({
        "features.generative": FieldInfo("bool"),
        "features.deep_synthesis": FieldInfo("bool"),
        "processes_sensitive_pi": FieldInfo("bool"),
        "cross_border.exempt": FieldInfo("bool"),
        "cross_border.pi_exported": FieldInfo("bool"),
        "cross_border.pi_subjects_abroad": FieldInfo("int"),
        "cross_border.sensitive_subjects_abroad": FieldInfo("int"),
    })
    return dict(sorted(found.items()))


PROFILE_FIELDS: dict[str, FieldInfo] = _profile_fields()
DERIVED = frozenset(p for p in PROFILE_FIELDS if p not in {path for path, _, _ in profile_leaves()})
# fields a profile may list as `unknown` (not settled); recorded-only lists are never conditions
UNKNOWABLE = frozenset(p for p in PROFILE_FIELDS if p not in DERIVED and p not in ("platforms", "cross_border.destinations"))


def _or(*values: Any) -> Any:
    """Three-valued or: True if any is True, else UNKNOWN if any is unknown, else False."""
    if any(v is True for v in values):
        return True
    return UNKNOWN if any(v is UNKNOWN for v in values) else False


def _and(*values: Any) -> Any:
    """Three-valued and: False if any is False, else UNKNOWN if any is unknown, else True."""
    if any(v is False for v in values):
        return False
    return UNKNOWN if any(v is UNKNOWN for v in values) else True


def _public(profile: Profile, given: Any) -> Any:
    """Offered to the public in mainland China: as stated; if not stated, a customer-facing service any
    organisation or person may sign up for is not settled (GAI Art. 22 counts organisations as users)."""
    if given is UNKNOWN or isinstance(given, bool):
        return given
    if profile.internal_only:
        return False
    return UNKNOWN if profile.customer_facing else False


def _public_opinion(profile: Profile, facts: Mapping[str, Any]) -> Any:
    """具有舆论属性或者社会动员能力, when the profile does not declare it (2018 Security Assessment
    Provisions Art. 2): (1) forums, blogs, chat rooms, groups, public accounts, short video, live
    streaming, information sharing and the like, or such functions attached: users publishing -> true;
    (2) other services offering a channel for public opinion or able to mobilise the public: a public
    generative, deep synthesis or recommendation service is not settled by its features -> unknown."""
    given = facts["public_opinion_or_mobilisation"]
    if given is UNKNOWN or isinstance(given, bool):
        return given
    if facts["features.user_publishing"] is True:
        return True
    aiish = _or(facts["features.deep_synthesis"], facts["features.algorithmic_recommendation"])
    candidate = _and(_or(facts["public_service"]), aiish)
    return UNKNOWN if candidate is not False else False


def profile_facts(profile: Profile) -> dict[str, Any]:
    """Every condition path -> its value (profile fields and derived facts), UNKNOWN where not settled."""
    facts: dict[str, Any] = {}
    unknown = set(profile.unknown)

    def walk(model: BaseModel, prefix: str) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            path = prefix + name
            if isinstance(value, BaseModel):
                walk(value, f"{path}.")
            elif path not in NOT_CONDITIONS:
                facts[path] = UNKNOWN if path in unknown else (tuple(value) if isinstance(value, list) else value)

    walk(profile, "")
    facts["public_service"] = _public(profile, facts["public_service"])
    gen = _or(*(facts[f"features.generative_{m}"] for m in ("text", "image", "audio", "video")))
    facts["features.generative"] = gen
    facts["features.deep_synthesis"] = _or(gen, facts["features.face_or_voice_editing"], facts["features.virtual_scenes"])
    facts["public_opinion_or_mobilisation"] = _public_opinion(profile, facts)
    facts["processes_sensitive_pi"] = _or(facts["sensitive_pi"], facts["biometric"], facts["children_under_14"])
    exemption = facts["cross_border.exemption"]
    facts["cross_border.exempt"] = UNKNOWN if exemption is UNKNOWN else exemption is not None
    pi, location, storage = facts["personal_information"], facts["entity_location"], facts["data_storage"]
    mainland = UNKNOWN if location is UNKNOWN else location == "mainland"
    stored_abroad = _and(pi, mainland, UNKNOWN if storage is UNKNOWN else storage in ("abroad", "both"))
    all_abroad = _and(pi, mainland, UNKNOWN if storage is UNKNOWN else storage == "abroad")
    subjects, sensitive = facts["cross_border.subjects"], facts["cross_border.sensitive_subjects"]
    counts = [UNKNOWN if v is UNKNOWN else v > 0 for v in (subjects, sensitive)]
    facts["cross_border.pi_exported"] = _and(pi, _or(*counts, stored_abroad))

    def abroad(declared: Any, total: Any) -> Any:
        if declared is UNKNOWN or all_abroad is UNKNOWN or (all_abroad is True and total is UNKNOWN):
            return UNKNOWN
        return max(declared, total if all_abroad is True else 0)

    facts["cross_border.pi_subjects_abroad"] = abroad(subjects, facts["pi_subjects"])
    facts["cross_border.sensitive_subjects_abroad"] = abroad(sensitive, facts["sensitive_pi_subjects"])
    return facts


def _valid_fields(model: type[BaseModel]) -> str:
    return ", ".join(model.model_fields)


def _submodel(loc: list) -> type[BaseModel]:
    model: type[BaseModel] = Profile
    for part in loc:
        info = model.model_fields.get(str(part)) if isinstance(part, str) else None
        ann = info.annotation if info else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            break
    return model


def parse_profile(data: Any, source: str = "profile") -> Profile:
    """Validate a mapping into a Profile; ProfileError (one line) names every bad field."""
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: expected a mapping of profile fields; valid fields: {_valid_fields(Profile)}")
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        parts, listed = [], False
        for err in exc.errors():
            loc = [p for p in err["loc"]]
            path = ".".join(str(p) for p in loc)
            if err["type"] == "extra_forbidden":
                parent = _submodel(loc[:-1])
                where = "" if parent is Profile else f" of {'.'.join(str(p) for p in loc[:-1])}"
                listed = listed or parent is Profile
                parts.append(f"unknown field '{path}' (valid fields{where}: {_valid_fields(parent)})")
            elif not loc:
                parts.append(str(err["msg"]).removeprefix("Value error, "))
            else:
                parts.append(f"field '{path}': {err['msg']} (got {err.get('input')!r})")
        tail = "" if listed else f" | valid fields: {_valid_fields(Profile)}"
        raise ProfileError(f"{source}: " + "; ".join(parts) + tail) from None


def load_profile(path: Path | str) -> Profile:
    """Read a profile from YAML (.yaml/.yml) or JSON (.json)."""
    path = Path(path)
    text = read_user_file(path, "profile", ProfileError)
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{path.name}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ProfileError(f"{path.name}: not valid YAML{f' (line {mark.line + 1})' if mark else ''}: {getattr(exc, 'problem', exc)}") from None
    profile = parse_profile(data, path.name)
    return profile if profile.name else profile.model_copy(update={"name": path.stem})


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Citation:
    instrument: str
    title_zh: str
    title_en: str
    short_en: str
    article: int
    heading_zh: str
    text_zh: str
    text_en: str
    verified: bool
    heading_en: str | None = None  # English heading of an annex part (None for articles)

    @property
    def label_en(self) -> str:
        return f"{self.short_en} {article_label_en(self.article, self.heading_en)}"

    @property
    def label_zh(self) -> str:
        return f"《{self.title_zh}》{self.heading_zh}"

    def to_dict(self) -> dict:
        return {"instrument": self.instrument, "title_zh": self.title_zh, "title_en": self.title_en,
                "article": self.article, "heading_zh": self.heading_zh, "text_zh": self.text_zh,
                "text_en": self.text_en, "verified": self.verified}


@dataclass(frozen=True)
class PenaltyRef:
    instrument: str
    title_zh: str
    short_en: str
    article: int
    heading_zh: str
    text_zh: str

    def to_dict(self) -> dict:
        return {"instrument": self.instrument, "title_zh": self.title_zh, "article": self.article,
                "heading_zh": self.heading_zh, "text_zh": self.text_zh}


@dataclass(frozen=True)
class Finding:
    """One obligation, evaluated for the profile."""

    id: str
    status: str                      # applies | confirm | not_applicable
    title_en: str
    title_zh: str
    binds: tuple[str, ...]
    stage: str
    reasons: tuple[str, ...]
    citations: tuple[Citation, ...]
    penalties: tuple[PenaltyRef, ...]
    depends_on: tuple[str, ...]
    what_to_do: dict
    evidence: tuple[dict, ...]
    timing: Optional[dict]
    confirm: Optional[dict]
    caveat: Optional[dict]
    warnings: tuple[str, ...]
    questions: tuple[dict, ...] = ()  # {field, en, zh}: the unsettled facts the rule waits on
    incomplete: tuple[dict, ...] = ()  # cited instruments whose text the corpus holds only in part
    due_before: Optional[str] = None  # launch | processing | transfer (see corpus/obligations/README.md)
    if_late: Optional[dict] = None    # the immediate step when that event is already past
    overdue: bool = False             # a live service: due before launch/processing/transfer, so due now
    topic: str = "other"              # the answer section (corpus.obligations.TOPICS)
    why: str = ""                     # how the article text justifies the rule (quotes its words)

    def to_dict(self) -> dict:
        if self.status == "not_applicable":
            return {"id": self.id, "title_en": self.title_en, "title_zh": self.title_zh, "reasons": list(self.reasons),
                    "rests_on": [f"{c.instrument} {c.article}" for c in self.citations]}
        return {
            "id": self.id, "status": self.status, "title_en": self.title_en, "title_zh": self.title_zh,
            "binds": list(self.binds), "stage": self.stage, "reasons": list(self.reasons),
            "citations": [c.to_dict() for c in self.citations],
            "penalties": [p.to_dict() for p in self.penalties],
            "depends_on": list(self.depends_on), "what_to_do": self.what_to_do,
            "evidence": list(self.evidence), "timing": self.timing, "confirm": self.confirm,
            "caveat": self.caveat, "warnings": list(self.warnings), "questions": list(self.questions),
            "due_before": self.due_before, "if_late": self.if_late, "overdue": self.overdue,
            "incomplete": list(self.incomplete), "topic": self.topic,
        }


@dataclass(frozen=True)
class ScopeFinding:
    id: str
    title_en: str
    title_zh: str
    applies: Optional[bool]          # None: depends on facts the profile does not settle (to confirm)
    reasons: tuple[str, ...]
    citations: tuple[Citation, ...]
    questions: tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        return {"id": self.id, "title_en": self.title_en, "title_zh": self.title_zh, "applies": self.applies,
                "reasons": list(self.reasons), "citations": [c.to_dict() for c in self.citations],
                "questions": list(self.questions)}


@dataclass(frozen=True)
class RiskDriver:
    level: str
    rule: str
    en: str
    zh: str
    facts: tuple[str, ...]
    confirmed: bool = True           # False: would fire if the unsettled facts turn out so (does not set the level)
    questions: tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        return {"level": self.level, "rule": self.rule, "en": self.en, "zh": self.zh, "facts": list(self.facts),
                "confirmed": self.confirmed, "questions": list(self.questions)}


@dataclass(frozen=True)
class Step:
    month: int
    order: int                       # position in the whole roadmap, 1-based
    obligation: str
    kind: str                        # overdue | confirm | do
    title_en: str
    title_zh: str
    action_en: str
    action_zh: str
    citations_en: tuple[str, ...]
    citations_zh: tuple[str, ...]
    depends_on: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"order": self.order, "obligation": self.obligation, "kind": self.kind,
                "title_en": self.title_en, "title_zh": self.title_zh, "action_en": self.action_en,
                "action_zh": self.action_zh, "citations_en": list(self.citations_en),
                "citations_zh": list(self.citations_zh), "depends_on": list(self.depends_on)}


LEVELS = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Assessment:
    profile: str
    as_of: dt.date
    risk_level: str
    risk_drivers: tuple[RiskDriver, ...]
    scopes: tuple[ScopeFinding, ...]
    applicable: tuple[Finding, ...]
    to_confirm: tuple[Finding, ...]
    not_applicable: tuple[Finding, ...]
    roadmap: tuple[Step, ...]
    warnings: tuple[str, ...]
    platforms: tuple[str, ...] = ()          # recorded, shown in the header; no condition uses them
    destinations: tuple[str, ...] = ()       # cross_border.destinations, likewise
    questions: tuple[dict, ...] = ()         # unsettled facts: {field, en, zh, obligations}

    def ids(self, status: str = "applies") -> list[str]:
        group = {"applies": self.applicable, "confirm": self.to_confirm, "not_applicable": self.not_applicable}[status]
        return [f.id for f in group]

    def months(self) -> list[tuple[int, list[Step]]]:
        return [(m, [s for s in self.roadmap if s.month == m]) for m in range(1, 7)]

    def to_dict(self) -> dict:
        return {
            "profile": self.profile,
            "as_of": self.as_of.isoformat(),
            "recorded": {"platforms": list(self.platforms), "cross_border_destinations": list(self.destinations)},
            "risk": {"level": self.risk_level, "drivers": [d.to_dict() for d in self.risk_drivers]},
            "summary": {"applicable": len(self.applicable), "to_confirm": len(self.to_confirm),
                        "not_applicable": len(self.not_applicable), "roadmap_steps": len(self.roadmap)},
            "scopes": [s.to_dict() for s in self.scopes],
            "obligations": {
                "applicable": [f.to_dict() for f in self.applicable],
                "to_confirm": [f.to_dict() for f in self.to_confirm],
                "not_applicable": [f.to_dict() for f in self.not_applicable],
            },
            "roadmap": [{"month": m, "steps": [s.to_dict() for s in steps]} for m, steps in self.months()],
            "questions": [dict(q, obligations=list(q["obligations"])) for q in self.questions],
            "warnings": list(self.warnings),
            "disclaimer": {"en": DISCLAIMER_EN, "zh": DISCLAIMER_ZH},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, sort_keys=False) + "\n"

    def to_markdown(self, lang: str = "en") -> str:
        if lang not in ("en", "zh"):
            raise AdvisorError(f"lang must be en or zh, not '{lang}'")
        return _markdown(self, lang)


# --------------------------------------------------------------------------- risk rules


@dataclass(frozen=True)
class RiskRule:
    level: str
    id: str
    en: str
    zh: str
    when: Optional[dict] = None
    obligation: Optional[str] = None   # holds when this obligation applies


RISK_RULES: tuple[RiskRule, ...] = (
    RiskRule("critical", "cii-operator",
             "Critical information infrastructure operator: localisation, security review of procurement, annual testing (CSL, CII Regulations).",
             "关键信息基础设施运营者：境内存储、采购安全审查、每年检测评估（网络安全法、关键信息基础设施安全保护条例）。",
             when={"field": "cii_operator", "eq": True}),
    RiskRule("critical", "export-security-assessment",
             "Data may leave China only after a CAC security assessment.",
             "数据出境须先通过国家网信部门组织的安全评估。",
             obligation="xb-security-assessment"),
    RiskRule("critical", "listing-abroad-review",
             "Listing in a foreign country requires a cybersecurity review first.",
             "赴国外上市须先申报网络安全审查。",
             obligation="csr-listing-abroad"),
    RiskRule("high", "public-opinion-ai",
             "Public AI or algorithmic service with public-opinion attributes or social mobilisation capacity: security assessment and algorithm filing.",
             "具有舆论属性或者社会动员能力的公共AI或算法服务：须开展安全评估并履行算法备案。",
             when={"all": [{"field": "public_opinion_or_mobilisation", "eq": True},
                           {"any": [{"scope": "gai-service"}, {"scope": "ds-service"}, {"scope": "arp-service"}]}]}),
    RiskRule("high", "face-voice-synthesis",
             "Face or voice generation or editing: separate consent of the person edited and a security assessment of the tools.",
             "人脸、人声生成或编辑：须提示取得被编辑个人的单独同意，并对工具开展安全评估。",
             when={"all": [{"field": "features.face_or_voice_editing", "eq": True},
                           {"any": [{"scope": "ds-service"}, {"scope": "ds-technical-supporter"}]}]}),
    RiskRule("high", "sensitive-pi-public",
             "Sensitive personal information in a service offered to the public: separate consent, necessity, impact assessment.",
             "面向公众的服务处理敏感个人信息：须单独同意、具备充分必要性并进行影响评估。",
             when={"all": [{"field": "processes_sensitive_pi", "eq": True}, {"field": "public_service", "eq": True}]}),
    RiskRule("high", "minors-ai",
             "Minors use a public generative, deep synthesis or recommendation service.",
             "未成年人使用面向公众的生成式、深度合成或算法推荐服务。",
             when={"all": [{"field": "minors_among_users", "eq": True}, {"field": "public_service", "eq": True},
                           {"any": [{"field": "features.deep_synthesis", "eq": True},
                                    {"field": "features.algorithmic_recommendation", "eq": True}]}]}),
    RiskRule("high", "export-contract",
             "Personal information leaves China under a standard contract or certification, to be in place before transfer.",
             "个人信息出境须在出境前订立标准合同或者通过认证。",
             obligation="xb-standard-contract-or-certification"),
    RiskRule("high", "important-data",
             "Important data: officer, management body, annual risk assessment reported to the authorities.",
             "重要数据：须明确负责人和管理机构，每年度开展风险评估并报送。",
             when={"field": "important_data", "eq": True}),
    RiskRule("high", "large-scale-pi",
             "Personal information of 1,000,000 people or more.",
             "处理100万人以上个人信息。",
             when={"field": "pi_subjects", "gte": 1000000}),
    RiskRule("high", "foreign-model-public-genai",
             "Public generative AI service built on a foreign model API: check whether the upstream model may lawfully serve the public in China (GAI Arts. 7, 20).",
             "面向公众的生成式人工智能服务使用境外模型接口：须核实上游模型能否合法向境内公众提供服务（生成式人工智能办法第七条、第二十条）。",
             when={"all": [{"scope": "gai-service"}, {"field": "models", "contains": "foreign_api"}]}),
    RiskRule("medium", "public-ai-service",
             "Public generative, deep synthesis or algorithmic service: labelling, content security, complaints, transparency.",
             "面向公众的生成式、深度合成或算法推荐服务：标识、内容安全、投诉举报、透明度义务。",
             when={"any": [{"scope": "gai-service"}, {"scope": "ds-service"}, {"scope": "arp-service"}]}),
    RiskRule("medium", "personal-information-service",
             "Personal information handled in a service for the public or for customers.",
             "面向公众或客户的服务处理个人信息。",
             when={"all": [{"scope": "pipl-handler"},
                           {"any": [{"field": "public_service", "eq": True}, {"field": "customer_facing", "eq": True}]}]}),
    RiskRule("medium", "sensitive-pi",
             "Sensitive personal information is processed.",
             "处理敏感个人信息。",
             when={"field": "processes_sensitive_pi", "eq": True}),
    RiskRule("medium", "pi-export",
             "Personal information leaves mainland China.",
             "个人信息向境外提供。",
             when={"field": "cross_border.pi_exported", "eq": True}),
    RiskRule("medium", "overseas-handler",
             "Handler outside China serving people in China (PIPL Art. 3(2)).",
             "境外处理者向境内自然人提供产品或者服务（个人信息保护法第三条第二款）。",
             when={"all": [{"field": "personal_information", "eq": True}, {"field": "entity_location", "eq": "abroad"},
                           {"field": "public_service", "eq": True}]}),
    RiskRule("medium", "publishes-ai-content",
             "The business publishes AI-generated content: labels must stay, no false news.",
             "发布AI生成内容：不得去除标识，不得制作发布虚假新闻信息。",
             when={"field": "features.publishes_ai_content", "eq": True}),
)

STAGE_MONTH = {"prepare": 1, "assess": 2, "build": 3, "file": 4, "operate": 5, "review": 6}
LAUNCHED_STAGE_MONTH = {"prepare": 1, "assess": 1, "build": 2, "file": 2, "operate": 3, "review": 4}


def _parsed_risk_rules() -> list[tuple[RiskRule, Any]]:
    problems: list[str] = []
    parsed = [(rule, parse_condition(rule.when, PROFILE_FIELDS, problems, f"risk rule {rule.id}") if rule.when else None)
              for rule in RISK_RULES]
    if problems:  # a programming error: the rules above are fixed
        raise AdvisorError("; ".join(problems))
    return parsed


_RISK_CONDITIONS = _parsed_risk_rules()


# --------------------------------------------------------------------------- engine


def _citation(corpus: Corpus, instrument: str, article: int) -> Citation:
    inst = corpus.instruments[instrument]
    art = inst.article(article)
    assert art is not None
    return Citation(instrument, inst.title_zh, inst.title_en, inst.short_en, article, art.heading_zh, art.zh, art.en,
                    verified=article not in inst.verification.unverified_articles, heading_en=art.heading_en)


def _in_force(corpus: Corpus, instrument: str, as_of: dt.date) -> bool:
    inst = corpus.instruments.get(instrument)
    return inst is not None and corpus.applies(inst, as_of)


def _citations(corpus: Corpus, refs, as_of: dt.date) -> tuple[Citation, ...]:
    seen, out = set(), []
    for ref in refs:
        key = (ref.instrument, ref.article)
        if key in seen or not _in_force(corpus, ref.instrument, as_of):
            continue
        seen.add(key)
        out.append(_citation(corpus, ref.instrument, ref.article))
    return tuple(out)


def _incomplete(corpus: Corpus, instruments: list[str]) -> tuple[dict, ...]:
    """The cited instruments whose text the corpus holds only in part: what is missing and where to read it."""
    out = []
    for iid in dict.fromkeys(instruments):
        inst = corpus.instruments[iid]
        missing = inst.missing_summary()
        if missing:
            out.append({"instrument": iid, "title_zh": inst.title_zh, "title_en": inst.title_en, "missing": missing,
                        "source_url": inst.source_url})
    return tuple(out)


# the profile fields a derived fact is computed from, so that a question asks about what the user can answer
_DERIVED_FROM = {
    "features.generative": ("features.generative_text", "features.generative_image", "features.generative_audio",
                            "features.generative_video"),
    "features.deep_synthesis": ("features.generative_text", "features.generative_image", "features.generative_audio",
                                "features.generative_video", "features.face_or_voice_editing", "features.virtual_scenes"),
    "processes_sensitive_pi": ("sensitive_pi", "biometric", "children_under_14"),
    "cross_border.exempt": ("cross_border.exemption",),
    "cross_border.pi_exported": ("personal_information", "entity_location", "data_storage", "cross_border.subjects",
                                 "cross_border.sensitive_subjects"),
    "cross_border.pi_subjects_abroad": ("cross_border.subjects", "personal_information", "entity_location", "data_storage",
                                        "pi_subjects"),
    "cross_border.sensitive_subjects_abroad": ("cross_border.sensitive_subjects", "personal_information", "entity_location",
                                               "data_storage", "sensitive_pi_subjects"),
}


def _questions(unknown: tuple[str, ...], facts: Mapping[str, Any]) -> tuple[dict, ...]:
    """The questions for the unsettled facts a condition waits on: a derived fact is asked as the profile
    fields it comes from that are themselves unsettled."""
    fields: dict[str, None] = {}
    for path in unknown:
        for base in _DERIVED_FROM.get(path, (path,)):
            if facts.get(base) is UNKNOWN:
                fields.setdefault(base, None)
    return tuple(question(path) for path in fields)


def _evaluate_obligation(ob: Obligation, facts, scopes, cache, corpus: Corpus, as_of: dt.date, launched: Any) -> Finding:
    spec = ob.spec
    citations = _citations(corpus, spec.rests_on, as_of)
    outcome = evaluate(ob.condition, facts, scopes, cache)
    questions: tuple[dict, ...] = ()
    if not citations:
        status, reasons = "not_applicable", (f"no instrument it rests on is in force on {as_of.isoformat()}",)
        citations = tuple(_citation(corpus, r.instrument, r.article) for r in spec.rests_on)
    elif outcome.holds is None:  # depends on facts the profile does not settle: never silently dropped
        status, reasons, questions = "confirm", outcome.facts, _questions(outcome.unknown, facts)
    elif outcome.holds:
        status, reasons = ("confirm" if spec.confirm else "applies"), outcome.facts
    else:
        status, reasons = "not_applicable", outcome.facts
    penalties = tuple(
        PenaltyRef(c.instrument, c.title_zh, c.short_en, c.article, c.heading_zh, c.text_zh)
        for c in _citations(corpus, spec.penalty, as_of)
    )
    warnings = tuple(f"{c.label_en} ({c.label_zh}) is marked unverified in the corpus: check it against the official text"
                     for c in citations if not c.verified)
    incomplete = _incomplete(corpus, [c.instrument for c in citations] + [p.instrument for p in penalties])
    warnings += tuple(f"《{i['title_zh']}》 ({i['title_en']}): {i['missing']}; read the official text: {i['source_url'] or 'not known'}"
                      for i in incomplete)
    overdue = status != "not_applicable" and spec.due_before is not None and launched is True
    return Finding(
        id=ob.id, status=status, title_en=spec.title_en, title_zh=spec.title_zh, binds=tuple(spec.binds),
        stage=spec.stage, reasons=tuple(reasons), citations=citations, penalties=penalties,
        depends_on=tuple(spec.depends_on), what_to_do=spec.what_to_do.model_dump(),
        evidence=tuple(e.model_dump() for e in spec.evidence),
        timing=spec.timing.model_dump() if spec.timing else None,
        confirm=spec.confirm.model_dump() if spec.confirm else None,
        caveat=spec.caveat.model_dump() if spec.caveat else None,
        warnings=warnings, questions=questions, incomplete=incomplete, due_before=spec.due_before,
        if_late=spec.if_late.model_dump() if spec.if_late else None, overdue=overdue, topic=spec.topic, why=spec.why,
    )


def _risk(facts, scopes, cache, statuses: Mapping[str, str]) -> tuple[str, tuple[RiskDriver, ...]]:
    """The level set by the rules that fire; rules that would fire if unsettled facts turn out so are listed
    as unconfirmed drivers (they do not set the level)."""
    drivers = []
    for rule, cond in _RISK_CONDITIONS:
        reasons: tuple[str, ...] = ()
        holds: Optional[bool] = True
        unknown: tuple[str, ...] = ()
        if cond is not None:
            outcome = evaluate(cond, facts, scopes, cache)
            if outcome.holds is False:
                continue
            holds, unknown = outcome.holds, outcome.unknown
            reasons += outcome.facts
        if rule.obligation is not None:
            status = statuses.get(rule.obligation)
            if status == "not_applicable" or status is None:
                continue
            if status == "confirm":
                holds = None
            reasons += (f"obligation {rule.obligation} {'applies' if status == 'applies' else 'is to confirm'}",)
        drivers.append(RiskDriver(rule.level, rule.id, rule.en, rule.zh, reasons, confirmed=holds is True,
                                  questions=_questions(unknown, facts)))
    drivers.sort(key=lambda d: (not d.confirmed, -LEVELS.index(d.level)))  # stable: rule order within a level
    confirmed = [d for d in drivers if d.confirmed]
    level = confirmed[0].level if confirmed else "low"
    return level, tuple(drivers)


def _confirm_text(f: Finding, lang: str) -> str:
    parts = [q[lang] for q in f.questions]
    if f.confirm:
        parts.append(f.confirm[lang])
    return " ".join(parts)


def _roadmap(profile: Profile, findings: list[Finding]) -> tuple[Step, ...]:
    """Overdue steps first (a live service past the event a duty must precede), then the confirm steps, then the
    rest by stage month and dependencies (see the module docstring)."""
    planned = [f for f in findings if f.status in ("applies", "confirm")]
    by_id = {f.id: f for f in planned}
    table = LAUNCHED_STAGE_MONTH if profile.launched is True else STAGE_MONTH

    def base(f: Finding) -> int:
        return 1 if f.status == "confirm" or f.overdue else table[f.stage]

    deps = {f.id: [d for d in f.depends_on if d in by_id] for f in planned}
    urgent: set[str] = set()  # overdue steps and what they need first: all in month 1, ahead of the rest

    def pull(oid: str) -> None:
        if oid not in urgent:
            urgent.add(oid)
            for d in deps[oid]:
                pull(d)

    for f in planned:
        if f.overdue:
            pull(f.id)
    initial = sorted(by_id, key=lambda i: (i not in urgent, base(by_id[i]), STAGES.index(by_id[i].stage), i))
    order = topological(initial, deps)
    month: dict[str, int] = {}
    for oid in order:
        f = by_id[oid]
        after = [] if oid in urgent else [month[d] + 1 for d in deps[oid] if d in month]
        month[oid] = 1 if oid in urgent else min(6, max([base(f)] + after))
    position = {oid: n for n, oid in enumerate(order)}
    rank = {oid: (0 if oid in urgent else 1) for oid in order}
    steps = []
    for n, oid in enumerate(sorted(order, key=lambda i: (month[i], rank[i], position[i])), start=1):
        f = by_id[oid]
        if f.overdue:
            assert f.if_late is not None
            kind = "overdue"
            title_en, title_zh = f"Overdue if not done: {f.title_en}", f"如未完成即已逾期：{f.title_zh}"
            action_en, action_zh = f"Now: {f.if_late['en']} Then: {f.what_to_do['en']}", f"立即：{f.if_late['zh']}随后：{f.what_to_do['zh']}"
            if f.status == "confirm":
                action_en = f"{_confirm_text(f, 'en')} If so: {action_en}"
                action_zh = f"{_confirm_text(f, 'zh')}如是：{action_zh}"
        elif f.status == "confirm":
            kind = "confirm"
            title_en, title_zh = f"Confirm: {f.title_en}", f"确认：{f.title_zh}"
            action_en = f"{_confirm_text(f, 'en')} If so: {f.what_to_do['en']}"
            action_zh = f"{_confirm_text(f, 'zh')}如是：{f.what_to_do['zh']}"
        else:
            kind = "do"
            title_en, title_zh = f.title_en, f.title_zh
            action_en, action_zh = f.what_to_do["en"], f.what_to_do["zh"]
        steps.append(Step(month[oid], n, oid, kind, title_en, title_zh,
                          action_en, action_zh, tuple(c.label_en for c in f.citations),
                          tuple(c.label_zh for c in f.citations), tuple(deps[oid])))
    return tuple(steps)


def _profile_warnings(profile: Profile, facts: Mapping[str, Any], scopes_applying: set[str]) -> list[str]:
    notes = []
    aiish = _or(facts["features.deep_synthesis"], facts["features.algorithmic_recommendation"], facts["features.user_publishing"])
    declared = profile.public_opinion_or_mobilisation
    if declared is False and facts["public_service"] is True and aiish is True:
        notes.append("public_opinion_or_mobilisation is declared false: a service that opens forums, comments, chat groups, "
                     "public accounts, short video, live streaming or information sharing, or another channel for public "
                     "opinion, has these attributes (2018 Security Assessment Provisions Art. 2); security assessment and "
                     "algorithm filing (GAI Art. 17, ARP Arts. 24, 27, Deep Synthesis Arts. 19-20) depend on it: confirm")
    if declared is None and "public_opinion_or_mobilisation" not in profile.unknown and facts["public_opinion_or_mobilisation"] is True:
        notes.append("public_opinion_or_mobilisation was not declared and is taken as true: users publish information on the "
                     "service (forums, comments, groups, short video, live streaming, information sharing: 2018 Security "
                     "Assessment Provisions Art. 2(1))")
    if "arp-service" in scopes_applying and not profile.elderly_users:
        notes.append("elderly_users is false: ARP Art. 19 binds algorithmic recommendation providers 向老年人提供服务的 "
                     "(age-friendly services, monitoring of telecom and online fraud information); a service open to the "
                     "public usually has older users: confirm")
    if (profile.monthly_active_users is None and profile.public_service is True and profile.users >= 1_000_000
            and "ndsr-large-platform-line" not in scopes_applying):
        notes.append(f"monthly_active_users is not given: the Network Data Regulations' large-platform line (Art. 62(8)) is "
                     f"50 million registered or 10 million monthly active users; with {profile.users} registered users the "
                     "monthly line was taken as not reached. Give the number if people use the service without registering")
    if profile.sector in ("finance", "healthcare") and profile.personal_information and facts["processes_sensitive_pi"] is False:
        notes.append(f"sector is {profile.sector} but no sensitive personal information is declared: PIPL Art. 28 lists "
                     "医疗健康 (medical and health) and 金融账户 (financial account) information as sensitive; confirm")
    if profile.entity_location == "abroad" and profile.personal_information and profile.public_service is True:
        notes.append("a handler abroad collecting directly from people in China is governed by PIPL Art. 3(2); the Cross-Border "
                     "Provisions' mechanisms apply to data provided from China to abroad, so declare cross_border counts only "
                     "for data that a mainland party provides abroad")
    if (profile.personal_information and profile.entity_location == "mainland" and profile.data_storage == "both"
            and not (profile.cross_border.subjects or profile.cross_border.sensitive_subjects)):
        notes.append("data_storage is 'both' but cross_border.subjects is 0: personal information stored abroad is provided "
                     "abroad; give the number of individuals concerned so the thresholds can be checked")
    if profile.platforms and profile.features.publishes_ai_content:
        notes.append(f"publishes AI-generated content on {', '.join(profile.platforms)}: keep the generating service's labels "
                     "(Deep Synthesis Art. 18); recommendation platforms must themselves label unlabelled synthetic information "
                     "before passing it on (ARP Art. 9 para. 1). The platforms' own rules are not in the corpus")
    if profile.internal_only and facts["features.generative"] is True:
        notes.append("internal_only: the Generative AI Measures do not apply to R&D or use not offered to the public "
                     "(GAI Art. 2 para. 3); they will as soon as the service is opened to the public in China")
    return notes


def assess(profile: Profile, corpus: Corpus, obligations: Rulebook, as_of: Optional[dt.date] = None) -> Assessment:
    """Evaluate every scope and obligation for `profile` on `as_of` (default today)."""
    as_of = as_of or dt.date.today()
    facts = profile_facts(profile)
    scopes = obligations.scope_conditions
    cache: dict = {}
    scope_findings = []
    for sid, scope in obligations.scopes.items():
        outcome = evaluate(scope.condition, facts, scopes, cache)
        scope_findings.append(ScopeFinding(sid, scope.spec.title_en, scope.spec.title_zh, outcome.holds, outcome.facts,
                                           _citations(corpus, scope.spec.rests_on, as_of), _questions(outcome.unknown, facts)))
    findings = [_evaluate_obligation(ob, facts, scopes, cache, corpus, as_of, facts["launched"])
                for ob in obligations.obligations.values()]
    statuses = {f.id: f.status for f in findings}
    level, drivers = _risk(facts, scopes, cache, statuses)
    warnings = _profile_warnings(profile, facts, {s.id for s in scope_findings if s.applies})
    warnings += sorted({w for f in findings if f.status != "not_applicable" for w in f.warnings})
    return Assessment(
        profile=profile.name or "profile", as_of=as_of, risk_level=level, risk_drivers=drivers,
        scopes=tuple(scope_findings),
        applicable=tuple(f for f in findings if f.status == "applies"),
        to_confirm=tuple(f for f in findings if f.status == "confirm"),
        not_applicable=tuple(f for f in findings if f.status == "not_applicable"),
        roadmap=_roadmap(profile, findings),
        warnings=tuple(warnings),
        platforms=tuple(profile.platforms),
        destinations=tuple(profile.cross_border.destinations),
        questions=_open_questions(findings),
    )


def _open_questions(findings: list[Finding]) -> tuple[dict, ...]:
    """Each unsettled fact once, with the obligations waiting on it (in rulebook order)."""
    found: dict[str, dict] = {}
    for f in findings:
        for q in f.questions:
            found.setdefault(q["field"], {**q, "obligations": []})["obligations"].append(f.id)
    return tuple(found.values())


def load_rules(settings=None) -> tuple[Corpus, Rulebook]:
    """The corpus and the obligations rulebook from settings.corpus_dir (validated)."""
    from advisor.corpus import load_corpus
    from advisor.corpus.obligations import load_obligations
    from advisor.settings import load_settings

    settings = settings or load_settings()
    corpus = load_corpus(settings.corpus_dir)
    return corpus, load_obligations(Path(settings.corpus_dir) / "obligations", corpus, PROFILE_FIELDS)


ProfileInput = typing.Union[Profile, Mapping[str, Any], Path, str]


def as_profile(profile: ProfileInput) -> Profile:
    """A Profile from a Profile, a mapping, or a YAML/JSON file path (ProfileError if invalid)."""
    if isinstance(profile, Profile):
        return profile
    if isinstance(profile, (str, Path)):
        return load_profile(profile)
    if isinstance(profile, Mapping):
        return parse_profile(dict(profile))
    raise ProfileError(f"a profile must be a mapping of profile fields or a file path, not {type(profile).__name__}")


def assess_profile(profile: ProfileInput, settings=None, as_of: Optional[dt.date] = None) -> Assessment:
    """Convenience for the CLI: a Profile, a mapping, or a YAML/JSON file path."""
    corpus, book = load_rules(settings)
    return assess(as_profile(profile), corpus, book, as_of)


# --------------------------------------------------------------------------- markdown


_LABELS = {
    "en": {
        "title": "Compliance assessment", "as_of": "As of", "risk": "Risk level", "drivers": "Risk drivers",
        "scope": "Which rules apply", "applies": "applies", "not_applies": "does not apply",
        "applicable": "Obligations that apply", "confirm": "To confirm", "not_applicable": "Considered, not applicable",
        "roadmap": "Six-month roadmap", "month": "Month", "warnings": "Warnings", "binds": "Binds", "stage": "Stage",
        "why": "Triggered by", "todo": "What to do", "evidence": "Evidence to keep", "timing": "Timing",
        "penalty": "Penalty", "caveat": "Caveat", "question": "Question", "sources": "Articles",
        "none": "none", "no_penalty": "no penalty article in the corpus", "unverified": "unverified",
        "depends": "after", "nothing": "(nothing scheduled)", "translation": "Our translation (unofficial)",
        "disclaimer": DISCLAIMER_EN,
        "platforms": "Publishes on", "destinations": "Cross-border destinations",
        "recorded": "recorded only: no article in the corpus makes an obligation depend on them",
        "questions": "Questions to settle", "decides": "decides", "scope_confirm": "to confirm",
        "if_so": "if the open questions are answered so", "overdue": "Overdue if not done - now",
        "incomplete": "Text not complete in the corpus", "official": "official text",
    },
    "zh": {
        "title": "合规评估", "as_of": "评估日期", "risk": "风险等级", "drivers": "风险因素",
        "scope": "适用范围", "applies": "适用", "not_applies": "不适用",
        "applicable": "适用的义务", "confirm": "待确认", "not_applicable": "已考虑但不适用",
        "roadmap": "六个月路线图", "month": "第{n}个月", "warnings": "提示", "binds": "义务主体", "stage": "阶段",
        "why": "触发事实", "todo": "应当采取的措施", "evidence": "应留存的记录", "timing": "时限",
        "penalty": "罚则", "caveat": "注意", "question": "待确认事项", "sources": "依据条文",
        "none": "无", "no_penalty": "语料库中无对应罚则条文", "unverified": "未核验",
        "depends": "前置", "nothing": "（无安排）", "translation": "",
        "disclaimer": DISCLAIMER_ZH,
        "platforms": "发布平台", "destinations": "数据出境目的地",
        "recorded": "仅作记录：语料库中没有条文使义务的适用取决于此",
        "questions": "待确认的事实", "decides": "影响", "scope_confirm": "待确认",
        "if_so": "取决于待确认事项", "overdue": "如未完成即已逾期，立即",
        "incomplete": "语料库未收录完整文本", "official": "官方原文",
    },
}
LEVEL_ZH = {"low": "低", "medium": "中", "high": "高", "critical": "严重"}


def _reason(text: str, zh: bool) -> str:
    """Reasons are profile facts (code, language-neutral); only the engine's own phrases are translated."""
    if not zh:
        return text
    for en, cn in ((" does not apply", "：不适用"), (" applies", "：适用")):
        if text.startswith(("scope ", "obligation ")) and text.endswith(en):
            head = text[: -len(en)].replace("scope ", "范围 ", 1).replace("obligation ", "义务 ", 1)
            return head + cn
    if text.startswith("no instrument it rests on is in force on "):
        return f"所依据的文件在{text.rsplit(' ', 1)[1]}均未生效"
    return text


def _reasons(reasons, zh: bool) -> str:
    return "; ".join(_reason(r, zh) for r in reasons)


def _quote(text: str) -> list[str]:
    return [f"> {line}" if line else ">" for line in text.splitlines()]


def _markdown(a: Assessment, lang: str) -> str:
    L = _LABELS[lang]
    zh = lang == "zh"
    level = f"{LEVEL_ZH[a.risk_level]}（{a.risk_level}）" if zh else a.risk_level.upper()
    name = md_text(a.profile)  # user-supplied text is shown as typed, never as markup
    out = [f"# {L['title']}: {name}" if not zh else f"# {L['title']}：{name}", "",
           f"{L['as_of']}: {a.as_of.isoformat()} · {L['risk']}: **{level}**", ""]
    recorded = [f"{L[key]}: {'、'.join(map(md_text, values)) if zh else ', '.join(map(md_text, values))}"
                for key, values in (("platforms", a.platforms), ("destinations", a.destinations)) if values]
    if recorded:
        out += [" · ".join(recorded) + (f"（{L['recorded']}）" if zh else f" ({L['recorded']})"), ""]
    out += [f"_{L['disclaimer']}_", ""]
    out += [f"## {L['drivers']}", ""]
    if not a.risk_drivers:
        out.append(f"- {L['none']}")
    for d in a.risk_drivers:
        lvl = LEVEL_ZH[d.level] if zh else d.level
        open_ = "" if d.confirmed else f" _({L['if_so']})_"
        out.append(f"- **{lvl}** ({d.rule}){open_}: {d.zh if zh else d.en} [{_reasons(d.facts, zh)}]")
    if a.questions:
        out += ["", f"## {L['questions']}", ""]
        for q in a.questions:
            out.append(f"- {q[lang]} ({L['decides']}: {', '.join(f'`{o}`' for o in q['obligations'])})")
    out += ["", f"## {L['scope']}", ""]
    for s in a.scopes:
        mark, state = {True: ("✓", L["applies"]), False: ("✗", L["not_applies"]), None: ("?", L["scope_confirm"])}[s.applies]
        title = s.title_zh if zh else s.title_en
        cites = "; ".join(c.label_zh if zh else c.label_en for c in s.citations)
        out.append(f"- {mark} {title} (`{s.id}`: {state}; {cites}): {_reasons(s.reasons, zh)}")
    for key, group in (("applicable", a.applicable), ("confirm", a.to_confirm)):
        out += ["", f"## {L[key]} ({len(group)})", ""]
        for f in group:
            out += _finding_md(f, L, zh)
    out += ["", f"## {L['not_applicable']} ({len(a.not_applicable)})", ""]
    for f in a.not_applicable:
        out.append(f"- `{f.id}` {f.title_zh if zh else f.title_en}: {_reasons(f.reasons, zh)}")
    out += ["", f"## {L['roadmap']}", ""]
    for m, steps in a.months():
        heading = L["month"].format(n=m) if zh else f"{L['month']} {m}"
        out += [f"### {heading}", ""]
        if not steps:
            out.append(L["nothing"])
        for s in steps:
            cites = "; ".join(s.citations_zh if zh else s.citations_en)
            after = f" ({L['depends']}: {', '.join(s.depends_on)})" if s.depends_on else ""
            out.append(f"{s.order}. **{s.title_zh if zh else s.title_en}** [`{s.obligation}`]{after}: "
                       f"{s.action_zh if zh else s.action_en} ({cites})")
        out.append("")
    out += [f"## {L['warnings']}", ""]
    out += [f"- {md_text(w)}" for w in a.warnings] or [f"- {L['none']}"]  # warnings quote profile fields
    return "\n".join(out).rstrip() + "\n"


def _finding_md(f: Finding, L: dict, zh: bool) -> list[str]:
    lang = "zh" if zh else "en"
    out = [f"### {f.title_zh if zh else f.title_en} (`{f.id}`)", "",
           f"- {L['binds']}: {', '.join(f.binds)} · {L['stage']}: {f.stage}",
           f"- {L['why']}: {_reasons(f.reasons, zh)}"]
    for q in f.questions:
        out.append(f"- {L['question']}: {q[lang]}")
    if f.confirm:
        out.append(f"- {L['question']}: {f.confirm[lang]}")
    if f.overdue and f.if_late:
        out.append(f"- **{L['overdue']}**: {f.if_late[lang]}")
    out.append(f"- {L['todo']}: {f.what_to_do[lang]}")
    out.append(f"- {L['evidence']}: " + "; ".join(e[lang] for e in f.evidence))
    if f.timing:
        out.append(f"- {L['timing']}: {f.timing[lang]}")
    pen = "; ".join(f"《{p.title_zh}》{p.heading_zh}" if zh else f"{p.short_en} Art. {p.article}" for p in f.penalties)
    out.append(f"- {L['penalty']}: {pen or L['no_penalty']}")
    if f.caveat:
        out.append(f"- {L['caveat']}: {f.caveat[lang]}")
    for i in f.incomplete:
        out.append(f"- {L['incomplete']}: 《{i['title_zh']}》{'' if zh else ' (' + i['title_en'] + ')'}: {i['missing']}"
                   + (f" · {L['official']}: {i['source_url']}" if i["source_url"] else ""))
    out += ["", f"{L['sources']}:", ""]
    for c in f.citations:
        flag = f" ({L['unverified']})" if not c.verified else ""
        out += [f"**{c.label_zh}**{flag}" + ("" if zh else f" ({c.label_en})"), ""]
        out += _quote(c.text_zh)
        if not zh:
            out += ["", f"_{L['translation']}:_", ""] + _quote(c.text_en)
        out.append("")
    return out
