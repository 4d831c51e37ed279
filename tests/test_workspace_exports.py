"""Exports opened and read back: Markdown, Excel (openpyxl) and Word (python-docx), in Chinese and English,
with every tracked obligation and every article it rests on."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from docx import Document
from openpyxl import load_workbook

from advisor.workspace import Workspace
from advisor.workspace.exports import export

DAY = dt.date(2026, 3, 2)
LATER = dt.date(2026, 6, 1)  # month-1 and month-2 items are overdue by then
CHATBOT = {"name": "客服机器人", "public_service": True, "features": {"generative_text": True},
           "personal_information": True, "pi_subjects": 20000}
IMAGES = {"name": "Marketing images", "public_service": True,
          "features": {"generative_image": True, "publishes_ai_content": True}}


@pytest.fixture(scope="module")
def ws(rules, tmp_path_factory):
    w = Workspace.open(url=f"sqlite:///{tmp_path_factory.mktemp('exports') / 'ws.db'}")
    w.add_system("客服机器人", CHATBOT, user="alice", key="cs-bot", owner="王芳", description="官网智能客服")
    w.add_system("Marketing images", IMAGES, user="alice")
    for key in ("cs-bot", "marketing-images"):
        w.assess_system(key, rules, user="alice", as_of=DAY)
    item = w.checklist("cs-bot")[0]
    w.update_item("cs-bot", item["obligation"], expected_version=item["version"], user="bob", status="done",
                  add_evidence=["安全评估报告.pdf"])
    w.add_records("cs-bot", "model_versions", [{"name": "通义千问", "provider": "阿里云", "filing_number": "网信算备110000000000001"}], user="a")
    w.add_records("marketing-images", "labelling", [{"method": "显式水印", "content_types": "image"}], user="a")
    yield w
    w.close()


def _corpus_text(rules, instrument: str, article: int) -> str:
    return rules.corpus.instruments[instrument].article(article).zh


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_markdown_lists_every_obligation_with_its_articles_quoted(ws, rules, lang):
    text = export(ws, "md", lang, today=LATER).decode("utf-8")
    for key in ("cs-bot", "marketing-images"):
        for item in ws.checklist(key):
            assert f"(`{item['obligation']}`)" in text
            for c in item["citations"]:
                assert c["label_zh"] in text
                first_line = _corpus_text(rules, c["instrument"], c["article"]).splitlines()[0]
                assert f"> {first_line}" in text  # the article itself, verbatim
    assert ("Unofficial translation" in text) == (lang == "en")
    assert ("已完成" in text) == (lang == "zh") and "安全评估报告.pdf" in text and "网信算备110000000000001" in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_excel_has_a_summary_and_one_sheet_per_system(ws, lang):
    book = load_workbook(io.BytesIO(export(ws, "xlsx", lang, today=LATER)))
    assert book.sheetnames == ["Summary" if lang == "en" else "汇总", "Marketing images", "客服机器人"]
    summary = book.worksheets[0]
    rows = list(summary.iter_rows(min_row=5, values_only=True))
    assert [r[1] for r in rows] == ["marketing-images", "cs-bot"]
    sheet = book["客服机器人"]
    header_row = next(r for r in range(1, 10) if sheet.cell(r, 1).value in ("Obligation", "义务编号"))
    table, r = {}, header_row + 1
    while sheet.cell(r, 1).value:  # the checklist runs until the blank row before the records
        table[sheet.cell(r, 1).value] = [sheet.cell(r, c).value for c in range(1, 13)]
        r += 1
    items = ws.checklist("cs-bot", today=LATER)
    assert set(table) == {i["obligation"] for i in items}
    for item in items:
        row = table[item["obligation"]]
        for c in item["citations"]:
            assert c["label_zh"] in row[6]
        assert row[4].date() == dt.date.fromisoformat(item["due"])
        overdue_fill = sheet.cell(header_row + 1 + list(table).index(item["obligation"]), 5).fill.fgColor.rgb
        assert (overdue_fill == "00F8D0D0") == item["overdue"]
    done = table[items[0]["obligation"]]
    assert done[2] in ("done", "已完成") and done[8] == "安全评估报告.pdf"
    values = [c for r in sheet.iter_rows(values_only=True) for c in r if c]
    assert "网信算备110000000000001" in values


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_word_document_has_every_obligation_and_article(ws, rules, lang):
    doc = Document(io.BytesIO(export(ws, "docx", lang, today=LATER)))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    quotes = {p.text for p in doc.paragraphs if p.style.name == "Quote"}
    bold = {r.text for p in doc.paragraphs for r in p.runs if r.bold}
    for key in ("cs-bot", "marketing-images"):
        for item in ws.checklist(key):
            title = item["title_zh"] if lang == "zh" else item["title_en"]
            assert f"{title} ({item['obligation']})" in headings
            for c in item["citations"]:
                assert any(b.startswith(c["label_zh"]) for b in bold)
                assert _corpus_text(rules, c["instrument"], c["article"]) in quotes
    assert any("客服机器人 (cs-bot)" == h for h in headings)
    cells = {c.text for t in doc.tables for row in t.rows for c in row.cells}
    assert "显式水印" in cells and "网信算备110000000000001" in cells


def test_one_system_only_and_bad_formats(ws):
    text = export(ws, "md", "en", ["cs-bot"], today=LATER).decode("utf-8")
    assert "cs-bot" in text and "marketing-images" not in text
    from advisor.workspace import WorkspaceError

    with pytest.raises(WorkspaceError, match="md, xlsx, docx"):
        export(ws, "pdf", "en")
    with pytest.raises(WorkspaceError, match="en or zh"):
        export(ws, "md", "fr")
