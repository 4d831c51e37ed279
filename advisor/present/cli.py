"""`advisor` command line: a thin shell over Advisor."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from advisor.corpus.schema import article_list
from advisor.errors import AdvisorError
from advisor.present.cli_assess import assess_command
from advisor.present.cli_common import _date, _print_json, err, friendly, out
from advisor.present.cli_eval import eval_command
from advisor.present.cli_workspace import audit_app, systems_app, track_app, watch_app
from advisor.settings import load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="China AI compliance advisor: cited answers from China's AI and data rules.")
corpus_app = typer.Typer(no_args_is_help=True, help="Inspect and validate the regulation corpus.")
app.add_typer(corpus_app, name="corpus")
app.add_typer(systems_app, name="systems")
app.add_typer(track_app, name="track")
app.add_typer(audit_app, name="audit")
app.add_typer(watch_app, name="watch")

def _advisor(provider: str | None = None):
    """The Advisor of a command; `--provider` makes that preset the configured one for this run (with only its
    own URL, model and key variable unless it is the configured provider already)."""
    from advisor.present.advisor import Advisor
    from advisor.providers.llms import settings_for

    settings = load_settings()
    return Advisor(settings_for(settings, provider) if provider else settings)


AsOf = Annotated[Optional[str], typer.Option("--as-of", help="Date (YYYY-MM-DD) whose rules apply; default today.")]
K = Annotated[Optional[int], typer.Option("--k", "-k", help="How many articles to retrieve.")]
Instruments = Annotated[Optional[list[str]], typer.Option("--instrument", "-i", help="Restrict to instrument id(s); repeatable.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
@friendly
def ingest(
    extra: Annotated[Optional[list[Path]], typer.Option(
        "--extra", help="A folder of your own documents (.md .txt .docx .pdf) to index beside the corpus, never as law; "
                        "repeatable; kept for later ingests.")] = None,
    forget_extra: Annotated[bool, typer.Option("--forget-extra", help="Drop the document folders of earlier ingests.")] = False,
) -> None:
    """Chunk, embed and index the corpus (incremental: unchanged articles are kept)."""
    with _advisor() as advisor:
        report = advisor.ingest(console=err, extra=extra or [], forget_extra=forget_extra)
    out.print(f"ingested: {report.summary()}", markup=False, highlight=False)


@app.command()
@friendly
def retrieve(
    question: str,
    k: K = None,
    as_of: AsOf = None,
    instrument: Instruments = None,
    status: Annotated[Optional[list[str]], typer.Option(help="Restrict to status(es): in_force, superseded, draft ...")] = None,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Do not filter by date.")] = False,
    drafts: Annotated[bool, typer.Option("--drafts", help="Include drafts (never law).")] = False,
    mode: Annotated[str, typer.Option(help="hybrid | dense | sparse")] = "hybrid",
    as_json: AsJson = False,
) -> None:
    """The articles that best answer QUESTION."""
    if mode not in ("hybrid", "dense", "sparse"):
        raise AdvisorError(f"--mode must be hybrid, dense or sparse, not '{mode}'")
    with _advisor() as advisor:
        hits = advisor.retrieve(question, k, as_of=_date(as_of), instruments=instrument, status=status,
                                include_drafts=drafts, all_versions=all_versions, mode=mode)  # type: ignore[arg-type]
    if as_json:
        _print_json([h.to_dict() for h in hits])
        return
    for n, h in enumerate(hits, start=1):
        out.print(f"[bold]{n}. {escape(h.label)}[/bold]  ({escape(h.short_en)}, {escape(h.article_en)})  score {h.score:.3f}", highlight=False)
        out.print(h.text_zh, markup=False, highlight=False)
        out.print(f"[dim]{escape(h.text_en)}[/dim]\n", highlight=False)


def _variables(pairs: Optional[list[str]]) -> dict[str, str]:
    values = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise AdvisorError(f"--var must look like key=value, not '{pair}'")
        key, value = pair.split("=", 1)
        values[key.strip()] = value
    return values


@app.command()
@friendly
def ask(
    question: Annotated[Optional[str], typer.Argument(help="A free question (or use --template).")] = None,
    template: Annotated[Optional[str], typer.Option("--template", "-t", help="A prompt template: see `advisor templates`.")] = None,
    var: Annotated[Optional[list[str]], typer.Option("--var", help="A template variable as key=value; repeatable.")] = None,
    k: K = None,
    lang: Annotated[str, typer.Option(help="Answer language: en or zh.")] = "en",
    as_of: AsOf = None,
    instrument: Instruments = None,
    provider: Annotated[Optional[str], typer.Option(help="Model provider (default from settings): see `advisor providers`.")] = None,
    profile: Annotated[Optional[Path], typer.Option("--profile", help="Business profile (YAML/JSON): the risk_level and roadmap templates are then built on `advisor assess`.")] = None,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it is written (checked line by line).")] = False,
    as_json: AsJson = False,
) -> None:
    """Answer QUESTION (or a template) with verbatim, cited articles."""
    if template is None and question is None:
        raise AdvisorError("give a QUESTION or --template NAME (see `advisor templates`)")
    with _advisor(provider) as advisor:
        options = dict(template=template, variables=_variables(var), lang=lang, as_of=_date(as_of), instruments=instrument,
                       profile=profile)
        if stream and not as_json:
            answer, streamed = None, ""
            for piece in advisor.ask_stream(question, k, **options):
                if isinstance(piece, str):
                    streamed += piece
                    sys.stdout.write(piece)
                    sys.stdout.flush()
                else:
                    answer = piece
            if answer is not None and not answer.text.startswith(streamed.rstrip()[:40]):
                # the streamed text was withdrawn (provider failure or an answer citing nothing)
                sys.stdout.write("\n---\n" + answer.text)
            sys.stdout.write("\n")
        else:
            answer = advisor.ask(question, k, **options)
            if as_json:
                _print_json(answer.to_dict())
                return
            out.print(answer.text, markup=False, highlight=False)
    if answer is not None and answer.citations and (stream or not as_json) and answer.provider != "offline":
        out.print("\n[bold]Citations[/bold]", highlight=False)
        for c in answer.citations:
            out.print(f"- {c.label}: 「{c.quote}」", markup=False, highlight=False)
    for w in answer.warnings if answer else []:
        err.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False)


@app.command()
@friendly
def serve(
    host: Annotated[Optional[str], typer.Option(help="Interface to listen on (default from settings: 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default 7860).")] = None,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="Only the HTTP API, without the chat app.")] = False,
) -> None:
    """Start the chat app and the HTTP API (ingests first if needed) and print the URL."""
    from advisor.present.http import serve as run_server

    with _advisor() as advisor:
        run_server(advisor, host, port, ui=not no_ui)


@app.command("templates")
@friendly
def templates_command(as_json: AsJson = False) -> None:
    """The prompt templates and their variables."""
    from advisor.compose.templates import load_templates

    templates = load_templates(load_settings().prompts_dir)
    if as_json:
        _print_json([{"name": t.name, "title": t.title, "description": t.description, "variables": t.variables} for t in templates.values()])
        return
    for t in templates.values():
        out.print(f"[bold]{escape(t.name)}[/bold]: {escape(t.description)}", highlight=False)
        for name, help_text in t.variables.items():
            out.print(f"    --var {name}=...   {help_text}", markup=False, highlight=False)


@app.command("providers")
@friendly
def providers_command(as_json: AsJson = False) -> None:
    """Model providers, their defaults, and whether their API key is set."""
    from advisor.providers.llms import describe_providers

    rows = describe_providers(load_settings())
    if as_json:
        _print_json(rows)
        return
    table = Table("provider", "default model", "base URL", "key variable", "ready")
    for r in rows:
        table.add_row(r["name"], r["model"] or "-", r["base_url"] or "-", r["key_env"] or "-", "yes" if r["configured"] else "no key")
    out.print(table)


@corpus_app.command("check")
@friendly
def corpus_check() -> None:
    """Validate every corpus file; each problem names its file and article."""
    from advisor.corpus import check_corpus

    settings = load_settings()
    corpus, problems = check_corpus(settings.corpus_dir)
    for p in problems:
        err.print(f"[red]✗[/red] {escape(str(p))}", highlight=False)
    articles = sum(len(i.articles) for i in corpus)
    if problems:
        err.print(f"{len(problems)} problem(s) in {settings.corpus_dir}")
        raise typer.Exit(1)
    out.print(f"corpus OK: {len(corpus)} instruments, {articles} articles ({settings.corpus_dir})", highlight=False)


def _iso(day) -> str | None:
    return day.isoformat() if day else None


def _instrument_rows(corpus) -> list[dict]:
    rows = []
    for inst in sorted(corpus, key=lambda i: i.id):
        rows.append({
            "id": inst.id, "title_zh": inst.title_zh, "title_en": inst.title_en, "issuers": inst.issuers,
            "document_number": inst.document_number, "promulgated": _iso(inst.promulgated), "published": _iso(inst.published),
            "effective": _iso(inst.effective), "status": inst.status.value, "valid_to": _iso(corpus.valid_to(inst)) if inst.effective else None,
            "annex_of": inst.annex_of, "coverage": inst.coverage.value, "articles": len(inst.articles),
            "held_articles": [a.number for a in inst.articles],
            "total_articles": inst.total_articles or (len(inst.articles) if inst.complete else None),
            "missing_articles": inst.missing_articles, "missing": inst.missing_summary(),
            "verification": inst.verification.status, "unverified": len(inst.verification.unverified_articles),
            "unverified_articles": inst.verification.unverified_articles,
            "metadata_verified": inst.metadata_verified, "source_url": inst.source_url,
        })
    return rows


def _details(corpus, inst) -> dict:
    """What `corpus show ID` adds to the row: the notes and the displaced articles."""
    from advisor.retrieve.hybrid import displacements

    displaced = [{"displaced_article": art.number, **d} for art in inst.articles for d in displacements(corpus, art)]
    displacing = [
        {"instrument": other.id, "article": art.number, "by_article": moved.article, "note_en": moved.note_en}
        for other in corpus for art in other.articles for moved in art.displaced_by if moved.instrument == inst.id
    ]
    return {"missing_note": inst.missing_note, "metadata_note": inst.metadata_note, "summary_en": inst.summary_en,
            "displaced_by": displaced, "displaces": displacing}


@corpus_app.command("list")
@friendly
def corpus_list(as_json: AsJson = False) -> None:
    """A table of instruments: id, title, issuers, dates, status, coverage, articles held/total, missing, unverified."""
    from advisor.corpus import load_corpus

    rows = _instrument_rows(load_corpus(load_settings().corpus_dir))
    if as_json:
        _print_json(rows)
        return
    table = Table("id", "title", "issuers", "issued", "effective", "status", "coverage", "articles", "missing",
                  "unverified", "metadata")
    for column in table.columns:
        column.overflow = "fold"
    table.columns[0].no_wrap = True
    for r in rows:
        issuers = ("、".join(r["issuers"]) if len(r["issuers"]) <= 3 else f"{r['issuers'][0]} +{len(r['issuers']) - 1}") or "-"
        issued = r["promulgated"] or (f"{r['published']} (published)" if r["published"] else "-")
        held = f"{r['articles']}/{r['total_articles'] or '?'}" if r["articles"] else "-"
        missing = [article_list(r["missing_articles"])] if r["missing_articles"] else []
        if r["coverage"] == "fragments" and r["total_articles"] is None:
            missing.append(f"{max(r['held_articles']) + 1} on (total unknown)")
        table.add_row(r["id"], r["title_zh"], issuers, issued, r["effective"] or "-", r["status"], r["coverage"],
                      held, "; ".join(missing) or "-", str(r["unverified"]), "checked" if r["metadata_verified"] else "reported")
    Console(width=max(out.width, 200) if not out.is_terminal else None).print(table)


@corpus_app.command("show")
@friendly
def corpus_show(instrument_id: str, article: Annotated[Optional[int], typer.Argument()] = None, as_json: AsJson = False) -> None:
    """Print an instrument's metadata, or one article in both languages."""
    from advisor.corpus import load_corpus

    corpus = load_corpus(load_settings().corpus_dir)
    inst = corpus.get(instrument_id)
    if inst is None:
        raise AdvisorError(f"unknown instrument '{instrument_id}'; see `advisor corpus list`")
    if article is None:
        data = {**next(r for r in _instrument_rows(corpus) if r["id"] == inst.id), **_details(corpus, inst)}
        if as_json:
            _print_json(data)
            return
        for key, value in data.items():
            if key in ("displaced_by", "displaces") or value in (None, [], ""):
                continue
            out.print(f"[bold]{key}[/bold]: {escape(str(value))}", highlight=False)
        for d in data["displaced_by"]:
            out.print(f"[bold]displaced[/bold]: " + escape(f"Art. {d['displaced_article']} is displaced in part by {d['label']} ({d['label_en']}): {d['note_en']}"), highlight=False)
        for d in data["displaces"]:
            out.print(f"[bold]displaces[/bold]: " + escape(f"{d['instrument']} Art. {d['article']} in part, by Art. {d['by_article']}: {d['note_en']}"), highlight=False)
        return
    art = inst.article(article)
    if art is None:
        if article in inst.missing_articles or (not inst.complete and inst.total_articles is None and article > 0):
            raise AdvisorError(f"{inst.id} article {article} is not in the corpus: {inst.missing_note}")
        raise AdvisorError(f"{inst.id} has no article {article} (it has {len(inst.articles)})")
    if as_json:
        _print_json({"instrument_id": inst.id, "regulation": inst.title_zh, **art.model_dump(mode="json")})
        return
    out.print(f"[bold]{escape(f'《{inst.title_zh}》{art.heading_zh}')}[/bold]  {escape(f'{inst.short_en}, {art.name_en}')}", highlight=False)
    if art.chapter:
        out.print(f"[dim]{escape(art.chapter or '')}{' ' + escape(art.section) if art.section else ''} / {escape(art.chapter_en or '')}[/dim]", highlight=False)
    out.print(art.zh + "\n", markup=False, highlight=False)
    out.print(art.en, markup=False, highlight=False)
    from advisor.retrieve.hybrid import displacements

    for d in displacements(corpus, art):
        out.print("[yellow]" + escape(f"displaced in part by {d['label']} ({d['label_en']}): {d['note_en']}") + "[/yellow]", highlight=False)
    if art.number in inst.verification.unverified_articles:
        out.print("[yellow]text assembled from public copies, not yet verified against a second copy[/yellow]", highlight=False)
    out.print(f"[dim]{escape(inst.translation)}[/dim]", highlight=False)


app.command("eval")(eval_command)
app.command("assess")(assess_command)


def main() -> None:  # console script entry point
    app()


if __name__ == "__main__":
    main()
