"""The renderer layer: a command returns a `Result`; `render(result, fmt)` shows it.

Two registries, each filled in one place:
- formats (`RENDERERS`): one `Renderer` class per output format (table, json, csv, markdown, sarif, html),
  registered with `@renderer`. Adding a format is one class here.
- views (`VIEWS`): per result kind, what a format needs from it (CSV columns, the table, the Markdown…),
  registered with `view(...)` next to the kind's item builders in its `report/` module. A kind supports a
  format when its view has what that format needs; `extra` holds kind-specific outputs (the playbook CSV,
  Terraform/CloudFormation plan text) under their format name.

Every AWS-derived string a table, CSV, Markdown or HTML renderer prints passes `report.sanitize`.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ecrwise.errors import UserError
from ecrwise.report import sanitize
from ecrwise.report.output import dump_csv, dump_json, envelope


@dataclass
class Result:
    """What a command hands the renderer: the JSON envelope's parts plus what a table needs."""
    kind: str
    items: list[Any]
    totals: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    snapshot: dict[str, Any] | None = None
    title: str | None = None
    data: Any = None  # the analysis objects a table shows beyond the items (inventory, audits, …)
    options: dict[str, Any] = field(default_factory=dict)  # presentation options (top, list_images, …)
    document: Any = None  # a JSON document that is not the envelope (a lifecycle plan)
    shape: str | None = None  # the view, when one JSON kind has two shapes (default: the kind)


Show = Callable[[Result], None]


@dataclass(frozen=True)
class View:
    """How one result kind is shown in each format it supports."""
    kind: str
    table: Show | None = None
    csv_columns: tuple[str, ...] | None = None
    csv_rows: Callable[[Result], Iterable[dict[str, Any]]] | None = None  # default: the items
    json: bool = True
    markdown: Callable[[Result], str] | None = None
    sarif: Callable[[Result], Any] | None = None
    html: Callable[[Result], str] | None = None
    extra: dict[str, Show] = field(default_factory=dict)  # kind-specific formats


VIEWS: dict[str, View] = {}


def view(v: View) -> View:
    if v.kind in VIEWS and VIEWS[v.kind] != v:
        raise ValueError(f"view {v.kind} registered twice")
    VIEWS[v.kind] = v
    return v


class Renderer:
    """One output format. `supports` says whether a kind's view has what this format needs."""
    name = ""

    def supports(self, v: View) -> bool:
        raise NotImplementedError

    def render(self, result: Result, v: View, out: Any) -> None:
        raise NotImplementedError


RENDERERS: dict[str, Renderer] = {}


def renderer(cls: type[Renderer]) -> type[Renderer]:
    RENDERERS[cls.name] = cls()
    return cls


@renderer
class TableRenderer(Renderer):
    """Rich tables and text lines for a person; control characters are escaped before the view sees them."""
    name = "table"

    def supports(self, v: View) -> bool:
        return v.table is not None

    def render(self, result: Result, v: View, out: Any) -> None:
        safe = Result(**{**result.__dict__, "items": sanitize.deep(result.items),
                         "warnings": [sanitize.text(w) for w in result.warnings]})
        assert v.table is not None
        v.table(safe)


@renderer
class JsonRenderer(Renderer):
    """One faithful JSON document (json.dumps escapes control characters itself)."""
    name = "json"

    def supports(self, v: View) -> bool:
        return v.json

    def render(self, result: Result, v: View, out: Any) -> None:
        doc = result.document if result.document is not None else envelope(
            result.kind, result.snapshot, result.items, result.totals, result.warnings)
        dump_json(doc, out)


@renderer
class CsvRenderer(Renderer):
    """One row per item in the view's columns; cells sanitised and formula-neutralised by `dump_csv`."""
    name = "csv"

    def supports(self, v: View) -> bool:
        return v.csv_columns is not None

    def render(self, result: Result, v: View, out: Any) -> None:
        assert v.csv_columns is not None
        rows = v.csv_rows(result) if v.csv_rows else result.items
        dump_csv(rows, list(v.csv_columns), out)


class _TextRenderer(Renderer):
    """A format whose view returns the whole text (Markdown, HTML) or document (SARIF)."""
    attr = ""

    def supports(self, v: View) -> bool:
        return getattr(v, self.attr) is not None

    def render(self, result: Result, v: View, out: Any) -> None:
        (out or sys.stdout).write(getattr(v, self.attr)(result))


@renderer
class MarkdownRenderer(_TextRenderer):
    name = attr = "markdown"


@renderer
class HtmlRenderer(_TextRenderer):
    name = attr = "html"


@renderer
class SarifRenderer(Renderer):
    name = "sarif"

    def supports(self, v: View) -> bool:
        return v.sarif is not None

    def render(self, result: Result, v: View, out: Any) -> None:
        assert v.sarif is not None
        dump_json(v.sarif(result), out)


def _load_views() -> None:
    """Views live with their kind's item builders in `ecrwise.report.*`; import them all once."""
    import ecrwise.report as pkg

    for m in pkgutil.iter_modules(pkg.__path__):
        if m.name not in ("render", "sanitize", "output"):
            importlib.import_module(f"ecrwise.report.{m.name}")


def view_of(kind: str) -> View:
    if kind not in VIEWS:
        _load_views()
    return VIEWS[kind]


def formats(kind: str) -> list[str]:
    """The formats a kind supports, in registry order, then its kind-specific ones."""
    v = view_of(kind)
    return ([name for name, r in RENDERERS.items() if r.supports(v) or name in v.extra]
            + [x for x in v.extra if x not in RENDERERS and not x.startswith("_")])  # _name: internal variants


def check_format(kind: str, fmt: Any, *, flag: str = "--format") -> str:
    """The format's name if `kind` supports it; else a UserError naming the choices. Commands that do work
    before they render (a scan, an apply) call this first, so a wrong --format fails before anything runs."""
    name = getattr(fmt, "value", fmt)
    if name not in formats(kind) and name not in view_of(kind).extra:
        raise UserError(f"{flag} {name}: {kind} output is one of {', '.join(formats(kind))}")
    return name


def render(result: Result, fmt: Any, out: Any = None, *, flag: str = "--format") -> None:
    """Show `result` in format `fmt` (a name or a str Enum); an unsupported format is a UserError."""
    name = check_format(result.shape or result.kind, fmt, flag=flag)
    v = view_of(result.shape or result.kind)
    if name in v.extra:
        v.extra[name](result)
        return
    RENDERERS[name].render(result, v, out)


__all__ = ["Result", "View", "view", "Renderer", "renderer", "RENDERERS", "VIEWS", "render", "check_format", "formats",
           "view_of"]
