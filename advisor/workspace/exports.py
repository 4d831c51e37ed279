"""Exports a compliance officer can hand on: the workspace or one system as Markdown, an Excel workbook
(a summary sheet and one sheet per system, openpyxl) or a Word document (python-docx), in Chinese or
English. Every obligation is listed with its status, owner, due date, the evidence to keep and the
evidence kept, and the articles it rests on; the Markdown and Word exports quote each article (Chinese
text verbatim; the English export adds our unofficial translation)."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any, Iterable

from advisor.compose.assess import DISCLAIMER_EN, DISCLAIMER_ZH, LEVEL_ZH
from advisor.workspace.db import WorkspaceError
from advisor.workspace.records import KINDS
from advisor.workspace.service import STATUS_EN, STATUS_ZH, Workspace

FORMATS = ("md", "xlsx", "docx")
MEDIA = {"md": "text/markdown; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}

L = {
    "en": {"title": "AI compliance workspace", "system": "System", "key": "Key", "risk": "Risk level", "owner": "Owner",
           "obligations": "Obligations", "progress": "Progress", "overdue": "Overdue", "next_review": "Next review",
           "assessed": "Assessed as of", "corpus": "Corpus version", "profile": "Profile version", "summary": "Summary",
           "id": "Obligation", "title_col": "Title", "status": "Status", "due": "Due", "month": "Roadmap month",
           "articles": "Articles", "to_keep": "Evidence to keep", "kept": "Evidence kept", "timing": "Timing",
           "notes": "Notes", "reason": "Reason not applicable", "confirm": "to confirm", "records": "Records",
           "none": "none", "not_assessed": "not assessed", "generated": "Generated", "description": "Description",
           "translation": "Unofficial translation", "disclaimer": DISCLAIMER_EN, "done": "done", "yes": "yes", "no": "no"},
    "zh": {"title": "人工智能合规工作台", "system": "系统", "key": "标识", "risk": "风险等级", "owner": "负责人",
           "obligations": "义务数", "progress": "完成进度", "overdue": "逾期", "next_review": "下次复核",
           "assessed": "评估日期", "corpus": "法规库版本", "profile": "档案版本", "summary": "汇总",
           "id": "义务编号", "title_col": "义务", "status": "状态", "due": "截止日期", "month": "路线图月份",
           "articles": "依据条文", "to_keep": "应留存的记录", "kept": "已留存的证明材料", "timing": "时限",
           "notes": "备注", "reason": "不适用理由", "confirm": "待确认", "records": "备案记录",
           "none": "无", "not_assessed": "未评估", "generated": "生成时间", "description": "说明",
           "translation": "", "disclaimer": DISCLAIMER_ZH, "done": "已完成", "yes": "是", "no": "否"},
}


def _check(fmt: str, lang: str) -> None:
    if fmt not in FORMATS:
        raise WorkspaceError(f"export format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    if lang not in L:
        raise WorkspaceError(f"export language must be en or zh, not '{lang}'")


def gather(ws: Workspace, keys: Iterable[str] | None = None, today: dt.date | None = None) -> dict:
    """Everything an export shows, for the given systems (default: all), in list order."""
    today = today or dt.date.today()
    rows = ws.list_systems(today=today)
    if keys is not None:
        wanted = [ws.get_system(k)["key"] for k in keys]
        rows = [r for r in rows if r["key"] in wanted]
    systems = []
    for row in rows:
        latest = ws.latest_assessment(row["key"])
        texts: dict[tuple[str, int], dict] = {}
        if latest:
            obligations = latest["result"]["obligations"]
            for f in (*obligations["applicable"], *obligations["to_confirm"]):
                for c in f.get("citations", []):
                    texts[(c["instrument"], c["article"])] = c
        systems.append({"row": row, "system": ws.get_system(row["key"]), "items": ws.checklist(row["key"], today=today),
                        "records": ws.records(row["key"]), "texts": texts, "assessment": latest})
    return {"generated": today.isoformat(), "systems": systems}


def _risk(level: str | None, lang: str) -> str:
    if not level:
        return L[lang]["not_assessed"]
    return f"{LEVEL_ZH[level]}（{level}）" if lang == "zh" else level


def _status(item: dict, lang: str) -> str:
    text = (STATUS_ZH if lang == "zh" else STATUS_EN)[item["status"]]
    if item["finding"] == "confirm":
        text += f" ({L[lang]['confirm']})" if lang == "en" else f"（{L[lang]['confirm']}）"
    return text


def _labels(item: dict, lang: str) -> str:
    return "; ".join(c["label_zh"] if lang == "zh" else f"{c['label_en']} ({c['label_zh']})" for c in item["citations"])


def _title(item: dict, lang: str) -> str:
    return item["title_zh"] if lang == "zh" else item["title_en"]


def _timing(item: dict, lang: str) -> str:
    return (item["timing"] or {}).get(lang, "") if item["timing"] else ""


def _to_keep(item: dict, lang: str) -> list[str]:
    return [e.get(lang, "") for e in item["checklist"]]


def _record_value(value: Any, lang: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return L[lang]["yes"] if value else L[lang]["no"]
    return str(value)


# --------------------------------------------------------------------------- Markdown


def _md_escape(text: str) -> str:
    return re.sub(r"([|\\`*_<>\[\]])", r"\\\1", str(text)).replace("\n", " ")


def markdown(data: dict, lang: str = "en") -> str:
    T = L[lang]
    out = [f"# {T['title']}", "", f"{T['generated']}: {data['generated']}", "", f"_{T['disclaimer']}_", "",
           f"## {T['summary']}", "",
           f"| {T['system']} | {T['risk']} | {T['obligations']} | {T['progress']} | {T['overdue']} | {T['next_review']} |",
           "|---|---|---:|---:|---:|---|"]
    for s in data["systems"]:
        r = s["row"]
        out.append(f"| {_md_escape(r['name'])} (`{r['key']}`) | {_risk(r['risk_level'], lang)} | {r['obligations']} | "
                   f"{round(r['progress'] * 100)}% | {r['overdue']} | {r['next_review']} |")
    for s in data["systems"]:
        out += [""] + _md_system(s, lang)
    return "\n".join(out).rstrip() + "\n"


def _md_system(s: dict, lang: str) -> list[str]:
    T, sys, r, a = L[lang], s["system"], s["row"], s["assessment"]
    out = [f"## {_md_escape(sys['name'])} (`{sys['key']}`)", ""]
    meta = [f"{T['risk']}: **{_risk(r['risk_level'], lang)}**", f"{T['owner']}: {_md_escape(sys['owner'] or '-')}",
            f"{T['profile']}: v{sys['profile_version']}", f"{T['next_review']}: {r['next_review']}"]
    if a:
        meta += [f"{T['assessed']}: {a['as_of']}", f"{T['corpus']}: `{a['corpus_version']}`"]
    out += [" · ".join(meta), ""]
    if sys["description"]:
        out += [f"{T['description']}: {_md_escape(sys['description'])}", ""]
    for item in s["items"]:
        flag = f" **⚠ {T['overdue']}**" if item["overdue"] else ""
        out += [f"### {_md_escape(_title(item, lang))} (`{item['obligation']}`)", "",
                f"- {T['status']}: {_status(item, lang)}{flag}",
                f"- {T['owner']}: {_md_escape(item['owner'] or '-')} · {T['due']}: {item['due'] or '-'} · {T['month']}: {item['month']}"]
        if item["na_reason"]:
            out.append(f"- {T['reason']}: {_md_escape(item['na_reason'])}")
        if _timing(item, lang):
            out.append(f"- {T['timing']}: {_md_escape(_timing(item, lang))}")
        out.append(f"- {T['to_keep']}: " + "; ".join(_md_escape(e) for e in _to_keep(item, lang)))
        out.append(f"- {T['kept']}: " + ("; ".join(_md_escape(e) for e in item["evidence"]) or T["none"]))
        if item["notes"]:
            out.append(f"- {T['notes']}: {_md_escape(item['notes'])}")
        out += ["", f"{T['articles']}:", ""]
        for c in item["citations"]:
            text = s["texts"].get((c["instrument"], c["article"]))
            out.append(f"**{c['label_zh']}**" + ("" if lang == "zh" else f" ({c['label_en']})"))
            if text:
                out += [""] + [f"> {line}" for line in text["text_zh"].splitlines() if line.strip()]
                if lang == "en":
                    out += ["", f"_{T['translation']}:_", ""] + [f"> {line}" for line in text["text_en"].splitlines() if line.strip()]
            out.append("")
    for kind, rows in s["records"].items():
        rk = KINDS[kind]
        out += [f"### {T['records']}: {rk.title_zh if lang == 'zh' else rk.title_en}", "",
                "| " + " | ".join(rk.label(f, lang) for f in rk.fields) + " |",
                "|" + "---|" * len(rk.fields)]
        out += ["| " + " | ".join(_md_escape(_record_value(row.get(f), lang)) for f in rk.fields) + " |" for row in rows]
        out.append("")
    return out


# --------------------------------------------------------------------------- Excel


def _sheet_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\']", " ", name).strip()[:31] or "system"
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def xlsx(data: dict, lang: str = "en") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    T = L[lang]
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    red = PatternFill("solid", fgColor="F8D0D0")
    wb = Workbook()
    summary = wb.active
    summary.title = T["summary"]
    summary.append([T["title"], f"{T['generated']}: {data['generated']}"])
    summary.append([T["disclaimer"]])
    summary.append([])
    head = [T["system"], T["key"], T["risk"], T["obligations"], *(STATUS_ZH if lang == "zh" else STATUS_EN).values(),
            T["progress"], T["overdue"], T["next_review"], T["assessed"]]
    summary.append(head)
    for cell in summary[4]:
        cell.font = bold
    for s in data["systems"]:
        r = s["row"]
        summary.append([r["name"], r["key"], _risk(r["risk_level"], lang), r["obligations"],
                        *(r["by_status"][k] for k in STATUS_EN), r["progress"], r["overdue"], r["next_review"],
                        r["assessed_as_of"] or ""])
        summary.cell(summary.max_row, 5 + len(STATUS_EN)).number_format = "0%"
    for col, width in zip("ABCDEFGHIJKL", (28, 22, 14, 10, 10, 10, 10, 12, 10, 10, 12, 14)):
        summary.column_dimensions[col].width = width
    taken = {summary.title.lower()}
    for s in data["systems"]:
        sys, r, a = s["system"], s["row"], s["assessment"]
        ws = wb.create_sheet(_sheet_name(sys["name"], taken))
        ws.append([sys["name"], sys["key"]])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append([T["risk"], _risk(r["risk_level"], lang), T["owner"], sys["owner"] or "", T["next_review"], r["next_review"]])
        ws.append([T["assessed"], a["as_of"] if a else T["not_assessed"], T["corpus"], a["corpus_version"] if a else "",
                   T["profile"], f"v{sys['profile_version']}"])
        ws.append([])
        cols = [T["id"], T["title_col"], T["status"], T["owner"], T["due"], T["month"], T["articles"], T["to_keep"],
                T["kept"], T["timing"], T["notes"], T["reason"]]
        ws.append(cols)
        for cell in ws[ws.max_row]:
            cell.font = bold
        for item in s["items"]:
            ws.append([item["obligation"], _title(item, lang), _status(item, lang), item["owner"] or "",
                       dt.date.fromisoformat(item["due"]) if item["due"] else None, item["month"], _labels(item, lang),
                       "\n".join(_to_keep(item, lang)), "\n".join(item["evidence"]), _timing(item, lang), item["notes"],
                       item["na_reason"] or ""])
            row = ws[ws.max_row]
            for cell in row:
                cell.alignment = wrap
            row[4].number_format = "yyyy-mm-dd"
            if item["overdue"]:
                row[4].fill = red
                row[2].fill = red
        for kind, rows in s["records"].items():
            rk = KINDS[kind]
            ws.append([])
            ws.append([f"{T['records']}: {rk.title_zh if lang == 'zh' else rk.title_en}"])
            ws[ws.max_row][0].font = bold
            ws.append([rk.label(f, lang) for f in rk.fields])
            for cell in ws[ws.max_row]:
                cell.font = bold
            for rec in rows:
                ws.append([_record_value(rec.get(f), lang) for f in rk.fields])
        for col, width in zip("ABCDEFGHIJKL", (30, 40, 16, 14, 12, 8, 45, 45, 30, 30, 30, 30)):
            ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- Word


def docx(data: dict, lang: str = "en") -> bytes:
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    T = L[lang]
    doc = Document()
    style = doc.styles["Normal"]
    style.font.size = Pt(10.5)
    style.font.name = "Calibri"  # creates rPr/rFonts
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "SimSun")  # Chinese text in a Chinese font
    doc.add_heading(T["title"], 0)
    doc.add_paragraph(f"{T['generated']}: {data['generated']}")
    doc.add_paragraph(T["disclaimer"]).runs[0].italic = True
    doc.add_heading(T["summary"], 1)
    table = doc.add_table(rows=1, cols=6)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, (T["system"], T["risk"], T["obligations"], T["progress"], T["overdue"], T["next_review"])):
        cell.text = text
    for s in data["systems"]:
        r = s["row"]
        cells = table.add_row().cells
        for cell, text in zip(cells, (f"{r['name']} ({r['key']})", _risk(r["risk_level"], lang), str(r["obligations"]),
                                      f"{round(r['progress'] * 100)}%", str(r["overdue"]), r["next_review"])):
            cell.text = text
    for s in data["systems"]:
        sys, r, a = s["system"], s["row"], s["assessment"]
        doc.add_page_break()
        doc.add_heading(f"{sys['name']} ({sys['key']})", 1)
        meta = [f"{T['risk']}: {_risk(r['risk_level'], lang)}", f"{T['owner']}: {sys['owner'] or '-'}",
                f"{T['profile']}: v{sys['profile_version']}", f"{T['next_review']}: {r['next_review']}"]
        if a:
            meta += [f"{T['assessed']}: {a['as_of']}", f"{T['corpus']}: {a['corpus_version']}"]
        doc.add_paragraph(" · ".join(meta))
        if sys["description"]:
            doc.add_paragraph(f"{T['description']}: {sys['description']}")
        for item in s["items"]:
            doc.add_heading(f"{_title(item, lang)} ({item['obligation']})", 2)
            lines = [(T["status"], _status(item, lang)), (T["owner"], item["owner"] or "-"), (T["due"], item["due"] or "-"),
                     (T["month"], str(item["month"]))]
            if item["na_reason"]:
                lines.append((T["reason"], item["na_reason"]))
            if _timing(item, lang):
                lines.append((T["timing"], _timing(item, lang)))
            lines += [(T["to_keep"], "; ".join(_to_keep(item, lang))), (T["kept"], "; ".join(item["evidence"]) or T["none"])]
            if item["notes"]:
                lines.append((T["notes"], item["notes"]))
            for label, value in lines:
                p = doc.add_paragraph(style="List Bullet")
                p.add_run(f"{label}: ").bold = True
                run = p.add_run(value)
                if label == T["due"] and item["overdue"]:
                    run.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
                    p.add_run(f" ({T['overdue']})").font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
            doc.add_paragraph().add_run(f"{T['articles']}:").bold = True
            for c in item["citations"]:
                doc.add_paragraph().add_run(c["label_zh"] + ("" if lang == "zh" else f" ({c['label_en']})")).bold = True
                text = s["texts"].get((c["instrument"], c["article"]))
                if text:
                    doc.add_paragraph(text["text_zh"], style="Quote")
                    if lang == "en":
                        doc.add_paragraph(f"{T['translation']}: {text['text_en']}", style="Quote")
        for kind, rows in s["records"].items():
            rk = KINDS[kind]
            doc.add_heading(f"{T['records']}: {rk.title_zh if lang == 'zh' else rk.title_en}", 2)
            t = doc.add_table(rows=1, cols=len(rk.fields))
            t.style = "Table Grid"
            for cell, f in zip(t.rows[0].cells, rk.fields):
                cell.text = rk.label(f, lang)
            for rec in rows:
                for cell, f in zip(t.add_row().cells, rk.fields):
                    cell.text = _record_value(rec.get(f), lang)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def export(ws: Workspace, fmt: str, lang: str = "en", keys: Iterable[str] | None = None,
           today: dt.date | None = None) -> bytes:
    """The workspace (or the systems in `keys`) as md, xlsx or docx bytes."""
    _check(fmt, lang)
    data = gather(ws, keys, today)
    if fmt == "md":
        return markdown(data, lang).encode("utf-8")
    return xlsx(data, lang) if fmt == "xlsx" else docx(data, lang)


def filename(fmt: str, lang: str, key: str | None = None, today: dt.date | None = None) -> str:
    return f"{key or 'workspace'}-{(today or dt.date.today()).isoformat()}-{lang}.{fmt}"
