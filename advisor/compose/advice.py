"""Advice from the applicability engine for the guide's questions: requirements, architecture review and
applicability questions, with the assumptions read from the user's text and the questions it leaves open.

The engine (``advisor.compose.assess``) decides what applies; this module lays it out the way the
compliance guide asks, each item with the articles it rests on and the words that state the duty. A
configured model may reword the items under the checks of ``advisor.compose.backbone`` and can never add
or remove one.
"""

from __future__ import annotations

import re

from advisor.compose.assess import Assessment, Finding
from advisor.compose.backbone import Item, Layout, Section, finding_quotes
from advisor.compose.infer import Inference
from advisor.corpus.obligations import TOPICS

TOPIC_TITLES = {
    "disclosure_labelling": ("Disclosure and labelling", "披露与标识"),
    "filing_assessment": ("Filing, approval and security assessment", "备案、审批与安全评估"),
    "localisation_cross_border": ("Data localisation and cross-border transfer", "数据本地化与出境"),
    "personal_information": ("Personal information", "个人信息保护"),
    "content_safety": ("Content safety and operations", "内容安全与运营"),
    "security_incidents": ("Network and data security, incidents", "网络与数据安全、事件报告"),
    "minors": ("Minors", "未成年人保护"),
    "platform": ("Platform duties", "平台义务"),
    "corporate": ("Corporate (investment, listing)", "公司层面（投资、上市）"),
}

# words in a question that name the topics it asks about
TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "disclosure_labelling": ("label", "watermark", "disclos", "tell users", "notice", "mark ", "标识", "水印", "标注",
                             "披露", "告知", "提示", "声明"),
    "filing_assessment": ("filing", "file ", "register", "registration", "approval", "licen", "security assessment",
                          "self-assessment", "备案", "审批", "许可", "安全评估", "登记", "审查"),
    "localisation_cross_border": ("cross-border", "cross border", "overseas", "abroad", "outside china", "localis",
                                  "localiz", "transfer", "server", "出境", "境外", "本地化", "跨境", "存储", "服务器"),
    "personal_information": ("personal information", "personal data", "privacy", "consent", "user data", "个人信息",
                             "隐私", "同意", "用户数据"),
    "content_safety": ("content", "moderat", "illegal", "complaint", "内容", "审核", "违法", "投诉"),
    "security_incidents": ("incident", "breach", "leak", "hack", "attack", "report within", "事件", "泄露", "攻击",
                           "报告", "等级保护"),
    "minors": ("minor", "child", "teen", "student", "未成年", "儿童", "青少年", "学生"),
    "platform": ("platform", "app store", "平台", "应用商店"),
    "corporate": ("foreign invest", "listing", "ipo", "外资", "上市"),
}
_APPLICABILITY = re.compile(
    r"(?i)\b(do|does|must|should|shall|will)\s+(we|i|our|my|the|it|they|this)\b|\bneed(s|ed)? to\b|\brequired?\b|"
    r"\bhave to\b|\bobligat|\bapply to (us|our|me|my)\b|\bwhat (rules|requirements|obligations)\b|\bcomply\b|"
    r"需要|要不要|是否需要|必须|是否要|应当.*吗|(?<!不)适用(?!范围)|要求|合规|义务|得.*吗|该不该|怎么办")

_T = {
    "en": {
        "req_head": "Compliance requirements for {what}, under the rules in force on {day} (applicability engine: {applies} "
                    "obligations apply, {confirm} to confirm). Each item cites the article that states the duty.",
        "arch_head": "Architecture review of {what}, under the rules in force on {day}: the problems the rules find in the "
                     "described data flows, the compliant alternatives they allow, then what applies.",
        "app_head": "What the rules in force on {day} require for {what}, on {topics} ({applies} apply, {confirm} to confirm).",
        "assumptions": "What we took from your description (correct anything wrong: the answer changes with it)",
        "questions": "Questions to settle (the obligations they decide are listed as to confirm)",
        "decides": "decides", "applies": "applies", "confirm": "to confirm", "overdue": "overdue if not done",
        "timing": "Timing", "if": "To confirm", "nothing": "Nothing in this group applies on these facts.",
        "problems": "Problems in the data flows", "alternatives": "Compliant alternatives the rules allow",
        "no_problems": "No problem found in the described data flows.",
        "absent": "Anything your description does not mention is taken as absent (for example no minors, not a "
                  "critical information infrastructure operator); say so if it applies.",
        "foot": "Full checklist with evidence to keep and penalty articles: `advisor assess` with a profile, or the chat's "
                "Assess tab.",
        "all_topics": "every topic",
    },
    "zh": {
        "req_head": "{what}的合规要求（依据{day}有效的规定；适用性引擎：适用{applies}项，待确认{confirm}项）。每项均引用规定该义务的条文。",
        "arch_head": "{what}的架构合规审查（依据{day}有效的规定）：先列出数据流中存在的问题和规定允许的合规方案，再列出适用的义务。",
        "app_head": "依据{day}有效的规定，{what}在{topics}方面的要求（适用{applies}项，待确认{confirm}项）。",
        "assumptions": "我们从描述中读取的事实（如有不符请更正，结论会随之变化）",
        "questions": "需先确认的事实（取决于它们的义务列为待确认）",
        "decides": "影响", "applies": "适用", "confirm": "待确认", "overdue": "如未完成即已逾期",
        "timing": "时限", "if": "待确认", "nothing": "根据上述事实，本组没有适用的义务。",
        "problems": "数据流中的问题", "alternatives": "规定允许的合规方案",
        "no_problems": "所描述的数据流中未发现问题。",
        "absent": "描述中未提及的事项视为不存在（例如没有未成年人用户、不是关键信息基础设施运营者）；如有，请说明。",
        "foot": "包含应留存记录和罚则条文的完整清单：使用画像运行 `advisor assess`，或在聊天应用的“合规评估”页填写。",
        "all_topics": "各方面",
    },
}


def is_applicability_question(text: str) -> bool:
    """Whether a free question asks what applies or is required ("do we need ...", "我们需要...吗")."""
    return bool(_APPLICABILITY.search(text))


def topics_asked(text: str) -> tuple[str, ...]:
    """The topics a question names, in TOPICS order (empty: it names none)."""
    low = text.lower()
    return tuple(t for t in TOPICS if any(w in low for w in TOPIC_WORDS[t]))


def _finding_item(key: str, f: Finding, lang: str, numbers: dict[str, int]) -> Item:
    """One obligation: what to do, its state, and for one to confirm the numbers of the questions it waits on."""
    T = _T[lang]
    zh = lang == "zh"
    title, todo = (f.title_zh, f.what_to_do["zh"]) if zh else (f.title_en, f.what_to_do["en"])
    state = T["overdue"] if f.overdue else T["applies"] if f.status == "applies" else T["confirm"]
    text = f"{title}{'：' if zh else ': '}{todo}"
    extra = []
    if f.status == "confirm":
        asks = [f"Q{numbers[q['field']]}" for q in f.questions if q["field"] in numbers]
        asks += [q[lang] for q in f.questions if q["field"] not in numbers] + ([f.confirm[lang]] if f.confirm else [])
        extra.append(f"{T['if']}{'：' if zh else ': '}{('; ' if not zh else '；').join(asks)}")
    if f.overdue and f.if_late:
        extra.append(f"{T['overdue']}{'：' if zh else ': '}{f.if_late[lang]}")
    if f.timing:
        extra.append(f"{T['timing']}{'：' if zh else ': '}{f.timing[lang]}")
    suffix = f" [{state} · `{f.id}`]" + ("".join(f" {e}" for e in extra))
    return Item(key, text, tuple((c.instrument, c.article) for c in f.citations), suffix, finding_quotes(f))


def _context_sections(inference: Inference | None, assessment: Assessment, lang: str,
                      shown: set[str] | None = None) -> list[Section]:
    """The assumptions read from the text, and the open questions (those deciding a shown obligation)."""
    T = _T[lang]
    out = []
    if inference is not None and inference.assumptions:
        out.append(Section(T["assumptions"], tuple(Item(f"A{n}", a.zh if lang == "zh" else a.en, ())
                                                   for n, a in enumerate(inference.assumptions, start=1))))
    questions = open_questions(assessment, shown)
    if questions:
        out.append(Section(T["questions"], tuple(
            Item(f"Q{n}", q[lang], (), f" [{T['decides']}: {', '.join(o for o in q['obligations'] if shown is None or o in shown)}]")
            for n, q in enumerate(questions, start=1))))
    return out


def open_questions(assessment: Assessment, shown: set[str] | None = None) -> list[dict]:
    """The assessment's open questions that decide a shown obligation (all when `shown` is None)."""
    return [q for q in assessment.questions if shown is None or set(q["obligations"]) & shown]


def _by_topic(findings: list[Finding], topics: tuple[str, ...], lang: str, numbers: dict[str, int]) -> list[Section]:
    T = _T[lang]
    sections, n = [], 1
    for topic in topics:
        group = [f for f in findings if f.topic == topic]
        items = []
        for f in sorted(group, key=lambda f: (not f.overdue, f.status != "applies", f.id)):
            items.append(_finding_item(f"O{n}", f, lang, numbers))
            n += 1
        title = TOPIC_TITLES[topic][1 if lang == "zh" else 0]
        sections.append(Section(title, tuple(items), T["nothing"]))
    return sections


def _numbers(assessment: Assessment, shown: set[str] | None = None) -> dict[str, int]:
    """Field -> its number in the questions section (Q1, Q2 ...)."""
    return {q["field"]: n for n, q in enumerate(open_questions(assessment, shown), start=1)}


def requirements_layout(assessment: Assessment, inference: Inference | None, what: str, lang: str) -> Layout:
    """Every applicable and to-confirm obligation, grouped the way the guide asks."""
    T = _T[lang]
    findings = [*assessment.applicable, *assessment.to_confirm]
    head = T["req_head"].format(what=what, day=assessment.as_of.isoformat(), applies=len(assessment.applicable),
                                confirm=len(assessment.to_confirm))
    used = [t for t in TOPICS if any(f.topic == t for f in findings)]
    sections = [*_context_sections(inference, assessment, lang), *_by_topic(findings, tuple(used), lang, _numbers(assessment))]
    return Layout((head,), tuple(sections), (T["absent"], T["foot"]))


def applicability_layout(assessment: Assessment, inference: Inference | None, question: str, lang: str) -> Layout:
    """The obligations on the topics the question asks about (all topics if it names none)."""
    T = _T[lang]
    topics = topics_asked(question) or TOPICS
    findings = [f for f in (*assessment.applicable, *assessment.to_confirm) if f.topic in topics]
    names = "、".join(TOPIC_TITLES[t][1] for t in topics) if lang == "zh" else ", ".join(TOPIC_TITLES[t][0].lower() for t in topics)
    if topics == TOPICS:
        names = T["all_topics"]
    applies = sum(f.status == "applies" for f in findings)
    head = T["app_head"].format(what=question.strip(), day=assessment.as_of.isoformat(), topics=names, applies=applies,
                                confirm=len(findings) - applies)
    used = tuple(t for t in topics if any(f.topic == t for f in findings)) or topics[:1]
    shown = {f.id for f in findings}
    sections = [*_context_sections(inference, assessment, lang, shown), *_by_topic(findings, used, lang, _numbers(assessment, shown))]
    return Layout((head,), tuple(sections), (T["absent"], T["foot"]))


# ---- architecture review -----------------------------------------------------------------------------------

_ARCH = {
    "storage": {
        "en": "Personal information is stored or replicated outside mainland China: that is providing it abroad. It needs "
              "notice and separate consent, an impact assessment, and the mechanism its volume calls for before it leaves.",
        "zh": "个人信息存储或复制到中国境外，即属于向境外提供个人信息：出境前须告知并取得单独同意、开展个人信息保护影响评估，并按数量履行相应的出境机制。",
        "cites": (("pipl-2021", 38), ("pipl-2021", 39), ("pipl-2021", 55))},
    "foreign_api": {
        "en": "A foreign model API receives users' inputs: personal information in prompts leaves China (the same transfer "
              "duties apply), and a public generative service must use foundation models with a lawful source.",
        "zh": "境外模型接口接收用户输入：提示词中的个人信息随之出境（适用同样的出境义务）；面向公众的生成式服务还须使用具有合法来源的基础模型。",
        "cites": (("pipl-2021", 38), ("gai-interim-measures-2023", 7))},
    "training": {
        "en": "User data trains or fine-tunes the model: training data containing personal information needs consent or "
              "another legal basis, and lawful, quality-controlled sources.",
        "zh": "用户数据用于训练或微调模型：训练数据涉及个人信息的，应当取得个人同意或者符合其他法定情形，并使用具有合法来源的数据。",
        "cites": (("gai-interim-measures-2023", 7), ("pipl-2021", 13))},
    "cii": {
        "en": "As a critical information infrastructure operator, personal information and important data collected in China "
              "must be stored in China; a transfer abroad needs a security assessment.",
        "zh": "作为关键信息基础设施运营者，在境内收集和产生的个人信息和重要数据应当在境内存储；确需向境外提供的，应当进行安全评估。",
        "cites": (("csl-2025", 39), ("pipl-2021", 40))},
}
_ALTERNATIVES = {
    "mainland": {
        "en": "Keep the data (and its replicas, logs and analytics) in mainland China: without a transfer abroad, none of "
              "the cross-border conditions applies.",
        "zh": "将数据（及其副本、日志和分析）保存在中国境内：不向境外提供的，无须满足出境条件。",
        "cites": (("pipl-2021", 38),)},
    "domestic_model": {
        "en": "Use a domestic model whose provider has completed the security assessment and algorithm filing, so that "
              "prompts stay in China.",
        "zh": "使用已完成安全评估和算法备案的境内模型，使提示词留在境内。",
        "cites": (("gai-interim-measures-2023", 17),)},
    "volume": {
        "en": "If data must go abroad, choose the mechanism by volume since 1 January: exempt below 100,000 people's "
              "non-sensitive personal information (non-CII); standard contract or certification from 100,000 to under "
              "1 million, or under 10,000 for sensitive information; CAC security assessment at 1 million, 10,000 "
              "sensitive, any important data, or for a CII operator.",
        "zh": "确需出境的，按自当年1月1日起累计数量选择机制：关键信息基础设施运营者以外的处理者累计不满10万人个人信息（不含敏感个人信息）的免予申报；10万人以上不满100万人，或者不满1万人敏感个人信息的，订立标准合同或者通过认证；100万人以上、1万人以上敏感个人信息、重要数据或者关键信息基础设施运营者，申报安全评估。",
        "cites": (("cross-border-data-flow-provisions-2024", 5), ("cross-border-data-flow-provisions-2024", 8),
                  ("cross-border-data-flow-provisions-2024", 7))},
    "exemptions": {
        "en": "Transfers genuinely necessary for a contract with the individual (cross-border shopping, bookings, payments), "
              "for cross-border HR management, or in an emergency are exempt from the three mechanisms.",
        "zh": "为订立、履行个人作为一方当事人的合同（跨境购物、预订、支付等）、实施跨境人力资源管理或者紧急情况下确需向境外提供个人信息的，免予上述三种机制。",
        "cites": (("cross-border-data-flow-provisions-2024", 5),)},
}


def _fixed(key: str, entry: dict, lang: str, assessment: Assessment, corpus_in_force) -> Item | None:
    cites = tuple(c for c in entry["cites"] if corpus_in_force(c[0]))
    return Item(key, entry[lang], cites) if cites else None


def architecture_layout(assessment: Assessment, inference: Inference | None, what: str, lang: str,
                        in_force) -> Layout:
    """Problems in the described data flows, the alternatives the rules allow (each cited), then the duties."""
    T = _T[lang]
    profile = (inference.profile if inference else {}) or {}
    storage = profile.get("data_storage")
    models = profile.get("models", [])
    pi = profile.get("personal_information") is True
    problems, alternatives = [], []
    if pi and storage in ("abroad", "both"):
        problems.append("storage")
        alternatives.append("mainland")
    if "foreign_api" in models:
        problems.append("foreign_api")
        alternatives.append("domestic_model")
    if pi and "own_model" in models:
        problems.append("training")
    if profile.get("cii_operator") is True:
        problems.append("cii")
    if pi and ({"storage", "foreign_api"} & set(problems)):
        alternatives += ["volume", "exemptions"]
    prob_items = [i for n, k in enumerate(problems, start=1) if (i := _fixed(f"P{n}", _ARCH[k], lang, assessment, in_force))]
    alt_items = [i for n, k in enumerate(alternatives, start=1) if (i := _fixed(f"C{n}", _ALTERNATIVES[k], lang, assessment, in_force))]
    head = T["arch_head"].format(what=what, day=assessment.as_of.isoformat())
    focus = ("localisation_cross_border", "personal_information", "filing_assessment", "disclosure_labelling",
             "security_incidents", "content_safety", "minors", "platform", "corporate")
    findings = [*assessment.applicable, *assessment.to_confirm]
    used = tuple(t for t in focus if any(f.topic == t for f in findings))
    sections = [Section(T["problems"], tuple(prob_items), T["no_problems"]),
                *([Section(T["alternatives"], tuple(alt_items))] if alt_items else []),
                *_context_sections(inference, assessment, lang), *_by_topic(findings, used, lang, _numbers(assessment))]
    return Layout((head,), tuple(sections), (T["absent"], T["foot"]))


# ---- the answer ----------------------------------------------------------------------------------------------

_LAUNCH = {"field": "launched", "en": "Is the service already live? If it is, what was due before launch is overdue and "
                                   "comes first.", "zh": "该服务是否已经上线？已上线的，上线前应完成的事项已经逾期，应当优先处理。"}


def _with_context(plan: Layout, inference: Inference | None, assessment: Assessment, lang: str) -> Layout:
    """A risk or roadmap layout with the assumptions in front (when the profile was read from text; a given profile
    is the user's own statement) and, when the text does not say whether the service is live, that question."""
    if inference is None:
        return plan
    extra = [s for s in _context_sections(inference, assessment, lang) if s.items and s.items[0].key.startswith("A")]
    sections = list(plan.sections)
    if "launched" in inference.profile.get("unknown", []):
        at = next((i for i, s in enumerate(sections) if s.items and s.items[0].key.startswith("Q")), None)
        if at is None:
            sections.insert(0, Section(_T[lang]["questions"], (Item("Q1", _LAUNCH[lang]),)))
        else:
            items = sections[at].items
            sections[at] = Section(sections[at].heading, (*items, Item(f"Q{len(items) + 1}", _LAUNCH[lang])), sections[at].empty)
    return Layout(plan.head, (*extra, *sections), plan.foot, plan.show_quotes)


def _short(text: str, limit: int = 80) -> str:
    """The text on one line, cut at a word (or, in Chinese, a character) before `limit`, with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[:limit]
    at = cut.rfind(" ")
    return (cut[:at] if at > limit // 2 else cut).rstrip(" ,;:") + "…"


def advise(
    backbone: str, corpus, rulebook, embedder, lang: str, as_of, *, text: str = "", variables: dict | None = None,
    profile=None, model=None, max_tokens: int = 1024,
):
    """The engine's answer for a template (`backbone`) or an applicability question (`backbone="applicability"`).

    With `profile` the engine assesses it; otherwise the profile is read from `text` (the question or the template's
    variables) by the model when one is given, else by the rules. Returns None when no business can be read from the
    text, so the caller answers from retrieved articles instead."""
    from advisor.compose.assess import as_profile, assess
    from advisor.compose.backbone import layout, layout_answer
    from advisor.compose.disclosure import Request, disclosure_layout
    from advisor.compose.infer import infer_profile, infer_with_model

    if backbone == "disclosure":
        v = variables or {}
        plan = disclosure_layout(Request(v.get("platform", ""), v.get("industry", ""), v.get("content_type", ""),
                                         v.get("function", "")), corpus, as_of, lang)
        return layout_answer(plan, as_of, corpus, embedder, lang, model, text, max_tokens)
    inference = None
    warnings: list[str] = []
    if profile is None:
        ask_launch = backbone in ("roadmap", "risk")
        inference = infer_with_model(model, text, ask_launch=ask_launch) if model is not None else infer_profile(text, ask_launch=ask_launch)
        warnings += list(inference.warnings)
        if not inference.recognised:
            return None
        profile = {**inference.profile, "name": _short(text)}
    checked = as_profile(profile)
    assessment = assess(checked, corpus, rulebook, as_of)
    what = checked.description or checked.name or text.strip() or "the business"
    if backbone == "requirements":
        plan = requirements_layout(assessment, inference, what, lang)
    elif backbone == "architecture":
        plan = architecture_layout(assessment, inference, what, lang,
                                   lambda iid: iid in corpus.instruments and corpus.applies(corpus.instruments[iid], as_of))
    elif backbone == "applicability":
        plan = applicability_layout(assessment, inference, text, lang)
    else:
        plan = _with_context(layout(assessment, backbone, lang), inference, assessment, lang)
    per_rule = {w for f in (*assessment.applicable, *assessment.to_confirm) for w in f.warnings}  # said per citation below
    own = [w for w in assessment.warnings if w not in per_rule]
    answer = layout_answer(plan, as_of, corpus, embedder, lang, model, what, max_tokens, warnings + own)
    answer.profile = checked.model_dump(mode="json", exclude_defaults=True)
    answer.assumptions = [a.to_dict() for a in inference.assumptions] if inference else []
    answer.questions = [dict(q, obligations=list(q["obligations"])) for q in assessment.questions]
    if inference is not None and "launched" in inference.profile.get("unknown", []) and backbone in ("risk", "roadmap"):
        answer.questions.append(dict(_LAUNCH, obligations=[]))
    return answer
