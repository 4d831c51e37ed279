"""A company's own documents: indexed beside the corpus, returned as their own kind, shown apart
from the law in answers and never cited as law."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from advisor import Advisor
from advisor.errors import AdvisorError
from conftest import ADVISOR, cli_env, make_settings
from ingest.documents import KIND, chunk_documents, read_document
from support.fake_openai import FakeOpenAI

MINI = Path(__file__).parent / "fixtures" / "mini"
POLICY = "本公司生成式人工智能使用政策：员工不得将客户个人信息输入外部大模型服务。所有对外发布的生成图片必须经合规部审核。"


def _pdf(text: str) -> bytes:
    """A one-page PDF showing `text` (ASCII) in Helvetica, built by hand."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _docx(path: Path, title: str, paragraphs: list[str]) -> None:
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(path))


@pytest.fixture
def folder(tmp_path) -> Path:
    docs = tmp_path / "policies"
    docs.mkdir()
    (docs / "ai-policy.md").write_text(f"# 人工智能使用政策\n\n{POLICY}\n\n- 违反本政策的，由人力资源部处理。\n", encoding="utf-8")
    _docx(docs / "vendor-contract.docx", "Vendor data clause", ["The vendor shall delete all customer personal data within 30 days."])
    (docs / "retention.pdf").write_bytes(_pdf("Chat logs are kept for 180 days and then deleted."))
    (docs / "notes.txt").write_text("Internal note: the chatbot launches in March.\n", encoding="utf-8")
    (docs / "image.png").write_bytes(b"\x89PNG not a document")
    return docs


@pytest.fixture
def corpus(tmp_path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(MINI, target)
    return target


def test_markdown_docx_pdf_and_text_are_read_as_plain_text(folder):
    md = read_document(folder, folder / "ai-policy.md")
    assert md.title == "人工智能使用政策" and POLICY in md.text and "#" not in md.text and "违反本政策的" in md.text
    assert "delete all customer personal data" in read_document(folder, folder / "vendor-contract.docx").text
    assert read_document(folder, folder / "vendor-contract.docx").title == "Vendor data clause"
    assert "kept for 180 days" in read_document(folder, folder / "retention.pdf").text
    assert read_document(folder, folder / "notes.txt").text == "Internal note: the chatbot launches in March."


def test_document_chunks_are_of_their_own_kind_and_never_an_instrument(folder):
    chunks = chunk_documents([folder], 600)
    assert {c.payload["document"] for c in chunks} == {"ai-policy.md", "vendor-contract.docx", "retention.pdf", "notes.txt"}
    assert all(c.payload["kind"] == KIND and c.instrument_id.startswith("doc-") and c.payload["is_draft"] == 0 for c in chunks)


def test_a_damaged_document_is_a_one_line_error_naming_it_and_the_index_is_kept(folder, corpus, tmp_path):
    env = cli_env(tmp_path / "data", corpus)
    assert subprocess.run([ADVISOR, "ingest", "--extra", str(folder)], env=env, capture_output=True).returncode == 0
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    result = subprocess.run([ADVISOR, "ingest"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "broken.pdf" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    with Advisor(make_settings(tmp_path / "data", corpus)) as advisor:
        assert advisor.store.count() > 7 and advisor.store.read_marker() is not None  # nothing was lost


def test_cli_ingest_extra_then_answers_show_documents_apart_from_the_law(folder, corpus, tmp_path):
    env = cli_env(tmp_path / "data", corpus)
    first = subprocess.run([ADVISOR, "ingest", "--extra", str(folder)], env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0 and "from your documents" in first.stdout, first.stderr
    hits = json.loads(subprocess.run([ADVISOR, "retrieve", "员工能否把客户个人信息输入外部大模型？", "--json"], env=env,
                                     capture_output=True, text=True, timeout=300).stdout)
    own = [h for h in hits if h["kind"] == KIND]
    assert own and own[0]["regulation"] == "人工智能使用政策" and own[0]["status"] == "company"
    assert any(h["kind"] == "law" for h in hits)
    answer = json.loads(subprocess.run([ADVISOR, "ask", "员工能否把客户个人信息输入外部大模型？", "--lang", "zh", "--json"], env=env,
                                       capture_output=True, text=True, timeout=300).stdout)
    assert answer["documents"] and answer["documents"][0]["title"] == "人工智能使用政策"
    assert "贵司内部文件（非法规）" in answer["answer"]
    law, _, documents = answer["answer"].partition("贵司内部文件（非法规）")
    assert "人工智能使用政策" not in law and "人工智能使用政策" in documents  # listed after the law, not among it
    assert answer["citations"] and all(not c["instrument_id"].startswith("doc-") for c in answer["citations"])


def test_document_folders_are_kept_by_later_ingests_until_forgotten(folder, corpus, tmp_path):
    env = cli_env(tmp_path / "data", corpus)
    subprocess.run([ADVISOR, "ingest", "--extra", str(folder)], env=env, check=True, capture_output=True)
    again = subprocess.run([ADVISOR, "ingest"], env=env, capture_output=True, text=True, check=True)
    assert "from your documents" in again.stdout and "(0 embedded, 0 metadata updates, 0 deleted)" in again.stdout
    forgotten = subprocess.run([ADVISOR, "ingest", "--forget-extra"], env=env, capture_output=True, text=True, check=True)
    assert "from your documents" not in forgotten.stdout and "0 embedded" in forgotten.stdout and " 0 deleted" not in forgotten.stdout


def test_an_edited_document_makes_the_index_stale_until_ingested(folder, corpus, tmp_path):
    settings = make_settings(tmp_path / "data", corpus, documents_dirs=[folder])
    with Advisor(settings) as advisor:
        report = advisor.ingest()
        assert report.documents >= 4 and advisor.index_state().state == "complete"
    (folder / "notes.txt").write_text("Internal note: the chatbot launches in April.\n", encoding="utf-8")
    with Advisor(settings) as advisor:
        state = advisor.index_state()
        assert state.state == "stale" and "company documents" in state.message
        report = advisor.ingest()
        assert (report.embedded, report.deleted) == (1, 1) and advisor.index_state().state == "complete"


def test_the_documents_folder_in_the_data_dir_is_always_read(folder, corpus, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(folder, data / "documents")
    with Advisor(make_settings(data, corpus)) as advisor:
        assert advisor.ingest().documents >= 4


def test_a_missing_extra_folder_is_a_clear_error(corpus, tmp_path):
    with Advisor(make_settings(tmp_path / "data", corpus)) as advisor:
        with pytest.raises(AdvisorError, match="does not exist"):
            advisor.ingest(extra=[tmp_path / "nowhere"])


def test_a_model_citing_a_company_document_as_law_has_that_citation_removed(folder, corpus, tmp_path):
    from advisor.compose.citations import citation_tag

    with Advisor(make_settings(tmp_path / "data", corpus, documents_dirs=[folder])) as advisor:
        advisor.ingest()
        question = "员工能否把客户个人信息输入外部大模型？"
        _, _, law, documents = advisor._sources(question, None, None, "zh", None, None, None)
        assert documents and all(h.is_law for h in law)
        doc_tag = f"[{documents[0].instrument_id} art. {documents[0].article}]"
        reply = f"员工不得输入客户个人信息{doc_tag}。个人信息受法律保护{citation_tag(law[0])}。"
        with FakeOpenAI([("ok", reply)]) as server:
            advisor.settings.provider, advisor.settings.base_url, advisor.settings.model = "vllm", server.url, "fake"
            advisor._models.clear()
            answer = advisor.ask(question, lang="zh")
    assert answer.documents and not any(c.instrument_id.startswith("doc-") for c in answer.citations)
    assert doc_tag not in answer.text and any(documents[0].instrument_id in w for w in answer.warnings)


def test_document_folders_missing_here_are_trusted_not_rebuilt(folder, corpus, tmp_path):
    # a Qdrant server shared by several machines: the folders of the machine that ingested are not here
    settings = make_settings(tmp_path / "data", corpus, store="local")
    with Advisor(settings) as advisor:
        advisor.ingest(extra=[folder])
    shutil.rmtree(folder)
    with Advisor(settings) as advisor:
        assert advisor.index_state().state == "complete"
        assert any(h.kind == KIND for h in advisor.retrieve("员工能否把客户个人信息输入外部大模型？", k=10))
