"""The guide's prompt templates (prompts/*.toml): variables, retrieval queries and the task text."""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from advisor.errors import TemplateError, text_problem

LANGS = ("en", "zh")
# how a template is answered from the applicability engine (with a profile, or one read from its variables);
# "disclosure" is built from the labelling rules directly
BACKBONES = ("risk", "roadmap", "requirements", "architecture", "disclosure")


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    variables: dict[str, str]  # name -> what to put there
    queries: dict[str, str]  # aspect -> retrieval query with {variables}
    task: dict[str, str]  # lang -> instruction for the model with {variables}
    backbone: str | None = None  # with a profile: built on the engine's result (see compose/backbone.py)

    def check(self, values: dict[str, str], max_chars: int = 2000) -> dict[str, str]:
        """The values, stripped; TemplateError naming missing/unknown variables and listing all."""
        listing = ", ".join(self.variables)
        unknown = sorted(set(values) - set(self.variables))
        if unknown:
            raise TemplateError(f"unknown variable(s) {', '.join(unknown)} for template '{self.name}'; its variables are: {listing}")
        clean = {k: str(v).strip() for k, v in values.items()}
        malformed = sorted(k for k, v in clean.items() if v and "malformed" in (text_problem(v) or ""))
        if malformed:
            raise TemplateError(f"variable(s) {', '.join(malformed)} hold malformed text (a lone surrogate); send valid Unicode")
        clean = {k: ("" if text_problem(v) else v) for k, v in clean.items()}  # only invisible characters: missing
        missing = [k for k in self.variables if not clean.get(k)]
        if missing:
            raise TemplateError(f"template '{self.name}' is missing {', '.join(missing)}; its variables are: {listing}")
        too_long = [k for k, v in clean.items() if len(v) > max_chars]
        if too_long:
            raise TemplateError(f"variable(s) {', '.join(too_long)} longer than {max_chars} characters")
        return clean

    def render_queries(self, values: dict[str, str]) -> list[str]:
        return [q.format_map(values) for q in self.queries.values()]

    def render_task(self, values: dict[str, str], lang: str) -> str:
        return self.task[lang].format_map(values)

    def summary(self, values: dict[str, str], lang: str = "en") -> str:
        """A one-line description of the request (used as the 'question' in answers and logs)."""
        return f"{self.title}: " + "; ".join(f"{k}={v}" for k, v in values.items())


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _load(path: Path) -> Template:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        tpl = Template(
            name=raw["name"], title=raw["title"], description=raw["description"],
            variables=dict(raw["variables"]), queries=dict(raw["queries"]), task=dict(raw["task"]),
            backbone=raw.get("backbone"),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise TemplateError(f"{path.name}: not a valid template ({type(exc).__name__}: {exc})") from None
    if tpl.name != path.stem:
        raise TemplateError(f"{path.name}: name '{tpl.name}' does not match the file name")
    if tpl.backbone is not None and tpl.backbone not in BACKBONES:
        raise TemplateError(f"{path.name}: backbone must be one of {', '.join(BACKBONES)}, not '{tpl.backbone}'")
    missing_lang = [lang for lang in LANGS if lang not in tpl.task]
    if missing_lang:
        raise TemplateError(f"{path.name}: task text missing for {', '.join(missing_lang)}")
    for text in [*tpl.queries.values(), *tpl.task.values()]:
        undeclared = _fields(text) - set(tpl.variables)
        if undeclared:
            raise TemplateError(f"{path.name}: uses undeclared variable(s) {', '.join(sorted(undeclared))}")
    return tpl


@lru_cache(maxsize=8)
def load_templates(prompts_dir: Path) -> dict[str, Template]:
    """Every template in the folder, by name."""
    return {t.name: t for t in (_load(p) for p in sorted(Path(prompts_dir).glob("*.toml")))}


def get_template(prompts_dir: Path, name: str) -> Template:
    templates = load_templates(Path(prompts_dir))
    if name not in templates:
        raise TemplateError(f"unknown template '{name}'; available: {', '.join(sorted(templates))}")
    return templates[name]
