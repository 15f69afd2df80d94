"""Shared output plumbing: the JSON envelope every command emits, CSV, Rich tables and human formats."""
from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable

from rich.console import Console
from rich.table import Table

from ecrwise import __version__
from ecrwise.analysis.checks import SEVERITIES
from ecrwise.pricing.money import usd  # noqa: F401  (re-exported for renderers)
from ecrwise.report import sanitize
from ecrwise.report.json_text import write_json
from ecrwise.timefmt import iso

FORMATS = ("table", "json", "csv")
# The one severity order is `analysis.checks.SEVERITIES` (least severe first); renderers list the worst first.
MOST_SEVERE_FIRST = tuple(reversed(SEVERITIES))
SEVERITY_RANK = {s: i for i, s in enumerate(MOST_SEVERE_FIRST)}  # critical 0 … info 4
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def envelope(kind: str, snapshot: dict[str, Any] | None, items: list[dict[str, Any]], totals: dict[str, Any],
             warnings: list[str]) -> dict[str, Any]:
    return {"ecrwise": __version__, "kind": kind, "snapshot": snapshot, "items": items, "totals": totals,
            "warnings": warnings}


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return iso(o)
    if isinstance(o, date):
        return o.isoformat()
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dump_json(doc: Any, out: Any = None) -> None:
    """`json.dump(doc, out, indent=2)` and a newline, the same text written faster and in large pieces
    (report/json_text.py)."""
    out = out or sys.stdout
    write_json(doc, out, _default)
    out.write("\n")


def dump_csv(rows: Iterable[dict[str, Any]], columns: list[str], out: Any = None) -> None:
    out = out or sys.stdout
    w = csv_writer(out)
    w.writerow(columns)
    for row in rows:
        w.writerow(["" if row.get(c) is None else _csv_value(row.get(c)) for c in columns])


class _SafeWriter:
    """csv.writer whose every cell passes the sanitiser (control characters, formula prefixes)."""

    def __init__(self, out: Any) -> None:
        self._w = csv.writer(out, lineterminator="\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._w.writerow([sanitize.csv_cell(v) for v in row])


def csv_writer(out: Any = None) -> _SafeWriter:
    """The one CSV writer renderers use."""
    return _SafeWriter(out or sys.stdout)


def _csv_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return iso(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return " ".join(str(x) for x in v)
    return v


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    step = 1024.0
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < step or unit == "PiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= step
    return f"{n} B"


def human_usd(x: float | None) -> str:
    return "-" if x is None else f"${x:,.2f}"


def human_time(t: datetime | None) -> str:
    return "-" if t is None else t.astimezone(timezone.utc).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    fmt: Callable[[Any], str] = str
    justify: str = "left"
    style: Callable[[Any], str] | None = None  # a Rich style per value (cells are never parsed as markup)


def rich_table(title: str | None, columns: list[Column], rows: list[dict[str, Any]],
               footer: dict[str, Any] | None = None) -> Table:
    # Titles and cells carry AWS text: titles are escaped markup, cells `Text`, so nothing in them is markup.
    table = Table(title=None if title is None else sanitize.title(title), show_footer=footer is not None,
                  header_style="bold", title_justify="left")
    for c in columns:
        foot = c.fmt(footer[c.key]) if footer and c.key in footer and footer[c.key] is not None else ""
        if footer and c is columns[0] and c.key not in footer:
            foot = "total"
        table.add_column(c.header, justify=c.justify, footer=sanitize.rich_text(foot))  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*[_cell(c, row.get(c.key)) for c in columns])
    return table


def _cell(c: Column, value: Any) -> Any:
    if value is None:
        return sanitize.rich_text("-")
    return sanitize.rich_text(c.fmt(value), c.style(value) if c.style else "")


def stdout_console() -> Console:
    return Console(soft_wrap=False, width=max(Console().width, 160) if not sys.stdout.isatty() else None)


def stderr_console() -> Console:
    return Console(stderr=True)


def wide_console() -> Console:
    """Stdout; piped output gets room for wide tables (a terminal keeps its own width)."""
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else max(Console().width, 200))


def warning_text(w: str) -> Any:
    """`warning: …` in yellow; the message (AWS error text, names) is sanitised and never markup."""
    from rich.text import Text

    return Text.assemble(("warning:", "yellow"), " ", sanitize.text(w))


def print_warnings(warnings: list[str], *, limit: int | None = 20, say_more: bool = False,
                   console: Console | None = None) -> None:
    """The first `limit` warnings on stderr (JSON output carries them all); `say_more` counts the rest."""
    err = console or stderr_console()
    for w in warnings[:limit]:
        err.print(warning_text(w), highlight=False)
    if say_more and limit is not None and len(warnings) > limit:
        err.print(warning_text(f"… and {len(warnings) - limit} more (see --format json)"), highlight=False)
