"""`advisor systems ...`, `advisor track ...`, `advisor audit ...`: the workspace from the command line.

Registered in cli.py with one ``app.add_typer`` line each. Every change is recorded with the OS user, or
``--user NAME``. An edit is based on the version shown by `advisor track list` / `advisor systems show`
(``--expect-version N``; without it, the version read just before the write): if someone changed the
row meanwhile, the command stops with a one-line error instead of overwriting their change.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from advisor.errors import AdvisorError, read_user_file
from advisor.present.cli_common import _date, _print_json, friendly
from advisor.settings import load_settings

out = Console(soft_wrap=True, markup=False)  # system names, notes and owners are people's own text: never markup

systems_app = typer.Typer(no_args_is_help=True, help="The inventory of AI systems: profiles, assessments, records, exports.")
records_app = typer.Typer(no_args_is_help=True, help="Records kept per system: model versions, training data, moderation, labelling.")
track_app = typer.Typer(no_args_is_help=True, help="The tracked checklist of a system: status, owner, due date, evidence.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit trail (append-only).")
systems_app.add_typer(records_app, name="records")

User = Annotated[Optional[str], typer.Option("--user", help="Who makes the change (default: the OS user).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AsOf = Annotated[Optional[str], typer.Option("--as-of", help="Date (YYYY-MM-DD) whose rules apply; default today.")]
Expect = Annotated[Optional[int], typer.Option("--expect-version", help="The version your edit is based on (see `track list`).")]
LEVEL_STYLE = {"low": "green", "medium": "yellow", "high": "dark_orange", "critical": "red"}


def _advisor():
    from advisor.present.advisor import Advisor

    return Advisor(load_settings())


def _user(user: Optional[str]) -> str:
    from advisor.workspace.audit import os_user, set_user

    name = (user or os_user()).strip()
    if not name:
        raise AdvisorError("--user must not be empty")
    set_user(name)
    return name


# ---- profiles from files and --set ----------------------------------------------------------------

def _load_profile_file(path: Path) -> dict:
    from advisor.compose.assess import load_profile

    return load_profile(path).model_dump(mode="json", exclude_defaults=True)


def _parse_value(path: str, raw: str) -> Any:
    """A --set value typed by the profile model's field (read from the model, never from a fixed list)."""
    from advisor.compose.assess import profile_leaves

    leaves = {p: kind for p, kind, _ in profile_leaves()}
    kind = leaves.get(path)
    if kind is None:
        raise AdvisorError(f"--set: unknown profile field '{path}' (fields: {', '.join(leaves)})")
    text = raw.strip()
    if kind.nullable and text.lower() in ("null", "none", ""):
        return None
    if kind.kind == "bool":
        if text.lower() in ("true", "yes", "1", "y"):
            return True
        if text.lower() in ("false", "no", "0", "n"):
            return False
        raise AdvisorError(f"--set {path}: expected true or false, not '{raw}'")
    if kind.kind == "int":
        try:
            return int(text.replace(",", "").replace("_", ""))
        except ValueError:
            raise AdvisorError(f"--set {path}: expected a whole number, not '{raw}'") from None
    if kind.kind == "list":
        return [v.strip() for v in text.replace("，", ",").split(",") if v.strip()]
    return raw


def apply_sets(data: dict, pairs: list[str]) -> dict:
    """`data` (a stored profile) with each `path=value` of --set applied."""
    data = json.loads(json.dumps(data))
    for pair in pairs:
        if "=" not in pair:
            raise AdvisorError(f"--set must look like field=value (e.g. features.generative_image=true), not '{pair}'")
        path, raw = pair.split("=", 1)
        path = path.strip()
        value = _parse_value(path, raw)
        *parents, leaf = path.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return data


# ---- systems --------------------------------------------------------------------------------------

@systems_app.command("add")
@friendly
def systems_add(
    name: str,
    profile: Annotated[Optional[Path], typer.Option("--profile", help="Business profile, YAML or JSON (as for `advisor assess`).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="A profile field as path=value; repeatable.")] = None,
    key: Annotated[Optional[str], typer.Option("--key", help="Short id (default: from the name).")] = None,
    description: Annotated[str, typer.Option("--description", help="What the system is.")] = "",
    owner: Annotated[Optional[str], typer.Option("--owner", help="Who is responsible for it.")] = None,
    review_months: Annotated[int, typer.Option("--review-months", help="Review it every N months.")] = 3,
    user: User = None,
    as_json: AsJson = False,
) -> None:
    """Add an AI system to the workspace with its business profile."""
    who = _user(user)
    data = _load_profile_file(profile) if profile else {}
    data = apply_sets(data, set_ or [])
    data.setdefault("name", name)
    with _advisor() as advisor:
        made = advisor.workspace.add_system(name, data, user=who, key=key, description=description, owner=owner,
                                            review_months=review_months)
    if as_json:
        _print_json(made)
        return
    out.print(f"added {made['key']} ({made['name']}), profile v1 by {who}; "
              f"next: advisor systems assess {made['key']}", highlight=False)


def _pct(value: float) -> str:
    return f"{round(value * 100)}%"


@systems_app.command("list")
@friendly
def systems_list(as_json: AsJson = False) -> None:
    """Every system with its risk level, progress, overdue items and next review."""
    with _advisor() as advisor:
        rows = advisor.workspace.list_systems()
    if as_json:
        _print_json(rows)
        return
    if not rows:
        out.print("no systems yet: advisor systems add NAME --profile FILE", highlight=False)
        return
    table = Table("key", "name", "risk", "obligations", "done", "progress", "overdue", "next review")
    for r in rows:
        level = r["risk_level"] or "-"
        table.add_row(r["key"], r["name"], f"[{LEVEL_STYLE.get(level, 'white')}]{level}[/]", str(r["obligations"]),
                      str(r["by_status"]["done"] + r["by_status"]["not_applicable"]), _pct(r["progress"]),
                      f"{r['overdue']}" if r["overdue"] else "0", r["next_review"])
    out.print(table)


def _checklist_table(items: list[dict]) -> Table:
    table = Table("obligation", "status", "owner", "due", "month", "articles", "evidence", "version")
    for i in items:
        due = i["due"] or "-"
        if i["overdue"]:
            due = f"[bold red]{due} overdue[/bold red]"
        status = i["status"] + (" (to confirm)" if i["finding"] == "confirm" else "") + ("" if i["active"] else " (no longer found)")
        table.add_row(i["obligation"], status, i["owner"] or "-", due, str(i["month"]),
                      "; ".join(c["label_en"] for c in i["citations"]), str(len(i["evidence"])), str(i["version"]))
    return table


@systems_app.command("show")
@friendly
def systems_show(system: str, as_json: AsJson = False) -> None:
    """A system: its profile, latest assessment and checklist."""
    with _advisor() as advisor:
        ws = advisor.workspace
        data = ws.get_system(system)
        items = ws.checklist(system, include_inactive=True)
        records = ws.records(system)
    if as_json:
        _print_json({**data, "checklist": items, "records": records})
        return
    a = data["assessment"]
    out.print(f"{data['name']} ({data['key']}) · version {data['version']} · owner {data['owner'] or '-'} · "
              f"profile v{data['profile_version']} · next review {data['next_review']}", highlight=False)
    if a:
        out.print(f"risk {a['risk_level']} · assessed {a['as_of']} by {a['created_by']} · "
                  f"{a['applicable']} apply, {a['to_confirm']} to confirm · corpus {a['corpus_version']}", highlight=False)
    else:
        out.print(f"not assessed yet: advisor systems assess {data['key']}", highlight=False)
    if items:
        out.print(_checklist_table(items))
    for kind, rows in records.items():
        out.print(f"{kind}: {len(rows)} record(s)", highlight=False)


@systems_app.command("profile")
@friendly
def systems_profile(
    system: str,
    profile: Annotated[Optional[Path], typer.Option("--profile", help="A new profile (YAML/JSON) replacing the current one.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Change one field, path=value; repeatable.")] = None,
    note: Annotated[str, typer.Option("--note", help="Why it changed.")] = "",
    history: Annotated[bool, typer.Option("--history", help="Show every version instead.")] = False,
    expect: Expect = None,
    user: User = None,
    as_json: AsJson = False,
) -> None:
    """Show the profile, save a new version (--profile / --set), or list its versions (--history)."""
    with _advisor() as advisor:
        ws = advisor.workspace
        if history:
            rows = ws.profile_history(system)
            if as_json:
                _print_json(rows)
                return
            for r in rows:
                out.print(f"v{r['number']} {r['created_at'][:19]} by {r['created_by']}: {r['note'] or '-'}", highlight=False)
                out.print("  " + json.dumps(r["data"], ensure_ascii=False), highlight=False)
            return
        current = ws.get_system(system)
        if profile is None and not set_:
            _print_json(current["profile"])
            return
        who = _user(user)
        data = _load_profile_file(profile) if profile else current["profile"]
        data = apply_sets(data, set_ or [])
        version = expect if expect is not None else current["version"]
        saved = ws.set_profile(system, data, expected_version=version, user=who, note=note)
    if as_json:
        _print_json(saved)
        return
    if saved["profile_version"] == current["profile_version"]:
        out.print("profile unchanged", highlight=False)
    else:
        out.print(f"saved profile v{saved['profile_version']} of {saved['key']} by {who}; "
                  f"next: advisor systems assess {saved['key']}", highlight=False)


@systems_app.command("assess")
@friendly
def systems_assess(
    system: Annotated[Optional[str], typer.Argument(help="A system key (or --all).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every system.")] = False,
    as_of: AsOf = None,
    user: User = None,
    as_json: AsJson = False,
) -> None:
    """Assess the current profile, store the result with its corpus version, and update the checklist."""
    if bool(system) == all_:
        raise AdvisorError("give one SYSTEM or --all")
    who = _user(user)
    with _advisor() as advisor:
        ws = advisor.workspace
        keys = [r["key"] for r in ws.list_systems()] if all_ else [system]
        results = [ws.assess_system(k, advisor, user=who, as_of=_date(as_of)) for k in keys]
    if as_json:
        _print_json(results)
        return
    for r in results:
        out.print(f"{r['system']}: risk {r['risk_level']}, {r['applicable']} obligations apply, "
                  f"{r['to_confirm']} to confirm (as of {r['as_of']}, corpus {r['corpus_version']}); "
                  f"checklist +{len(r['added'])} new, {len(r['no_longer_found'])} no longer found", highlight=False)


@systems_app.command("review")
@friendly
def systems_review(system: str, on: Annotated[Optional[str], typer.Option("--date", help="Review date (default today).")] = None,
                   expect: Expect = None, user: User = None) -> None:
    """Record that a system's periodic compliance review was done."""
    who = _user(user)
    with _advisor() as advisor:
        ws = advisor.workspace
        version = expect if expect is not None else ws.get_system(system)["version"]
        saved = ws.update_system(system, expected_version=version, user=who,
                                 last_reviewed=_date(on) or dt.date.today())
    out.print(f"{saved['key']} reviewed on {saved['last_reviewed']}; next review {saved['next_review']}", highlight=False)


# ---- records --------------------------------------------------------------------------------------

@records_app.command("add")
@friendly
def records_add(system: str, kind: str,
                fields: Annotated[list[str], typer.Argument(help="field=value pairs, e.g. name=Qwen2.5 provider=Alibaba")],
                user: User = None) -> None:
    """Add one record: `advisor systems records add bot model_versions name=... provider=...`."""
    who = _user(user)
    data = {}
    for pair in fields:
        if "=" not in pair:
            raise AdvisorError(f"a record field must look like field=value, not '{pair}'")
        k, v = pair.split("=", 1)
        data[k.strip()] = v
    with _advisor() as advisor:
        made = advisor.workspace.add_records(system, kind, [data], user=who)
    out.print(f"added {made[0]['kind']} record #{made[0]['id']} to {system}", highlight=False)


@records_app.command("import")
@friendly
def records_import(system: str, kind: str, file: Path, user: User = None) -> None:
    """Import records from CSV (a header line of field names) or JSON (a list of objects); all or none."""
    who = _user(user)
    fmt = "json" if file.suffix.lower() == ".json" else "csv"
    text = read_user_file(file, "records")
    with _advisor() as advisor:
        made = advisor.workspace.import_records(system, kind, text, fmt, user=who)
    out.print(f"imported {len(made)} {kind} record(s) into {system}", highlight=False)


@records_app.command("list")
@friendly
def records_list(system: str, kind: Annotated[Optional[str], typer.Argument()] = None, as_json: AsJson = False) -> None:
    """The records of a system (one kind, or all)."""
    from advisor.workspace.records import record_kind

    with _advisor() as advisor:
        data = advisor.workspace.records(system, kind)
    if as_json:
        _print_json(data)
        return
    for name, rows in data.items():
        rk = record_kind(name)
        out.print(f"{rk.title_en} · {rk.title_zh} ({len(rows)})", highlight=False)
        table = Table("#", *rk.fields, "by")
        for r in rows:
            table.add_row(str(r["id"]), *("" if r.get(f) is None else str(r.get(f)) for f in rk.fields), r["created_by"])
        out.print(table)


# ---- track ----------------------------------------------------------------------------------------

@track_app.command("list")
@friendly
def track_list(system: str, all_: Annotated[bool, typer.Option("--all", help="Include obligations no longer found.")] = False,
               as_json: AsJson = False) -> None:
    """The checklist: status, owner, due date (overdue in red), articles, evidence count, version."""
    with _advisor() as advisor:
        items = advisor.workspace.checklist(system, include_inactive=all_)
    if as_json:
        _print_json(items)
        return
    if not items:
        out.print(f"no tracked obligations: advisor systems assess {system}", highlight=False)
        return
    out.print(_checklist_table(items))


@track_app.command("set")
@friendly
def track_set(
    system: str,
    obligation: str,
    status: Annotated[Optional[str], typer.Option("--status", help="not_started | in_progress | done | not_applicable")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why it does not apply (with --status not_applicable).")] = None,
    owner: Annotated[Optional[str], typer.Option("--owner")] = None,
    due: Annotated[Optional[str], typer.Option("--due", help="Due date YYYY-MM-DD.")] = None,
    note: Annotated[Optional[str], typer.Option("--note", help="Replace the notes.")] = None,
    evidence: Annotated[Optional[list[str]], typer.Option("--evidence", help="Add an evidence reference (file name or link); repeatable.")] = None,
    expect: Expect = None,
    user: User = None,
    as_json: AsJson = False,
) -> None:
    """Update one tracked obligation."""
    who = _user(user)
    if due is not None:
        _date(due)
    with _advisor() as advisor:
        ws = advisor.workspace
        if expect is None:
            match = [i for i in ws.checklist(system, include_inactive=True) if i["obligation"] == obligation]
            expect = match[0]["version"] if match else 0
        item = ws.update_item(system, obligation, expected_version=expect, user=who, status=status, na_reason=reason,
                              owner=owner, due=due, notes=note, add_evidence=evidence)
    if as_json:
        _print_json(item)
        return
    out.print(f"{obligation}: {item['status']} · owner {item['owner'] or '-'} · due {item['due'] or '-'} · "
              f"{len(item['evidence'])} evidence reference(s) · version {item['version']} (by {who})", highlight=False)


# ---- audit ----------------------------------------------------------------------------------------

def _day(value: Optional[str], what: str) -> Optional[dt.date]:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise AdvisorError(f"{what} must be a date like 2026-12-31, not '{value}'") from None


@audit_app.command("export")
@friendly
def audit_export(
    since: Annotated[Optional[str], typer.Option("--since", help="From this date (YYYY-MM-DD), inclusive.")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Until this date, exclusive.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl | csv")] = "jsonl",
    output: Annotated[Optional[Path], typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """The audit log for a period, as JSON Lines or CSV."""
    import sys

    with _advisor() as advisor:
        text = advisor.workspace.audit.export(fmt, since=_day(since, "--since"), until=_day(until, "--until"))
    if output:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {len(text.splitlines())} line(s) to {output}", highlight=False)
    else:
        sys.stdout.write(text)


@audit_app.command("purge")
@friendly
def audit_purge() -> None:
    """Delete entries older than the retention setting (audit_retention_days); nothing else can be deleted."""
    with _advisor() as advisor:
        days = advisor.settings.audit_retention_days
        removed = advisor.workspace.audit.purge()
    out.print(f"purged {removed} entries older than {days} days" if days else
              "no retention set (audit_retention_days): nothing purged", highlight=False)


@systems_app.command("export")
@friendly
def systems_export(
    system: Annotated[Optional[str], typer.Argument(help="One system (default: the whole workspace).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md | xlsx | docx")] = "md",
    lang: Annotated[str, typer.Option("--lang", help="en | zh")] = "en",
    output: Annotated[Optional[Path], typer.Option("--out", help="File to write (default: a name in the current folder; md goes to stdout).")] = None,
) -> None:
    """Export the workspace or one system for a regulator or an auditor: every obligation with its articles."""
    import sys

    from advisor.workspace.exports import export, filename

    with _advisor() as advisor:
        data = export(advisor.workspace, fmt, lang, [system] if system else None)
    if output is None and fmt == "md":
        sys.stdout.write(data.decode("utf-8"))
        return
    target = output or Path(filename(fmt, lang, system))
    target.write_bytes(data)
    out.print(f"wrote {target} ({len(data):,} bytes)", highlight=False)


@systems_app.command("reassess")
@friendly
def systems_reassess(
    system: Annotated[Optional[str], typer.Argument(help="A system key (default: every system).")] = None,
    as_of: AsOf = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what changed; keep the stored assessment.")] = False,
    user: User = None,
    as_json: AsJson = False,
) -> None:
    """What changed since each system's last assessment (corpus, rules, date): obligations added, removed or
    changed, and the articles that caused it; then store the new assessment (unless --dry-run)."""
    import sys

    from advisor.workspace.reassess import report_text

    who = _user(user)
    with _advisor() as advisor:
        ws = advisor.workspace
        keys = [system] if system else [r["key"] for r in ws.list_systems()]
        reports = [ws.reassess(k, advisor, user=who, as_of=_date(as_of), save=not dry_run) for k in keys]
    if as_json:
        _print_json(reports)
        return
    for r in reports:
        if r.get("first"):
            sys.stdout.write(f"{r['system']}: first assessment (risk {r['new']['risk_level']})\n")
        else:
            sys.stdout.write(report_text(r["system"], r))
    if dry_run:
        sys.stdout.write("(dry run: nothing stored)\n")


# ---- watch ----------------------------------------------------------------------------------------

watch_app = typer.Typer(help="Check official sources for new or amended rules, and remind of due reviews.",
                        invoke_without_command=True)


@watch_app.callback()
@friendly
def watch(
    ctx: typer.Context,
    source: Annotated[Optional[list[str]], typer.Option("--source", help="A page or feed URL (default: the watch_sources setting); repeatable.")] = None,
    no_notify: Annotated[bool, typer.Option("--no-notify", help="Record only; send nothing.")] = False,
    no_reminders: Annotated[bool, typer.Option("--no-reminders", help="Skip the review reminders.")] = False,
    as_json: AsJson = False,
) -> None:
    """Check every source once: record items that look like new rules, notify each at most once."""
    if ctx.invoked_subcommand is not None:
        return
    from advisor.present.notifiers import build_notifiers
    from advisor.workspace.watcher import Watcher

    settings = load_settings()
    sources = source or settings.watch_sources
    if not sources and no_reminders:
        raise AdvisorError("nothing to watch: set watch_sources (ADVISOR_WATCH_SOURCES) or give --source URL")
    with _advisor() as advisor:
        watcher = Watcher(advisor.workspace, sources, settings.watch_keywords, [] if no_notify else build_notifiers(settings),
                          timeout=settings.watch_timeout)
        try:
            report = watcher.run(notify=not no_notify, reminders=not no_reminders)
        finally:
            watcher.close()
    if as_json:
        _print_json(report.to_dict())
        return
    for c in report.checked:
        if c["error"]:
            out.print(f"✗ {c['url']}: {c['error']}", highlight=False)
        else:
            out.print(f"✓ {c['url']}: {c['status'].replace('_', ' ')}, {c['items']} items, {c['recognised']} look like rules, "
                      f"{c['new']} new", highlight=False)
    for item in report.new_items:
        out.print(f"  new: {item['title']} [{'、'.join(item['keywords'])}] {item['link']}", highlight=False)
    for r in report.reminders:
        out.print(f"  review due: {r['system']} (since {r['due']})", highlight=False)
    out.print(f"notifications sent: {len(report.sent)}, failed: {len(report.failed)}", highlight=False)
    for f in report.failed:
        out.print(f"  not sent on {f['channel']}: {f['error']} (retried next run)", highlight=False)


@watch_app.command("items")
@friendly
def watch_items(limit: Annotated[int, typer.Option("--limit")] = 50, as_json: AsJson = False) -> None:
    """The recognised announcements, newest first."""
    from advisor.workspace.watcher import Watcher

    with _advisor() as advisor:
        watcher = Watcher(advisor.workspace, [], [], [])
        rows = watcher.items(limit)
        watcher.close()
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        out.print(f"{r['first_seen'][:10]} [{'、'.join(r['keywords'])}] {r['title']}  {r['link']}", highlight=False)
