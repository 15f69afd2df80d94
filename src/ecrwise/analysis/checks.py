"""Checks describe themselves: one registry of every analysis that produces findings.

A **check** is one small function in its family's module (`analysis/<family>_checks.py`; the file name is the
family) decorated with `@check(...)`, which declares everything about it once: id, title, default severity,
the record tables it reads, the shared facts it uses, its typed options (a pydantic model: defaults, bounds
and help text), a docs anchor, the risk of leaving it and the recommendation (the remediation). The function
takes one `CheckContext` and yields findings built with `ctx.finding(...)`, which fills in the check's id,
default severity and recommendation. Families are discovered (`discover()`), not imported by hand, so adding
a check is one function and adding a family is one module.

A **fact** is something several checks need and nobody should compute twice (the inventory, the images in
use, the pull analysis, the network audit, lifecycle simulations): a function decorated with `@fact(...)`,
declaring the tables it reads and the facts it uses. One `CheckSession` per run memoises every fact (keyed by
its arguments) for every family: the only cache.

Reads are declared, and checked: each check and each fact reads records through a proxy that logs which
tables it touched (`CheckSession.reads`), and a test runs every check on recorded snapshots and fails on an
undeclared read. A check declares the tables it reads itself (`reads=`) and the facts it uses (`facts=`); the
tables those facts read are added to its `reads` automatically (so `--list-checks` shows all of them).

Options are addressed `FAMILY.FIELD` (`storage.redundant_days`): the family's checks share one namespace, and
two checks declaring the same field must declare it identically (checked at registration), so every option
has one default.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import inspect
import pkgutil
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecrwise.errors import UserError
from ecrwise.pricing.book import PriceBook
from ecrwise.records import Records

T = TypeVar("T")

SEVERITIES = ("info", "low", "medium", "high", "critical")
FAMILY_SUFFIX = "_checks"  # analysis/storage_checks.py holds family "storage"


# -- options ---------------------------------------------------------------------------------------------

class CheckOptions(BaseModel):
    """Base of every check's options model. Unknown fields are errors; floats must be finite."""
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True)


class NoOptions(CheckOptions):
    pass


def option(default: Any, help: str, *, flag: str | None = None, metavar: str | None = None,
           **constraints: Any) -> Any:
    """A check option: its default and help written once. `flag` names a dedicated `ecrwise findings` flag
    (e.g. `--redundant-days`); every option is also settable with `--set FAMILY.FIELD=VALUE` and `--config`."""
    extra = {k: v for k, v in (("flag", flag), ("metavar", metavar)) if v}
    return Field(default, description=help, json_schema_extra=extra or None, **constraints)


@dataclass(frozen=True)
class OptionSpec:
    """One option as users see it (`--list-checks`, `--set`, `--config`)."""
    key: str  # FAMILY.FIELD
    family: str
    name: str
    model: type[CheckOptions]
    type: str  # integer | number | string | list of strings
    default: Any
    help: str
    flag: str | None
    metavar: str | None
    checks: tuple[str, ...]

    @property
    def is_list(self) -> bool:
        return self.type.startswith("list")

    def as_dict(self) -> dict[str, Any]:
        default = list(self.default) if isinstance(self.default, tuple) else self.default
        return {"name": self.key, "type": self.type, "default": default, "help": self.help, "flag": self.flag}


_TYPE_NAMES = {int: "integer", float: "number", str: "string", bool: "boolean"}


def _type_name(annotation: Any) -> str:
    """integer | number | string | boolean | list of …s, from a field's annotation (int, tuple[str, ...])."""
    args = [a for a in get_args(annotation) if a is not Ellipsis]
    if get_origin(annotation) in (tuple, list) and args:
        return f"list of {_type_name(args[0])}s"
    return _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


@functools.lru_cache(maxsize=None)
def _fields(model: type[CheckOptions], family: str) -> list[tuple[str, str, Any, str, str | None, str, str | None]]:
    """(key, name, default, help, flag, type, metavar) of each field of an options model."""
    out = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        out.append((f"{family}.{name}", name, info.default, info.description or "", extra.get("flag"),
                    _type_name(info.annotation), extra.get("metavar")))
    return out


# -- findings --------------------------------------------------------------------------------------------

@dataclass
class Finding:
    check: str
    severity: str
    account: str
    region: str
    resource: str
    message: str
    monthly_cost_usd: float | None = None
    monthly_savings_usd: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    arithmetic: dict[str, Any] = field(default_factory=dict)
    recommendation: str = ""
    fix: str | None = None  # the ecrwise command (or documented step) that applies the fix

    @property
    def id(self) -> str:
        """Stable across snapshots, so a finding can be tracked (and suppressed) over time."""
        h = hashlib.sha256(f"{self.check}|{self.account}|{self.region}|{self.resource}".encode()).hexdigest()
        return f"{self.check}:{h[:12]}"


# -- facts -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fact:
    name: str
    reads: tuple[str, ...]  # tables it reads itself
    uses: tuple[str, ...]  # facts it uses
    tables: tuple[str, ...]  # everything it reads, through the facts it uses too
    compute: Callable[..., Any] = field(repr=False, compare=False)


FACTS: dict[str, Fact] = {}
FactGetter = Callable[..., Any]


def fact(*, reads: Iterable[str] = (), uses: Iterable[FactGetter] = ()) -> Callable[[Callable[..., T]],
                                                                                     Callable[..., T]]:
    """Declare a shared fact: `@fact(reads=("images",)) def engine_images(ctx): ...`. Calling it with a check's
    (or another fact's) context returns the session's memoised value for those arguments."""
    def register(fn: Callable[..., T]) -> Callable[..., T]:
        name = fn.__name__
        if name in FACTS:
            raise ValueError(f"fact {name} declared twice")
        used = tuple(u.fact.name for u in uses)  # type: ignore[attr-defined]
        tables = set(reads)
        for u in used:
            tables |= set(FACTS[u].tables)
        f = Fact(name, tuple(sorted(set(reads))), used, tuple(sorted(tables)), fn)
        FACTS[name] = f
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def get(ctx: "_Reader", *args: Any, **kwargs: Any) -> T:
            bound = signature.bind(ctx, *args, **kwargs)
            bound.apply_defaults()  # network_audit(ctx) and network_audit(ctx, 3.0, 7) are one fact
            return ctx._fact(f, tuple(bound.arguments.values())[1:])

        get.fact = f  # type: ignore[attr-defined]
        return get

    return register


# -- checks ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: str
    family: str  # the module's name: storage_checks.py → storage
    reads: tuple[str, ...]  # every record table it reads: its own and its facts'
    docs: str  # docs page and anchor, e.g. "docs/ecs.md#circuit-breaker"
    recommendation: str  # the remediation: what to do about a finding
    risk: str  # what leaving it costs or breaks
    options: type[CheckOptions] = NoOptions
    facts: tuple[str, ...] = ()
    own_reads: tuple[str, ...] = ()  # the tables it reads itself
    fn: Callable[["CheckContext"], Iterable[Finding]] = field(default=lambda ctx: (), repr=False, compare=False)

    @property
    def option_keys(self) -> tuple[str, ...]:
        return tuple(f"{self.family}.{n}" for n in self.options.model_fields)

    def run(self, records: Records, book: PriceBook, options: Mapping[str, Any] | None = None, *,
            facts: Mapping[str, Any] | None = None) -> list[Finding]:
        """This check alone, in a session of its own (tests, `ecrwise ecs`)."""
        return CheckSession(records, book, options, facts=facts).run(self)


REGISTRY: dict[str, Check] = {}
_OPTION_OWNER: dict[str, tuple[Any, ...]] = {}  # FAMILY.FIELD → (annotation, default, help) of its first declarer


def family_of(module: str) -> str:
    name = module.rsplit(".", 1)[-1]
    if not name.endswith(FAMILY_SUFFIX):
        raise ValueError(f"checks live in analysis/<family>{FAMILY_SUFFIX}.py, not {module}")
    return name[: -len(FAMILY_SUFFIX)]


def check(id: str, *, title: str, severity: str, docs: str, recommendation: str, risk: str,
          reads: Iterable[str] = (), facts: Iterable[FactGetter] = (),
          options: type[CheckOptions] = NoOptions) -> Callable[[Callable[["CheckContext"], Iterable[Finding]]],
                                                               Callable[["CheckContext"], Iterable[Finding]]]:
    """Register a check. Its family is the module it lives in."""
    if severity not in SEVERITIES:
        raise ValueError(f"{id}: severity {severity!r} not in {SEVERITIES}")

    def register(fn: Callable[[CheckContext], Iterable[Finding]]) -> Callable[[CheckContext], Iterable[Finding]]:
        if id in REGISTRY:
            raise ValueError(f"check {id} registered twice")
        family = family_of(fn.__module__)
        used = tuple(f.fact.name for f in facts)  # type: ignore[attr-defined]
        tables = set(reads)
        for u in used:
            tables |= set(FACTS[u].tables)
        for name, info in options.model_fields.items():
            key, sig = f"{family}.{name}", (info.annotation, info.default, info.description)
            if _OPTION_OWNER.setdefault(key, sig) != sig:
                raise ValueError(f"{id}: option {key} is declared differently by another {family} check")
        REGISTRY[id] = Check(id, title, severity, family, tuple(sorted(tables)), docs, recommendation, risk,
                             options, used, tuple(sorted(set(reads))), fn)
        return fn

    return register


def discover() -> dict[str, Check]:
    """Import every family module (`analysis/*_checks.py`); importing registers its checks."""
    global _discovered
    if not _discovered:
        import ecrwise.analysis as package

        for m in pkgutil.iter_modules(package.__path__):
            if m.name.endswith(FAMILY_SUFFIX):
                importlib.import_module(f"{package.__name__}.{m.name}")
        _discovered = True
    return dict(sorted(REGISTRY.items()))


_discovered = False


def option_specs() -> dict[str, OptionSpec]:
    """Every check option, by FAMILY.FIELD."""
    specs: dict[str, OptionSpec] = {}
    users: dict[str, list[str]] = defaultdict(list)
    for c in discover().values():
        for key, name, default, help_, flag, type_, metavar in _fields(c.options, c.family):
            users[key].append(c.id)
            specs.setdefault(key, OptionSpec(key, c.family, name, c.options, type_, default, help_, flag, metavar, ()))
    return {k: dataclasses.replace(s, checks=tuple(users[k])) for k, s in sorted(specs.items())}


def validate_options(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Check option values by FAMILY.FIELD → the validated values (e.g. "30" → 30). A key no check declares, or
    a value its model refuses, is a UserError naming `source` (a flag, a file) and the key."""
    specs = option_specs()
    out: dict[str, Any] = {}
    for key, value in values.items():
        spec = specs.get(key)
        if spec is None:
            raise UserError(f"{source}: {key}: no check has this option (see `ecrwise findings --list-checks`; "
                            f"options are {', '.join(specs)})")
        try:
            model = spec.model.model_validate({spec.name: value})
        except ValidationError as e:
            msg = e.errors()[0]["msg"].removeprefix("Value error, ")  # a validator's own words, as written
            raise UserError(f"{source}: {key}: {msg} (got {value!r})") from None
        out[key] = getattr(model, spec.name)
    return out


def snapshot_time(records: Records, now: datetime | None) -> datetime:
    """The time ages are measured at: the snapshot's (`now`); else the newest push in it."""
    if now is not None:
        return now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    from ecrwise.records.ecr import Image

    pushed = [i.pushed_at for i in records.of(Image) if i.pushed_at]
    return max(pushed) if pushed else datetime.now(timezone.utc)


# -- running ---------------------------------------------------------------------------------------------

class LoggedRecords:
    """The snapshot's records as one reader (a check or a fact) sees them: every table it reads is logged."""

    def __init__(self, records: Records, log: set[str]):
        self._records = records
        self._log = log
        self.snapshot_id = records.snapshot_id

    def of(self, cls: type[T]) -> list[T]:
        self._log.add(getattr(cls, "__table__", cls.__name__))
        return self._records.of(cls)

    @property
    def stored(self) -> bool:
        return self._records.stored

    def fact_batches(self, name: str, classes: list[type]) -> Iterator[list[tuple]]:
        self._log.update(getattr(c, "__table__", c.__name__) for c in classes)
        return self._records.fact_batches(name, classes)

    def fact_rows(self, name: str, classes: list[type]) -> list[tuple]:
        return [row for rows in self.fact_batches(name, classes) for row in rows]


class CheckSession:
    """One run of checks over one snapshot: the resolved options of every check and the one fact cache.

    `options`: {"now": snapshot time, "FAMILY.FIELD": value, …}; unset options take their model's default.
    `facts`: values to use instead of computing a fact (the seam for callers with their own figures), by fact
    name, e.g. {"pull_traffic": {}}."""

    def __init__(self, records: Records, book: PriceBook, options: Mapping[str, Any] | None = None, *,
                 facts: Mapping[str, Any] | None = None):
        values = dict(options or {})
        self.records = records
        self.book = book
        self.raw_now: datetime | None = values.pop("now", None)
        self.values = validate_options(values, "check options")
        self._now: datetime | None = None
        self._memo: dict[tuple[str, tuple[Any, ...]], Any] = {(name, ()): v for name, v in (facts or {}).items()}
        self.reads: dict[str, set[str]] = defaultdict(set)  # check id or "fact:NAME" → tables it read
        self.used: dict[str, set[str]] = defaultdict(set)  # check id or "fact:NAME" → facts it used
        self._checks: dict[str, Check] = {}

    @property
    def now(self) -> datetime:
        if self._now is None:
            self._now = snapshot_time(self.records, self.raw_now)
        return self._now

    def options_for(self, c: Check) -> CheckOptions:
        mine = {n: self.values[f"{c.family}.{n}"] for n in c.options.model_fields if f"{c.family}.{n}" in self.values}
        return c.options.model_validate(mine)

    def context(self, c: Check) -> "CheckContext":
        self._checks[c.id] = c
        return CheckContext(self, c)

    def undeclared(self) -> list[str]:
        """What the checks and facts of this session read or used without declaring it (empty: all declared)."""
        out = []
        for who in sorted(set(self.reads) | set(self.used)):
            if who.startswith("fact:"):
                f = FACTS[who[5:]]
                tables, facts, what = set(f.reads), set(f.uses), f"fact {f.name}"
            else:
                c = self._checks[who]
                tables, facts, what = set(c.own_reads), set(c.facts), f"check {c.id}"
            out += [f"{what} reads {t} without declaring it" for t in sorted(self.reads[who] - tables)]
            out += [f"{what} uses fact {u} without declaring it" for u in sorted(self.used[who] - facts)]
        return out

    def run(self, c: Check) -> list[Finding]:
        return list(c.fn(self.context(c)))

    def fact(self, f: Fact, args: tuple[Any, ...], reader: str) -> Any:
        self.used[reader].add(f.name)
        return self.fact_value(f, args)

    def fact_value(self, f: Fact, args: tuple[Any, ...] = ()) -> Any:
        """A fact's memoised value, for callers that hold the session rather than a check's context (the report
        shows the inventory the checks used): computed once per session and arguments."""
        key = (f.name, args)
        if key not in self._memo:
            self._memo[key] = f.compute(FactContext(self, f), *args)
        return self._memo[key]


class _Reader:
    """What a check or a fact reads through: records (logged), the price book, the snapshot time, facts."""
    name: str

    def __init__(self, session: CheckSession, name: str):
        self.session = session
        self.name = name
        self.records = LoggedRecords(session.records, session.reads[name])
        self.book = session.book

    @property
    def now(self) -> datetime:
        """The snapshot's time (ages are measured at it)."""
        return self.session.now

    @property
    def raw_now(self) -> datetime | None:
        """The snapshot's time as given (None when the caller gave none; `analyse_pulls` then infers one)."""
        return self.session.raw_now

    def _fact(self, f: Fact, args: tuple[Any, ...]) -> Any:
        return self.session.fact(f, args, self.name)


class FactContext(_Reader):
    def __init__(self, session: CheckSession, f: Fact):
        super().__init__(session, f"fact:{f.name}")
        self.fact = f


class CheckContext(_Reader):
    """What a check receives: `records.of(Cls)`, `book`, `options` (its resolved options model), `now`, the
    shared facts (call a fact with the context: `inventory(ctx)`), and `finding(...)`."""

    def __init__(self, session: CheckSession, c: Check):
        super().__init__(session, c.id)
        self.check = c
        self.options: Any = session.options_for(c)

    def finding(self, at: Any = None, *, resource: str, message: str, severity: str | None = None,
                account: str | None = None, region: str | None = None, **fields: Any) -> Finding:
        """A finding of this check: its id, default severity (unless `severity` says otherwise) and
        recommendation filled in; account and region from `at` (any record) unless given."""
        sev = severity or self.check.severity
        if sev not in SEVERITIES:
            raise ValueError(f"{self.check.id}: severity {sev!r} not in {SEVERITIES}")
        fields.setdefault("recommendation", self.check.recommendation)
        return Finding(self.check.id, sev, account if account is not None else at.account,
                       region if region is not None else at.region, resource, message, **fields)
