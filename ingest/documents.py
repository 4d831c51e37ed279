"""A company's own documents (internal policies, sector rules, contracts), indexed beside the corpus.

Markdown and plain text (markdown-it-py strips the markup), Word .docx (python-docx) and PDF
(pypdf) files in the given folders are read, split by paragraph and stored as chunks of their own
kind (``kind = "company_document"``): retrieval returns them as such, answers list them apart from
the law, and they are never cited as law.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from advisor.errors import AdvisorError
from ingest.chunk import Chunk, split_lines

KIND = "company_document"
STATUS = "company"
SUFFIXES = (".md", ".markdown", ".txt", ".docx", ".pdf")
PARSER_VERSION = "docs-v1"  # bump when the text extraction changes: every document chunk is re-made


class DocumentError(AdvisorError):
    """A company document cannot be read."""


@dataclass(frozen=True)
class Document:
    path: Path
    name: str  # path inside its folder, shown to users
    title: str
    text: str


@dataclass(frozen=True)
class DocumentChunk(Chunk):
    """A part of a company document: embedded and tokenised from its own title and text."""

    def dense_texts(self) -> tuple[str, str]:
        text = f"{self.payload['title_zh']}\n{self.text_zh}"
        return text, text

    def sparse_text(self) -> str:
        return f"{self.payload['title_zh']} {self.text_zh}"


def document_files(folders: list[Path]) -> list[tuple[Path, Path]]:
    """(folder, file) for every supported file under the folders, in a stable order."""
    out = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in SUFFIXES and not path.name.startswith((".", "~$")):
                out.append((folder, path))
    return out


def documents_hash(folders: list[Path]) -> str:
    """Changes when a supported file is added, removed, renamed or edited in any folder (or a folder goes)."""
    digest = hashlib.sha256(PARSER_VERSION.encode())
    for folder in folders:
        digest.update(f"\0{folder}\0{'present' if folder.is_dir() else 'missing'}".encode())
    if not folders:
        return ""
    for folder, path in document_files([f for f in folders if f.is_dir()]):
        try:
            data = path.read_bytes()
        except OSError:
            data = b"unreadable"
        digest.update(f"\0{folder}\0{path.relative_to(folder)}\0".encode())
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def _markdown_text(source: str) -> tuple[str, str | None]:
    from markdown_it import MarkdownIt

    lines, title = [], None
    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    for i, token in enumerate(tokens):
        if token.type == "inline" and token.children is not None:
            text = "".join(" " if c.type == "softbreak" else c.content for c in token.children
                           if c.type in ("text", "code_inline", "softbreak")).strip()
            if text:
                if title is None and i > 0 and tokens[i - 1].type == "heading_open":
                    title = text
                lines.append(text)
        elif token.type in ("code_block", "fence") and token.content.strip():
            lines.append(token.content.strip())
    return "\n".join(lines), title


def _docx_text(path: Path) -> tuple[str, str | None]:
    try:
        import docx
    except ImportError:
        raise DocumentError("reading .docx files needs python-docx: pip install python-docx") from None
    document = docx.Document(str(path))
    lines, title = [], None
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if text:
            if title is None and (paragraph.style is not None and (paragraph.style.name or "").startswith(("Title", "Heading"))):
                title = text
            lines.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                lines.append(" | ".join(dict.fromkeys(cells)))
    return "\n".join(lines), title


def _pdf_text(path: Path) -> tuple[str, str | None]:
    try:
        from pypdf import PdfReader
    except ImportError:
        raise DocumentError("reading PDF files needs pypdf: pip install pypdf") from None
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about a damaged file become our one error
    reader = PdfReader(str(path))
    pages = [(page.extract_text() or "").strip() for page in reader.pages]
    title = None
    if reader.metadata is not None and reader.metadata.title:
        title = str(reader.metadata.title).strip() or None
    return "\n".join(p for p in pages if p), title


def read_document(folder: Path, path: Path) -> Document:
    """The text of one file; DocumentError naming the file if it cannot be read."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".md", ".markdown"):
            text, title = _markdown_text(path.read_text(encoding="utf-8"))
        elif suffix == ".txt":
            text, title = path.read_text(encoding="utf-8"), None
        elif suffix == ".docx":
            text, title = _docx_text(path)
        else:
            text, title = _pdf_text(path)
    except DocumentError:
        raise
    except UnicodeDecodeError:
        raise DocumentError(f"cannot read the document {path}: it is not UTF-8 text") from None
    except Exception as exc:  # noqa: BLE001 - the parsers raise many kinds of errors on a damaged file
        raise DocumentError(f"cannot read the document {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return Document(path, str(path.relative_to(folder)), title or path.stem, "\n".join(line for line in lines if line))


def document_id(folder: Path, path: Path) -> str:
    """A stable id for a document: `doc-` and a hash of its folder and name (never an instrument id)."""
    return "doc-" + hashlib.sha256(f"{folder}\0{path.relative_to(folder)}".encode()).hexdigest()[:12]


def chunk_documents(folders: list[Path], max_chars: int) -> list[Chunk]:
    """Every part of every document in `folders` (an empty document gives none)."""
    chunks: list[Chunk] = []
    for folder, path in document_files(folders):
        doc = read_document(folder, path)
        if not doc.text:
            continue
        ident = document_id(folder, path)
        parts = split_lines(doc.text, doc.text, max_chars)
        for number, (text, _) in enumerate(parts, start=1):
            payload = {
                "instrument_id": ident, "kind": KIND, "status": STATUS, "title_zh": doc.title, "title_en": doc.title,
                "short_en": doc.title, "article": number, "heading_zh": f"{doc.name} §{number}", "chapter": None,
                "chapter_en": None, "section": None, "part": 1, "parts": 1, "effective": None, "valid_from": 0,
                "valid_to": 99991231, "is_draft": 0, "source_url": None, "source_path": str(path),
                "document": doc.name, "parser": PARSER_VERSION, "text_zh": text, "text_en": "",
            }
            chunks.append(DocumentChunk(ident, number, 1, 1, text, "", payload))
    return chunks
