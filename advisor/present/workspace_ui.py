"""The Workspace tab: the AI systems with their risk level and progress, a dashboard chart (obligations by
status and risk level across systems), and one system's checklist with status, owner and due date editable
(overdue items highlighted). A thin shell over `advisor.workspace` (through `Advisor.workspace`).

Edits use the version of the item as it was loaded into the form: if someone changed it meanwhile, the
save is refused with a message and the form reloads the current values (nothing is overwritten).

Stable element ids: ``ws-systems`` (the list), ``ws-dashboard`` (the chart), ``ws-refresh``, ``ws-system``
(picker), ``ws-assess``, ``ws-checklist``, ``ws-item``, ``ws-status``, ``ws-reason``, ``ws-owner``, ``ws-due``,
``ws-notes``, ``ws-evidence``, ``ws-save``, ``ws-message``, ``ws-new-name``, ``ws-add``.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import gradio as gr
import pandas as pd

from advisor.compose.assess import LEVEL_ZH, LEVELS
from advisor.errors import AdvisorError
from advisor.present.advisor import Advisor
from advisor.workspace import STATUSES, ConflictError
from advisor.workspace.audit import acting_as
from advisor.workspace.db import in_use
from advisor.workspace.service import STATUS_EN, STATUS_ZH

LIST_COLUMNS = ["System · 系统", "Key · 标识", "Risk · 风险", "Progress · 进度", "Done · 完成", "Overdue · 逾期",
                "Next review · 下次复核"]
STATUS_COLOURS = {"not started": "#9e9e9e", "in progress": "#f0a202", "done": "#2e7d32", "not applicable": "#5b8def"}
RISK_COLOUR = {"low": "#2e7d32", "medium": "#b58900", "high": "#d35400", "critical": "#c0392b"}
STATUS_CHOICES = [(f"{STATUS_EN[s]} · {STATUS_ZH[s]}", s) for s in STATUSES]
EMPTY = "No system yet: add one below, or run advisor systems add NAME --profile FILE. · 尚无系统。"


def _who(request: gr.Request | None) -> str:
    name = getattr(request, "username", None) if request is not None else None
    return f"web:{name}" if name else "web"


# ---- pure helpers (tested directly) ----------------------------------------------------------------

def systems_html(rows: list[dict]) -> str:
    """The list of systems: risk level (coloured), progress bar, done/total, overdue count, next review."""
    if not rows:
        return f"<p><em>{EMPTY}</em></p>"
    head = "".join(f"<th>{c}</th>" for c in LIST_COLUMNS)
    body = []
    for r in rows:
        level = r["risk_level"]
        risk = (f"<b style='color:{RISK_COLOUR[level]}'>{level} · {LEVEL_ZH[level]}</b>" if level
                else "<em>not assessed · 未评估</em>")
        pct = round(r["progress"] * 100)
        bar = (f"<div style='background:#eee;width:90px;height:8px;border-radius:4px'><div style='background:#2e7d32;"
               f"width:{pct}%;height:8px;border-radius:4px'></div></div>{pct}%")
        done = r["by_status"]["done"] + r["by_status"]["not_applicable"]
        overdue = f"<b style='color:#b00020'>{r['overdue']}</b>" if r["overdue"] else "0"
        body.append(f"<tr data-system=\"{html.escape(r['key'])}\"><td><b>{html.escape(r['name'])}</b></td>"
                    f"<td><code>{html.escape(r['key'])}</code></td><td>{risk}</td><td>{bar}</td>"
                    f"<td>{done}/{r['obligations']}</td><td>{overdue}</td><td>{r['next_review']}</td></tr>")
    return f"<table class='ws-systems'><tr>{head}</tr>{''.join(body)}</table>"


def dashboard_frame(board: dict) -> pd.DataFrame:
    """Long form for the chart: one row per (risk level, status) with its count of obligations."""
    rows = []
    for level in ("unassessed", *LEVELS):
        for status in STATUSES:
            n = board["by_risk_and_status"][level][status]
            if level == "unassessed" and not n:
                continue
            rows.append({"risk": level if level == "unassessed" else f"{level} · {LEVEL_ZH[level]}",
                         "status": STATUS_EN[status], "obligations": n})
    return pd.DataFrame(rows, columns=["risk", "status", "obligations"])


def checklist_html(items: list[dict]) -> str:
    """The checklist as a table; overdue rows carry the class `overdue` (red), user text is escaped."""
    if not items:
        return "<p><em>Not assessed yet: press <b>Assess</b>. · 尚未评估。</em></p>"
    head = ("<tr><th>Obligation · 义务</th><th>Status · 状态</th><th>Owner · 负责人</th><th>Due · 截止</th>"
            "<th>Articles · 依据</th><th>Evidence · 证明材料</th></tr>")
    rows = []
    for i in items:
        cls = ' class="overdue" style="background:#fde2e2"' if i["overdue"] else ""
        due = html.escape(i["due"] or "-") + (" <b style='color:#b00020'>overdue · 逾期</b>" if i["overdue"] else "")
        status = f"{STATUS_EN[i['status']]} · {STATUS_ZH[i['status']]}" + (" (to confirm · 待确认)" if i["finding"] == "confirm" else "")
        if i["status"] == "not_applicable" and i["na_reason"]:
            status += f"<br><small>{html.escape(i['na_reason'])}</small>"
        articles = "<br>".join(html.escape(c["label_zh"]) for c in i["citations"])
        evidence = "<br>".join(html.escape(e) for e in i["evidence"]) or "<small>" + "<br>".join(
            "☐ " + html.escape(e.get("zh", "")) for e in i["checklist"]) + "</small>"
        rows.append(f"<tr{cls} data-obligation=\"{html.escape(i['obligation'])}\"><td><b>{html.escape(i['title_zh'])}</b><br>"
                    f"<small>{html.escape(i['title_en'])} · <code>{html.escape(i['obligation'])}</code></small></td>"
                    f"<td>{status}</td><td>{html.escape(i['owner'] or '-')}</td><td>{due}</td><td>{articles}</td>"
                    f"<td>{evidence}</td></tr>")
    return f"<table class='ws-checklist'>{head}{''.join(rows)}</table>"


def _item_choices(items: list[dict]) -> list[tuple[str, str]]:
    return [(f"{'⚠ ' if i['overdue'] else ''}{i['title_zh']} · {i['obligation']}", i["obligation"]) for i in items]


# ---- the tab ---------------------------------------------------------------------------------------

def build_workspace(advisor: Advisor, profile_state: gr.State | None = None):
    """The Workspace tab's content (call inside an open Tab). `profile_state`: the Assess tab's last profile,
    used when a new system is added from this tab. Returns (refresh handler, its outputs, its input) for the
    page's load event. The database is not created until a system is added."""

    def overview():
        if not in_use(advisor.settings):
            return systems_html([]), dashboard_frame({"by_risk_and_status": {l: dict.fromkeys(STATUSES, 0)
                                                                              for l in ("unassessed", *LEVELS)}}), []
        ws = advisor.workspace
        rows = ws.list_systems()
        keys = [(f"{r['name']} ({r['key']})", r["key"]) for r in rows]
        return systems_html(rows), dashboard_frame(ws.dashboard()), keys

    def refresh(current: str | None):
        frame, chart, keys = overview()
        value = current if current in [k for _, k in keys] else (keys[0][1] if keys else None)
        return (frame, chart, gr.update(choices=keys, value=value))

    def show(key: str | None):
        if not key:
            return checklist_html([]), gr.update(choices=[], value=None), {}, ""
        try:
            items = advisor.workspace.checklist(key)
        except AdvisorError as exc:
            return checklist_html([]), gr.update(choices=[], value=None), {}, f"⚠️ {html.escape(str(exc))}"
        versions = {i["obligation"]: i for i in items}
        first = items[0]["obligation"] if items else None
        return checklist_html(items), gr.update(choices=_item_choices(items), value=first), versions, ""

    def pick(obligation: str | None, loaded: dict):
        item = (loaded or {}).get(obligation or "")
        if not item:
            return gr.update(value=None), "", "", "", ""
        return item["status"], item["na_reason"] or "", item["owner"] or "", item["due"] or "", item["notes"] or ""

    def save(key, obligation, status, reason, owner, due, notes, evidence, loaded, request: gr.Request):
        item = (loaded or {}).get(obligation or "")
        if not key or not item:
            keep = [gr.update()] * 5
            return (gr.update(), gr.update(), loaded, "⚠️ Pick a system and an obligation. · 请选择系统和义务。",
                    gr.update(), gr.update(), *keep)
        due = (due or "").strip()
        try:
            with acting_as(_who(request)):
                saved = advisor.workspace.update_item(
                    key, obligation, expected_version=item["version"], user=_who(request), status=status,
                    na_reason=reason or "", owner=owner or "", due=due if due and due != item["due"] else None,
                    notes=notes or "",
                    add_evidence=[e for e in (evidence or "").replace("，", ",").split(",") if e.strip()],
                    clear=["due"] if not due else [])
            message = f"✅ Saved · 已保存 (version {saved['version']})"
        except ConflictError as exc:
            message = f"⚠️ {html.escape(str(exc))} · 该事项已被他人修改，已重新载入。"
        except AdvisorError as exc:
            message = f"⚠️ {html.escape(str(exc))}"
        table, _, versions, _ = show(key)
        frame, chart, _keys = overview()
        items_update = gr.update(choices=_item_choices(list(versions.values())), value=obligation)
        return (table, items_update, versions, message, frame, chart, *pick(obligation, versions))

    def assess_selected(key: str | None, request: gr.Request):
        if not key:
            return "⚠️ Pick a system. · 请选择系统。"
        with acting_as(_who(request)):
            r = advisor.workspace.assess_system(key, advisor, user=_who(request))
        return (f"✅ {html.escape(key)}: risk **{r['risk_level']}**, {r['applicable']} apply, {r['to_confirm']} to confirm; "
                f"{len(r['added'])} new, {len(r['no_longer_found'])} no longer found")

    def add(name: str, profile: dict | None, request: gr.Request):
        try:
            with acting_as(_who(request)):
                made = advisor.workspace.add_system(name, {**(profile or {}), "name": (name or "").strip()}, user=_who(request))
                advisor.workspace.assess_system(made["key"], advisor, user=_who(request))
        except AdvisorError as exc:
            return f"⚠️ {html.escape(str(exc))}", gr.update()
        return f"✅ Added and assessed · 已添加并评估: {html.escape(made['name'])}", made["key"]

    gr.Markdown("The organisation's AI systems, their obligations and progress. · 企业人工智能系统清单、合规义务及进度。")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=480):
            gr.Markdown("#### Systems · 系统")
            systems = gr.HTML(systems_html([]), elem_id="ws-systems")
        with gr.Column(scale=2, min_width=360):
            chart = gr.BarPlot(x="risk", y="obligations", color="status", elem_id="ws-dashboard", height=330,
                               title="Obligations by status and risk · 各风险等级义务状态", x_title="risk level · 风险等级",
                               y_title="obligations · 义务", label="Dashboard · 概览", color_map=STATUS_COLOURS)
            gr.HTML(" ".join(f"<span style='white-space:nowrap;margin-right:12px'><span style='display:inline-block;width:11px;"
                             f"height:11px;background:{colour};margin-right:4px'></span>{name} · {STATUS_ZH[name.replace(' ', '_')]}</span>"
                             for name, colour in STATUS_COLOURS.items()), elem_id="ws-legend")
            refresh_btn = gr.Button("Refresh · 刷新", elem_id="ws-refresh", size="sm")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=480):
            with gr.Row():
                system = gr.Dropdown(choices=[], label="System · 系统", elem_id="ws-system", scale=3, filterable=False)
                assess_btn = gr.Button("Assess · 评估", elem_id="ws-assess", scale=1)
            checklist = gr.HTML(checklist_html([]), elem_id="ws-checklist")
        with gr.Column(scale=2, min_width=360):
            gr.Markdown("#### Update an obligation · 更新义务")
            item = gr.Dropdown(choices=[], label="Obligation · 义务", elem_id="ws-item", filterable=False)
            status = gr.Radio(choices=STATUS_CHOICES, label="Status · 状态", elem_id="ws-status")
            reason = gr.Textbox(label="Reason if not applicable · 不适用理由", elem_id="ws-reason")
            with gr.Row():
                owner = gr.Textbox(label="Owner · 负责人", elem_id="ws-owner")
                due = gr.Textbox(label="Due · 截止日期", placeholder="YYYY-MM-DD", elem_id="ws-due")
            notes = gr.Textbox(label="Notes · 备注", lines=2, elem_id="ws-notes")
            evidence = gr.Textbox(label="Add evidence (files or links, comma-separated) · 添加证明材料", elem_id="ws-evidence")
            save_btn = gr.Button("Save · 保存", variant="primary", elem_id="ws-save")
            message = gr.Markdown("", elem_id="ws-message")
            with gr.Accordion("Add a system · 添加系统", open=False):
                gr.Markdown("Uses the profile of the *Assess my business* tab if you filled it in. · 使用“合规评估”页的画像。")
                new_name = gr.Textbox(label="Name · 名称", elem_id="ws-new-name")
                add_btn = gr.Button("Add and assess · 添加并评估", elem_id="ws-add")
    loaded = gr.State({})

    outputs_refresh = [systems, chart, system]
    refresh_btn.click(refresh, inputs=system, outputs=outputs_refresh)
    system.change(show, inputs=system, outputs=[checklist, item, loaded, message])
    item.change(pick, inputs=[item, loaded], outputs=[status, reason, owner, due, notes])
    save_btn.click(save, inputs=[system, item, status, reason, owner, due, notes, evidence, loaded],
                   outputs=[checklist, item, loaded, message, systems, chart, status, reason, owner, due, notes]
                   ).then(lambda: "", outputs=evidence)
    assess_btn.click(assess_selected, inputs=system, outputs=message).then(
        refresh, inputs=system, outputs=outputs_refresh).then(show, inputs=system, outputs=[checklist, item, loaded, message])
    add_inputs = [new_name, profile_state] if profile_state is not None else [new_name, gr.State(None)]
    add_btn.click(add, inputs=add_inputs, outputs=[message, system]).then(refresh, inputs=system, outputs=outputs_refresh)
    return refresh, outputs_refresh, system
