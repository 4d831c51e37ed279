"""The Gradio chat for business users: free questions or guided templates, answers with citations.

A thin shell over `Advisor`: every answer comes from `Advisor.ask_stream`, every article text from
the corpus. Mounted at "/" by `advisor.present.http.create_app(advisor, mount_ui=True)`.

Three tabs: "Ask" (the chat), "Assess my business" (the interview of `advisor.present.interview_ui`: a
profile form, then the cited checklist and roadmap) and "Workspace" (`advisor.present.workspace_ui`: the AI
systems, their tracked checklists and a dashboard).

Stable element ids (for the browser test and for anyone styling or scripting the page):
``tab-ask``, ``tab-assess``, ``tab-workspace`` (the tab panels); in the chat: ``question``, ``submit``, ``clear``, ``template``,
``template-help``, ``var-0`` .. ``var-3``, ``lang``, ``provider``, ``as-of``, ``chatbot``, ``citations``,
``download``; in the interview: ``assess``, ``assess-lang``, ``assess-as-of``, ``assessment-risk``,
``assessment``, ``assessment-download``, ``profile-download``, ``profile-upload``, ``profile-status``,
``section-<key>`` and ``field-<path>`` (see interview_ui).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import inspect
import tempfile
from pathlib import Path
from typing import Any, Iterator

import gradio as gr

from advisor.compose.answer import DISCLAIMER_EN, DISCLAIMER_ZH, Answer, Citation
from advisor.compose.markup import md_text
from advisor.compose.templates import Template
from advisor.corpus.schema import label_en
from advisor.errors import AdvisorError
from advisor.present.advisor import Advisor
from advisor.present.http import answer_markdown
from advisor.present.interview_ui import build_interview
from advisor.present.workspace_ui import build_workspace
from advisor.providers.llms import describe_providers

FREE = "__free__"  # the template picker's "no template" choice
MAX_VARIABLES = 4  # the most variables any template has; one hidden box for each
DISCLAIMER = f"{DISCLAIMER_ZH} {DISCLAIMER_EN}"
STATUS_LABELS = {
    "in_force": "现行有效 in force",
    "amended": "已修订 amended",
    "superseded": "已被取代 superseded",
    "draft": "草案 draft",
    "repealed": "已废止 repealed",
}
EMPTY_PANEL = (
    "_Ask a question or fill in a template: the articles an answer cites appear here, in Chinese and English._\n\n"
    "_提问或填写模板后，回答所引用的条文（中英文全文）将显示在此处。_"
)
SEARCHING = "_Searching the regulations… / 正在检索法规…_"


# ---- pure helpers (no Gradio state; tested directly) ------------------------------------------

def template_choices(templates: dict[str, Template]) -> list[tuple[str, str]]:
    return [("Free question / 自由提问", FREE)] + [(t.title, name) for name, t in templates.items()]


def variable_updates(templates: dict[str, Template], name: str | None) -> list[dict]:
    """Updates for the question box, the template help and the variable boxes when the template changes."""
    tpl = templates.get(name or "")
    if tpl is None:
        boxes = [gr.update(visible=False, value="") for _ in range(MAX_VARIABLES)]
        return [gr.update(visible=True), gr.update(value="", visible=False), *boxes]
    items = list(tpl.variables.items())
    boxes = []
    for i in range(MAX_VARIABLES):
        if i < len(items):
            var, help_text = items[i]
            long = len(tpl.variables) == 1  # one-variable templates take a whole description
            boxes.append(gr.update(visible=True, value="", label=var.replace("_", " "), placeholder=help_text,
                                   lines=4 if long else 1, max_lines=12 if long else 3))
        else:
            boxes.append(gr.update(visible=False, value="", label=f"variable {i + 1}", placeholder=""))
    help_text = f"**{tpl.title}.** {tpl.description}"
    if tpl.backbone:
        help_text += ("\n\nWith a profile from the *Assess my business* tab, this answer is built on the applicability "
                      "engine (the fields below are then optional). · 如已在“合规评估”页填写画像，本回答基于适用性引擎生成（下列字段可不填）。")
    return [gr.update(visible=False), gr.update(value=help_text, visible=True), *boxes]


def provider_choices(advisor: Advisor) -> tuple[list[tuple[str, str]], str]:
    """(label, name) for every provider a user may pick here (settings.allowed_providers), marking the ones
    without a key; and the default name."""
    choices = []
    allowed = advisor.allowed_providers()
    for row in describe_providers(advisor.settings):
        if row["name"] not in allowed:
            continue
        model = advisor.settings.model if row["name"] == advisor.settings.provider and advisor.settings.model else row.get("model")
        label = row["name"] + (f" · {model}" if model else "")
        if row["name"] == "offline":
            label += " (no model: quoted extracts)"
        elif not row["configured"]:
            label += f" (no key: set {row['key_env']})"
        choices.append((label, row["name"]))
    default = advisor.settings.provider
    if default not in {name for _, name in choices}:
        choices.insert(0, (default, default))
    return choices, default


def request_summary(tpl: Template | None, question: str, values: dict[str, str], profile: dict | None = None) -> str:
    """What the user asked, as shown in the chat."""
    if tpl is None:
        return md_text(question)  # the user's words, shown as typed: never markup, links or images
    lines = [f"**{tpl.title}**"] + [f"- {k.replace('_', ' ')}: {md_text(v)}" for k, v in values.items()]
    if profile is not None:
        name = md_text(profile["name"]) if profile.get("name") else "from the Assess tab · 来自合规评估页"
        lines.append(f"- profile · 画像: {name}")
    return "\n".join(lines)


def _quote_block(text: str) -> str:
    return "\n".join("> " + html.escape(line, quote=False) if line.strip() else ">" for line in text.strip().split("\n"))


def citation_markdown(advisor: Advisor, citation: Citation, n: int, hits: list | tuple = ()) -> str:
    """One citation: title, article, full Chinese text and English translation, status, date, link."""
    inst = advisor.corpus.instruments.get(citation.instrument_id) or advisor.corpus.get(citation.regulation)
    art = inst.article(citation.article) if inst else None
    heading = art.heading_zh if art else citation.label.split("》", 1)[1]
    name_en = art.name_en if art else label_en(citation.article, citation.heading_en, long=True)
    hit = next((h for h in hits if (h.instrument_id, h.article) == (citation.instrument_id, citation.article)), None)
    zh = art.zh if art else (hit.text_zh if hit else citation.quote)
    en = art.en if art else (hit.text_en if hit else citation.quote_en)
    title_en = citation.regulation_en or (inst.title_en if inst else "")
    status = STATUS_LABELS.get(citation.status, citation.status or "")
    meta = [m for m in [status, f"effective 生效 {citation.effective}" if citation.effective else ""] if m]
    if citation.source_url:
        meta.append(f"[official text 官方原文]({citation.source_url})")
    lines = [
        f"#### {n}. 《{citation.regulation}》{heading}",
        f"*{html.escape(title_en)}, {name_en}*" if title_en else f"*{name_en}*",
        "",
        " · ".join(meta),
        "",
        "**中文（权威文本）**",
        "",
        _quote_block(zh),
        "",
        "**English (unofficial translation)**",
        "",
        _quote_block(en),
    ]
    if citation.quote:
        lines += ["", f"Quoted 引用: 「{html.escape(citation.quote, quote=False)}」"]
    return "\n".join(lines)


def citations_markdown(advisor: Advisor, answer: Answer) -> str:
    """The citations panel: every citation in full, then warnings, the as-of date and the disclaimer."""
    parts = []
    if answer.citations:
        parts += [citation_markdown(advisor, c, n, answer.hits) for n, c in enumerate(answer.citations, start=1)]
    else:
        parts.append("_No article was cited. / 未引用任何条文。_")
    if answer.warnings:
        parts.append("**Citation check 引用核对**\n\n" + "\n".join(f"- ⚠️ {md_text(w)}" for w in answer.warnings))
    parts.append(f"**As of 截至:** {answer.as_of.isoformat()} · **Answered by 回答来源:** {answer.provider}")
    parts.append(f"*{DISCLAIMER}*")
    return "\n\n---\n\n".join(parts)


def write_download(folder: Path, summary: str, answer: Answer) -> str:
    """The answer with its citations as a Markdown file; returns its path."""
    text = f"# {summary.splitlines()[0].strip('*# ') if summary else 'Answer'}\n\n" + answer_markdown(answer) + f"\n\n{DISCLAIMER}\n"
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
    path = folder / f"advisor-answer-{answer.as_of.isoformat()}-{digest}.md"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _chatbot_kwargs() -> dict[str, Any]:
    """Copy buttons and the messages format, across Gradio 5 and 6."""
    params = inspect.signature(gr.Chatbot.__init__).parameters
    kwargs: dict[str, Any] = {}
    if "type" in params:  # Gradio 5: tuples by default
        kwargs["type"] = "messages"
    if "buttons" in params:  # Gradio 6
        kwargs["buttons"] = ["copy", "copy_all"]
    elif "show_copy_button" in params:
        kwargs["show_copy_button"] = True
    if "show_copy_all_button" in params:
        kwargs["show_copy_all_button"] = True
    return kwargs


# ---- the app ------------------------------------------------------------------------------------

def build_ui(advisor: Advisor) -> gr.Blocks:
    """The chat app over one Advisor (queue enabled, `settings.concurrency` answers at a time)."""
    templates = advisor.templates()
    providers, default_provider = provider_choices(advisor)
    downloads = Path(tempfile.mkdtemp(prefix="advisor-downloads-"))

    def on_template(name: str):
        return variable_updates(templates, name)

    def respond(question: str, template: str, v0: str, v1: str, v2: str, v3: str, lang: str, provider: str,
                as_of: str, history: list[dict], profile: dict | None = None) -> Iterator[tuple]:
        history = list(history or [])
        tpl = templates.get(template or "")
        values = dict(zip(tpl.variables, [v0, v1, v2, v3])) if tpl else {}
        values = {k: (v or "").strip() for k, v in values.items()}
        profile = profile if tpl is not None and tpl.backbone and profile else None  # the Assess tab's profile
        if profile is not None:
            values = {k: v for k, v in values.items() if v}  # the profile describes the business
        question = (question or "").strip()
        nothing = gr.update()
        if tpl is None and not question:
            gr.Warning("Type a question, or pick a template. / 请输入问题或选择模板。")
            yield history, history, nothing, nothing, nothing
            return
        history += [{"role": "user", "content": request_summary(tpl, question, values, profile)},
                    {"role": "assistant", "content": SEARCHING}]
        yield history, history, nothing, gr.update(value=None, interactive=False), "" if tpl is None else nothing

        def show(text: str) -> list[dict]:
            history[-1] = {"role": "assistant", "content": text}
            return history

        try:
            day = dt.date.fromisoformat(as_of.strip()) if as_of and as_of.strip() else None
        except ValueError:
            yield show(f"⚠️ '{as_of}' is not a date; use YYYY-MM-DD. / 日期格式应为 YYYY-MM-DD。"), history, nothing, nothing, nothing
            return
        streamed = ""
        try:
            for piece in advisor.ask_stream(
                None if tpl else question, template=tpl.name if tpl else None, variables=values or None,
                lang=lang or "en", as_of=day, provider=provider or None, profile=profile,
            ):
                if isinstance(piece, Answer):
                    path = write_download(downloads, request_summary(tpl, question, values, profile), piece)
                    yield (show(answer_markdown(piece)), history, citations_markdown(advisor, piece),
                           gr.update(value=path, interactive=True), nothing)
                    return
                streamed += piece
                yield show(streamed), history, nothing, nothing, nothing
        except AdvisorError as exc:
            yield show(f"⚠️ {exc}"), history, nothing, nothing, nothing

    def clear():
        return [], [], EMPTY_PANEL, gr.update(value=None, interactive=False)

    with gr.Blocks(title="China AI compliance advisor · 中国人工智能合规顾问", analytics_enabled=False) as demo:
        gr.Markdown(
            "## China AI compliance advisor · 中国人工智能合规顾问\n"
            "What China's AI and data rules require of what you are doing, citing the exact articles. "
            "Ask freely, or pick a template and fill in its fields; or answer the questions of the Assess tab "
            "for a checklist and roadmap. · 直接提问，或选择模板并填写字段；或在“合规评估”页回答问题，获取合规清单和路线图。"
        )
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Ask · 提问", elem_id="tab-ask"):
                history = gr.State([])
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=420):
                        chatbot = gr.Chatbot(
                            label="Advisor · 顾问", elem_id="chatbot", height=460, render_markdown=True,
                            placeholder="Answers quote the regulations verbatim. · 回答逐字引用法规原文。",
                            **_chatbot_kwargs(),
                        )
                        with gr.Row():
                            template = gr.Dropdown(choices=template_choices(templates), value=FREE, label="Template · 模板",
                                                   elem_id="template", scale=3, filterable=False)
                            lang = gr.Radio(choices=[("English", "en"), ("中文", "zh")], value="en", label="Answer language · 回答语言",
                                            elem_id="lang", scale=2)
                        template_help = gr.Markdown(visible=False, elem_id="template-help")
                        boxes = [gr.Textbox(visible=False, label=f"variable {i + 1}", elem_id=f"var-{i}", lines=1)
                                 for i in range(MAX_VARIABLES)]
                        question = gr.Textbox(label="Question · 问题", elem_id="question", lines=2, max_lines=8,
                                              placeholder="e.g. Do AI-generated product images on Xiaohongshu need a label? · 例如：小红书上的AI生成商品图需要标识吗？")
                        with gr.Row():
                            submit = gr.Button("Ask · 提问", variant="primary", elem_id="submit", scale=3)
                            clear_btn = gr.Button("Clear · 清空", elem_id="clear", scale=1)
                        with gr.Accordion("Options · 选项", open=True):
                            with gr.Row():
                                provider = gr.Dropdown(choices=providers, value=default_provider, label="Model provider · 模型",
                                                       info="“no key” providers need an API key in the server's environment.",
                                                       elem_id="provider", scale=2)
                                as_of = gr.Textbox(label="As of · 截至日期", placeholder="YYYY-MM-DD (default: today)",
                                                   elem_id="as-of", scale=1)
                    with gr.Column(scale=2, min_width=340):
                        gr.Markdown("### Citations · 引用条文")
                        citations = gr.Markdown(EMPTY_PANEL, elem_id="citations", max_height=880, line_breaks=True,
                                                container=True)
                        download = gr.DownloadButton("Download answer (.md) · 下载回答", value=None, interactive=False,
                                                     elem_id="download")
            with gr.Tab("Assess my business · 合规评估", elem_id="tab-assess"):
                # the last valid profile (a dict, or None): the risk_level and roadmap templates use it
                interview_profile = build_interview(advisor)
            with gr.Tab("Workspace · 合规工作台", elem_id="tab-workspace"):
                ws_refresh, ws_outputs, ws_system = build_workspace(advisor, interview_profile)
        gr.Markdown(f"<small>{DISCLAIMER}</small>")

        template.change(on_template, inputs=template, outputs=[question, template_help, *boxes], queue=False)
        inputs = [question, template, *boxes, lang, provider, as_of, history, interview_profile]
        outputs = [chatbot, history, citations, download, question]
        submit.click(respond, inputs=inputs, outputs=outputs)
        question.submit(respond, inputs=inputs, outputs=outputs)
        clear_btn.click(clear, outputs=[chatbot, history, citations, download], queue=False)
        demo.load(ws_refresh, inputs=ws_system, outputs=ws_outputs)

    demo.queue(default_concurrency_limit=advisor.settings.concurrency, max_size=advisor.settings.max_queue)
    return demo
