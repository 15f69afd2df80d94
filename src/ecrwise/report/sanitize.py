"""The one output sanitiser: every AWS-derived string passes here before a table, CSV, Markdown, HTML or a
stderr warning shows it. AWS lets names and tag values carry text that attacks what reads our output: terminal
escapes (ESC, OSC 8 hyperlinks, BEL), Rich markup (`[/x]` crashes Rich, `[link=…]` makes a live link), CSV
formulas (`=HYPERLINK(…)` runs in a spreadsheet) and Markdown link/image syntax (a live link in a pull-request
comment). JSON and SARIF stay faithful: `json.dumps` escapes control characters itself.

The rules (docs/safety.md lists them too):
- control characters (C0 but tab and newline, DEL, C1) and the Unicode bidi overrides are shown escaped
  (`\\x1b`, `\\u202e`), never emitted raw; the text stays readable and nothing is silently dropped;
- Rich: AWS text never goes through markup (cells, titles and lines with AWS text are `Text` objects);
- CSV: a string cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'` (OWASP's CSV-injection
  rule), except a plain negative decimal (`-1.5`), which no spreadsheet evaluates as a formula; numbers we
  write stay numbers;
- Markdown: HTML-escaped, backslash-escaped metacharacters, no live link, image or autolink;
- HTML: the control-character rule, then HTML-escaping.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from rich.text import Text

# C0 controls but \t and \n, DEL, C1 controls, and the bidi embeddings/overrides/isolates ("Trojan Source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_ALL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NEGATIVE = re.compile(r"-\d+(\.\d+)?")
# Markdown: every character that starts emphasis, code, a link, an image or a table cell boundary.
_MD_META = re.compile(r"([\\`*_\[\]~!|#])")
# GitHub autolinks bare URLs and www. names; break the scheme separator and the www. prefix.
_MD_AUTOLINK = re.compile(r"(?i)(://|\bwww\.)")


def _escaped(m: re.Match[str]) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def text(value: Any, *, multiline: bool = True) -> str:
    """A string with every control character shown escaped; tab and newline kept when `multiline`."""
    s = "" if value is None else str(value)
    return (_CONTROL if multiline else _CONTROL_ALL).sub(_escaped, s)


def line(value: Any) -> str:
    """One line: newlines and tabs escaped too (warnings, CSV-free single-line contexts)."""
    return text(value, multiline=False)


def rich_text(value: Any, style: str = "") -> Text:
    """A Rich `Text` (never parsed as markup) of sanitised text."""
    return Text(text(value), style=style)


def styled(*parts: Any) -> Text:
    """One line from parts: a str is plain text, a (str, style) pair is styled; all sanitised, none markup.
    (Escaping AWS text into Rich markup is not reliable: backslashes before `[` are eaten, and a trailing one
    escapes the closing tag after it. `Text` never parses markup.)"""
    out = Text()
    for part in parts:
        value, style = part if isinstance(part, tuple) else (part, "")
        out.append(text(value), style=style or None)
    return out


def title(value: Any) -> Text:
    """A table title: sanitised, never markup, in Rich's table-title style."""
    return Text(text(value), style="table.title")


def csv_cell(value: Any) -> Any:
    """A CSV cell: strings sanitised and formula-neutralised; numbers and None as they are."""
    if not isinstance(value, str):
        return value
    s = text(value)
    if s.startswith(FORMULA_START) and not _PLAIN_NEGATIVE.fullmatch(s):
        return "'" + s
    return s


def markdown(value: Any) -> str:
    """Safe inside a GitHub Markdown table cell: one line, no HTML, no emphasis, no link, image or autolink."""
    s = line(value).replace("\\x0a", " ").replace("\\x0d", " ").replace("\\x09", " ")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_META.sub(r"\\\1", s)
    return _MD_AUTOLINK.sub(lambda m: m.group(0).replace(":", "&#58;").replace(".", "&#46;"), s)


def html(value: Any) -> str:
    """HTML text or attribute: the control-character rule, then HTML-escaped."""
    from html import escape

    return escape(text(value), quote=True)


def deep(obj: Any, fn: Callable[[str], Any] = text) -> Any:
    """`fn` applied to every string (keys too) in nested dicts, lists and tuples."""
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, dict):
        return {deep(k, fn): deep(v, fn) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [deep(v, fn) for v in obj]
    return obj


__all__ = ["text", "line", "rich_text", "styled", "title", "csv_cell", "markdown", "html", "deep", "FORMULA_START"]
