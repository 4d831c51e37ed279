"""The obligations the corpus imposes: schema, condition language, loader and validation.

Obligations live in ``corpus/obligations/*.yaml`` (format and condition language:
``corpus/obligations/README.md``). Each file holds ``scopes`` (when an instrument applies at all,
e.g. the Generative AI Measures' Art. 2) and ``obligations`` (what it then requires). Every rule
rests on articles of the corpus, states in ``applies_when`` the profile facts that trigger it, and
says in ``why`` how the article text justifies those conditions.

The condition language (YAML)::

    {all: [COND, ...]}                 every condition holds
    {any: [COND, ...]}                 at least one holds
    {not: COND}                        the condition does not hold
    {scope: SCOPE_ID}                  a scope (defined in any file) applies
    {always: true}                     unconditional
    {field: PATH, OP: VALUE}           a profile fact; exactly one OP:
        eq, ne                         equal / not equal (bool, int, str, or null for optional fields)
        gt, gte, lt, lte               numeric comparisons (false when an optional number is null)
        in                             the fact is one of a list of values
        contains                       a list fact includes the value
        contains_any                   a list fact includes at least one of a list of values

PATH names a profile field (``users``, ``features.generative_text``, ``cross_border.subjects``) or a
derived fact (``features.generative``); the list of valid paths is given by the caller (the profile
model in ``advisor.compose.assess``), so a misspelt field is a load error naming file and rule.

Loading checks: the schema (unknown fields are errors), unique ids, that every cited instrument and
article exists and is law (not a draft, not a summary-only entry), that an obligation citing an article
the corpus marks unverified carries a ``caveat``, that ``depends_on`` and ``scope`` references exist,
and that neither dependencies nor scopes form a cycle. Every problem names its file and rule id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from advisor.corpus.load import Corpus
from advisor.corpus.schema import ID_PATTERN, Kind, Status, Strict
from advisor.errors import CorpusError

Role = Literal[
    "provider",               # offers the (AI, recommendation, deep synthesis ...) service
    "technical_supporter",    # supplies the technology to such providers (e.g. by API)
    "deployer",               # uses AI inside its own business
    "content_publisher",      # publishes AI-generated content (a deep synthesis "user")
    "platform",               # network platform service provider hosting third parties
    "app_store",              # application distribution platform
    "pi_handler",             # personal information handler (PIPL)
    "overseas_pi_handler",    # handler outside mainland China covered by PIPL Art. 3(2)
    "pi_processor",           # entrusted processor of personal information (受托人, PIPL Arts. 21, 59)
    "network_operator",       # network owner, manager or service provider (CSL)
    "data_handler",           # anyone processing data (DSL)
    "network_data_handler",   # network data handler (Network Data Regulations)
    "important_data_handler",
    "cii_operator",
    "listing_applicant",      # a network platform operator applying to list in a foreign country (or Hong Kong)
    "minors_service_provider",
]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]

Stage = Literal["prepare", "assess", "build", "file", "operate", "review"]
STAGES: tuple[str, ...] = Stage.__args__  # type: ignore[attr-defined]

# how answers group obligations (the compliance guide's headings)
Topic = Literal["disclosure_labelling", "filing_assessment", "localisation_cross_border", "personal_information",
                "content_safety", "security_incidents", "minors", "platform", "corporate"]
TOPICS: tuple[str, ...] = Topic.__args__  # type: ignore[attr-defined]

# what a duty must precede: the service going live (or within days of it), any processing of personal
# information, a transfer abroad. For a service already live, such a duty is overdue if not done.
DueBefore = Literal["launch", "processing", "transfer"]

OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "contains_any")
COMBINATORS = ("all", "any", "not", "scope", "always")


class ObligationError(CorpusError):
    """The obligations files have problems; each line names file and rule."""

    what = "the obligations rulebook"


# --------------------------------------------------------------------------- schema


class Text(Strict):
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class ArticleRef(Strict):
    instrument: str = Field(min_length=1)
    article: int = Field(ge=1)
    paragraphs: list[int] = []   # the paragraphs (款) the rule rests on, where a penalty names only some of them

    def label(self) -> str:
        return f"{self.instrument} Art. {self.article}"


class _RuleSpec(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title_zh: str = Field(min_length=2)
    title_en: str = Field(min_length=2)
    rests_on: list[ArticleRef] = Field(min_length=1)
    applies_when: Any
    why: str = Field(min_length=20)


class ScopeSpec(_RuleSpec):
    """When an instrument (or part of it) applies at all."""


class ObligationSpec(_RuleSpec):
    binds: list[Role] = Field(min_length=1)
    what_to_do: Text
    evidence: list[Text] = Field(min_length=1)
    timing: Optional[Text] = None
    penalty: list[ArticleRef] = []
    depends_on: list[str] = []
    stage: Stage
    topic: Topic                             # the answer section it belongs to (see TOPICS)
    confirm: Optional[Text] = None
    caveat: Optional[Text] = None
    due_before: Optional[DueBefore] = None   # the article makes the duty a precondition of this event
    if_late: Optional[Text] = None           # the immediate step for a business already past that event

    @field_validator("penalty", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        if isinstance(value, dict):
            return [value]
        return [] if value is None else value

    @model_validator(mode="after")
    def _late_step(self) -> "ObligationSpec":
        if (self.due_before is None) != (self.if_late is None):
            raise ValueError("due_before and if_late go together: the event the duty must precede, and the step to take "
                             "when it is already past")
        return self


class ObligationsFile(Strict):
    scopes: list[ScopeSpec] = []
    obligations: list[ObligationSpec] = []


# --------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class FieldInfo:
    """What a profile path holds: kind is bool | int | str | list; choices limit str values."""

    kind: str
    choices: tuple[str, ...] | None = None
    nullable: bool = False


@dataclass(frozen=True)
class Cond:
    pass


@dataclass(frozen=True)
class All(Cond):
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class AnyOf(Cond):
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class Not(Cond):
    item: Cond


@dataclass(frozen=True)
class ScopeRef(Cond):
    scope: str


@dataclass(frozen=True)
class Always(Cond):
    value: bool


@dataclass(frozen=True)
class Leaf(Cond):
    field: str
    op: str
    value: Any


def _value_ok(info: FieldInfo, value: Any) -> str | None:
    """None if `value` fits the field (for eq/ne/in), else the reason."""
    if value is None:
        return None if info.nullable else "null is only allowed for optional fields"
    if info.kind == "bool":
        return None if isinstance(value, bool) else f"expected true/false, not {value!r}"
    if info.kind == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else f"expected a whole number, not {value!r}"
    if info.kind in ("str", "list"):
        if not isinstance(value, str):
            return f"expected text, not {value!r}"
        if info.choices is not None and value not in info.choices:
            return f"'{value}' is not one of {', '.join(info.choices)}"
        return None
    return f"unsupported field kind {info.kind}"


def parse_condition(raw: Any, fields: Mapping[str, FieldInfo] | None, problems: list[str], where: str) -> Cond:
    """Parse YAML into a condition tree, appending problems (prefixed with `where`)."""

    def bad(msg: str) -> Cond:
        problems.append(f"{where}: applies_when: {msg}")
        return Always(False)

    if not isinstance(raw, dict) or not raw:
        return bad(f"a condition must be a mapping like {{field: ..., eq: ...}} or {{all: [...]}}, not {raw!r}")
    keys = set(raw)
    if keys & set(COMBINATORS):
        if len(keys) != 1:
            return bad(f"'{sorted(keys & set(COMBINATORS))[0]}' must be alone in its mapping, found {sorted(keys)}")
        (key, value), = raw.items()
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                return bad(f"'{key}' needs a non-empty list of conditions")
            items = tuple(parse_condition(v, fields, problems, where) for v in value)
            return All(items) if key == "all" else AnyOf(items)
        if key == "not":
            return Not(parse_condition(value, fields, problems, where))
        if key == "scope":
            if not isinstance(value, str):
                return bad("'scope' needs a scope id")
            return ScopeRef(value)
        if not isinstance(value, bool):
            return bad("'always' needs true or false")
        return Always(value)
    if "field" not in keys:
        return bad(f"unknown condition keys {sorted(keys)}; use all, any, not, scope, always or field + one of {', '.join(OPS)}")
    ops = keys - {"field"}
    if len(ops) != 1 or not ops <= set(OPS):
        return bad(f"a field condition needs exactly one operator among {', '.join(OPS)}, found {sorted(ops) or 'none'}")
    op = ops.pop()
    path, value = raw["field"], raw[op]
    if not isinstance(path, str):
        return bad(f"'field' must be a profile field name, not {path!r}")
    if fields is not None:
        info = fields.get(path)
        if info is None:
            return bad(f"unknown profile field '{path}' (valid: {', '.join(sorted(fields))})")
        reason = None
        if op in ("eq", "ne"):
            reason = "use contains/contains_any on a list field" if info.kind == "list" else _value_ok(info, value)
        elif op in ("gt", "gte", "lt", "lte"):
            if info.kind != "int":
                reason = f"'{op}' needs a numeric field; '{path}' is {info.kind}"
            elif not isinstance(value, int) or isinstance(value, bool):
                reason = f"'{op}' needs a whole number, not {value!r}"
        elif op == "in":
            if info.kind == "list":
                reason = "use contains_any on a list field"
            elif not isinstance(value, list) or not value:
                reason = "'in' needs a non-empty list of values"
            else:
                reason = next((r for r in (_value_ok(info, v) for v in value) if r), None)
        elif op == "contains":
            reason = f"'contains' needs a list field; '{path}' is {info.kind}" if info.kind != "list" else _value_ok(info, value)
        elif op == "contains_any":
            if info.kind != "list":
                reason = f"'contains_any' needs a list field; '{path}' is {info.kind}"
            elif not isinstance(value, list) or not value:
                reason = "'contains_any' needs a non-empty list of values"
            else:
                reason = next((r for r in (_value_ok(info, v) for v in value) if r), None)
        if reason:
            return bad(f"field '{path}' {op}: {reason}")
    if isinstance(value, list):
        value = tuple(value)
    return Leaf(path, op, value)


def scope_refs(cond: Cond) -> list[str]:
    if isinstance(cond, ScopeRef):
        return [cond.scope]
    if isinstance(cond, (All, AnyOf)):
        return [s for item in cond.items for s in scope_refs(item)]
    if isinstance(cond, Not):
        return scope_refs(cond.item)
    return []


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


_SYMBOL = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
_NEGATED = {"gt": "≤", "gte": "<", "lt": "≥", "lte": ">"}


def _test(op: str, actual: Any, value: Any) -> bool:
    if actual is None and op in _SYMBOL:  # an optional number not given: no comparison holds
        return False
    if op == "eq":
        return actual == value
    if op == "ne":
        return actual != value
    if op == "gt":
        return actual > value
    if op == "gte":
        return actual >= value
    if op == "lt":
        return actual < value
    if op == "lte":
        return actual <= value
    if op == "in":
        return actual in value
    if op == "contains":
        return value in actual
    if op == "contains_any":
        return any(v in actual for v in value)
    raise ValueError(op)


def _describe(leaf: Leaf, actual: Any, holds: bool) -> str:
    """A true statement about the profile (valid whether or not the test held)."""
    base = f"{leaf.field} = {_fmt(actual)}"
    if actual is None and leaf.op in _SYMBOL:
        return f"{base} (not given)"
    if leaf.op == "eq":
        return base
    if leaf.op == "ne":
        return f"{base} ({'≠' if holds else '='} {_fmt(leaf.value)})"
    if leaf.op in _SYMBOL:
        return f"{base} ({_SYMBOL[leaf.op] if holds else _NEGATED[leaf.op]} {_fmt(leaf.value)})"
    if leaf.op == "in":
        return f"{base} ({'in' if holds else 'not in'} {_fmt(leaf.value)})"
    if leaf.op == "contains":
        return f"{base} ({'includes' if holds else 'does not include'} {_fmt(leaf.value)})"
    return f"{base} ({'includes one of' if holds else 'includes none of'} {_fmt(leaf.value)})"


class _Unknown:
    """A fact the profile does not settle (three-valued logic: a condition on it is neither true nor false)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("an unknown fact has no truth value: test `is UNKNOWN` first")


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Outcome:
    """Whether a condition holds (True, False, or None when it depends on facts not known), the
    profile facts that decide it, and the unknown facts it waits on."""

    holds: bool | None
    facts: tuple[str, ...]
    unknown: tuple[str, ...] = ()


def _dedupe(facts) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for f in facts:
        seen.setdefault(f, None)
    return tuple(seen)


_SCOPE_STATE = {True: "applies", False: "does not apply", None: "is to confirm"}


def evaluate(cond: Cond, facts: Mapping[str, Any], scopes: Mapping[str, Cond], _cache: dict | None = None) -> Outcome:
    """Evaluate against profile facts (path -> value, or UNKNOWN); deterministic, explains itself.

    Three-valued (Kleene) logic: a leaf on an UNKNOWN fact is undecided (None); ``all`` is false if any
    item is false, else undecided if any is; ``any`` is true if any item is true, else undecided if any
    is; ``not`` keeps undecided. An undecided outcome lists the unknown facts it waits on."""
    cache = {} if _cache is None else _cache
    if isinstance(cond, Always):
        return Outcome(cond.value, ())
    if isinstance(cond, Leaf):
        actual = facts[cond.field]
        if actual is UNKNOWN:
            return Outcome(None, (f"{cond.field} = not known",), (cond.field,))
        holds = _test(cond.op, actual, cond.value)
        return Outcome(holds, (_describe(cond, actual, holds),))
    if isinstance(cond, Not):
        inner = evaluate(cond.item, facts, scopes, cache)
        return Outcome(None if inner.holds is None else not inner.holds, inner.facts, inner.unknown)
    if isinstance(cond, ScopeRef):
        if cond.scope not in scopes:  # only possible for rules checked elsewhere (e.g. risk rules on a custom rulebook)
            return Outcome(False, (f"scope {cond.scope} is not defined",))
        if cond.scope not in cache:
            inner = evaluate(scopes[cond.scope], facts, scopes, cache)
            marker = f"scope {cond.scope} {_SCOPE_STATE[inner.holds]}"
            cache[cond.scope] = Outcome(inner.holds, _dedupe((marker, *inner.facts)), inner.unknown)
        return cache[cond.scope]
    results = [evaluate(item, facts, scopes, cache) for item in cond.items]  # type: ignore[attr-defined]
    deciding = False if isinstance(cond, All) else True
    decided = [r for r in results if r.holds is deciding]
    if decided:
        return Outcome(deciding, _dedupe(f for r in decided for f in r.facts))
    open_ = [r for r in results if r.holds is None]
    if open_:
        settled = [r for r in results if r.holds is not None]
        return Outcome(None, _dedupe(f for r in [*settled, *open_] for f in r.facts),
                       _dedupe(u for r in open_ for u in r.unknown))
    return Outcome(not deciding, _dedupe(f for r in results for f in r.facts))


# --------------------------------------------------------------------------- loaded rules


@dataclass(frozen=True)
class Scope:
    spec: ScopeSpec
    condition: Cond
    file: str

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class Obligation:
    spec: ObligationSpec
    condition: Cond
    file: str

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass
class Rulebook:
    """All scopes and obligations, by id (sorted), with the files they came from."""

    scopes: dict[str, Scope] = field(default_factory=dict)
    obligations: dict[str, Obligation] = field(default_factory=dict)

    @property
    def scope_conditions(self) -> dict[str, Cond]:
        return {sid: s.condition for sid, s in self.scopes.items()}

    def __len__(self) -> int:
        return len(self.obligations)


def _item_id(raw: dict, key: str, index: int) -> str:
    items = raw.get(key) or []
    item = items[index] if isinstance(items, list) and index < len(items) else None
    rid = item.get("id") if isinstance(item, dict) else None
    return f"{key[:-1]} '{rid}'" if isinstance(rid, str) else f"{key[:-1]} #{index + 1}"


def _schema_problems(name: str, raw: dict, exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = name
        if len(loc) >= 2 and loc[0] in ("scopes", "obligations") and isinstance(loc[1], int):
            where += f": {_item_id(raw, loc[0], loc[1])}"
            loc = loc[2:]
        what = ".".join(str(p) for p in loc) or "file"
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append(f"{where}: {what}: {msg}")
    return problems


def _ref_problems(refs: list[ArticleRef], corpus: Corpus, where: str, what: str) -> list[str]:
    problems = []
    for ref in refs:
        inst = corpus.instruments.get(ref.instrument)
        if inst is None:
            problems.append(f"{where}: {what}: unknown instrument '{ref.instrument}'")
        elif inst.status is Status.draft or inst.kind is Kind.draft:
            problems.append(f"{where}: {what}: '{ref.instrument}' is a draft, which is never law")
        elif not inst.articles:
            problems.append(f"{where}: {what}: '{ref.instrument}' has no article text in the corpus (summary only)")
        elif inst.article(ref.article) is None:
            problems.append(f"{where}: {what}: '{ref.instrument}' has no article {ref.article}")
    return problems


def _cycles(edges: Mapping[str, list[str]]) -> list[list[str]]:
    """Each cycle once, as a path a -> b -> ... -> a (deterministic)."""
    found: list[list[str]] = []
    seen_keys: set[frozenset] = set()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in edges.get(node, []):
            if nxt not in edges:
                continue
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                key = frozenset(cycle)
                if key not in seen_keys:
                    seen_keys.add(key)
                    found.append(cycle)
            elif state.get(nxt) is None:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if state.get(node) is None:
            visit(node, [node])
    return found


def check_obligations(directory: Path, corpus: Corpus, fields: Mapping[str, FieldInfo] | None = None) -> tuple[Rulebook, list[str]]:
    """Load every obligations file and return the rulebook with all problems found."""
    if fields is None:
        from advisor.compose.assess import PROFILE_FIELDS  # the profile defines the vocabulary

        fields = PROFILE_FIELDS
    files = sorted(Path(directory).glob("*.yaml"))
    if not files:
        return Rulebook(), [f"{directory}: no obligations files (*.yaml) found"]
    book = Rulebook()
    problems: list[str] = []
    origin: dict[str, str] = {}
    for path in files:
        name = path.name
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.append(f"{name}: not valid YAML{f' (line {mark.line + 1})' if mark else ''}: {getattr(exc, 'problem', exc)}")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{name}: cannot read file: {exc}")
            continue
        if not isinstance(raw, dict):
            problems.append(f"{name}: expected a mapping with 'scopes' and/or 'obligations' at the top level")
            continue
        try:
            parsed = ObligationsFile.model_validate(raw)
        except ValidationError as exc:
            problems += _schema_problems(name, raw, exc)
            continue
        for kind, specs in (("scope", parsed.scopes), ("obligation", parsed.obligations)):
            for spec in specs:
                where = f"{name}: {kind} '{spec.id}'"
                if spec.id in origin:
                    problems.append(f"{where}: duplicate id (also in {origin[spec.id]})")
                    continue
                origin[spec.id] = name
                problems += _ref_problems(spec.rests_on, corpus, where, "rests_on")
                cond = parse_condition(spec.applies_when, fields, problems, where)
                if kind == "scope":
                    book.scopes[spec.id] = Scope(spec, cond, name)
                    continue
                problems += _ref_problems(spec.penalty, corpus, where, "penalty")
                unverified = sorted({
                    ref.label() for ref in spec.rests_on
                    if ref.instrument in corpus.instruments
                    and ref.article in corpus.instruments[ref.instrument].verification.unverified_articles
                })
                if unverified and spec.caveat is None:
                    problems.append(f"{where}: cites article(s) the corpus marks unverified ({', '.join(unverified)}); add a caveat saying so")
                book.obligations[spec.id] = Obligation(spec, cond, name)
    for kind, rules in (("scope", book.scopes), ("obligation", book.obligations)):
        for rule in rules.values():
            for ref in scope_refs(rule.condition):
                if ref not in book.scopes:
                    problems.append(f"{rule.file}: {kind} '{rule.id}': applies_when: unknown scope '{ref}'")
    for ob in book.obligations.values():
        for dep in ob.spec.depends_on:
            if dep == ob.id:
                problems.append(f"{ob.file}: obligation '{ob.id}': depends_on itself")
            elif dep not in book.obligations:
                problems.append(f"{ob.file}: obligation '{ob.id}': depends_on unknown obligation '{dep}'")
    dep_edges = {oid: [d for d in ob.spec.depends_on if d != oid] for oid, ob in book.obligations.items()}
    for cycle in _cycles(dep_edges):
        files = ", ".join(sorted({book.obligations[c].file for c in cycle}))
        problems.append(f"{files}: obligation '{cycle[0]}': dependency cycle {' -> '.join(cycle)}")
    scope_edges = {sid: scope_refs(s.condition) for sid, s in book.scopes.items()}
    for cycle in _cycles(scope_edges):
        files = ", ".join(sorted({book.scopes[c].file for c in cycle}))
        problems.append(f"{files}: scope '{cycle[0]}': scope cycle {' -> '.join(cycle)}")
    book.scopes = dict(sorted(book.scopes.items()))
    book.obligations = dict(sorted(book.obligations.items()))
    return book, problems


def load_obligations(directory: Path, corpus: Corpus, fields: Mapping[str, FieldInfo] | None = None) -> Rulebook:
    """The validated rulebook; raises ObligationError listing every problem."""
    book, problems = check_obligations(directory, corpus, fields)
    if problems:
        raise ObligationError(problems)
    return book


def topological(ids: list[str], deps: Mapping[str, list[str]]) -> list[str]:
    """`ids` ordered so that every id comes after its dependencies among `ids`; ties by input order."""
    order: list[str] = []
    placed: set[str] = set()
    wanted = set(ids)

    def place(node: str, trail: tuple[str, ...]) -> None:
        if node in placed or node in trail:
            return
        for dep in deps.get(node, []):
            if dep in wanted:
                place(dep, trail + (node,))
        placed.add(node)
        order.append(node)

    for node in ids:
        place(node, ())
    return order
