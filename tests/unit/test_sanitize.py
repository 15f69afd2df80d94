"""The output sanitiser: each rule on the payloads of the hardening issue, and as properties over any text."""
from __future__ import annotations

import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from rich.console import Console

from ecrwise.report import sanitize

ESC = "\x1b"
OSC8 = f"{ESC}]8;;http://evil.example{ESC}\\x{ESC}]8;;{ESC}\\"
PAYLOADS = ["[/x]", "[link=http://evil.example]x[/link]", f"{ESC}[2J", OSC8, "\x07bell", '=HYPERLINK("http://evil.example/","x")',
            "+1", "@SUM(1)", "[x](http://evil.example)", "![i](http://evil.example/i.png)", "<script>alert(1)</script>",
            "\x9b31m", "\x7f", "a\u202eb", "-cmd", "\tx", "\rx", "x\\", "[bold]", ":smile:"]
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MD = MarkdownIt("commonmark").enable("table")


def shown(s: str) -> str:
    """What Rich shows for `sanitize.styled(s)`: exactly the sanitised text (tabs expanded)."""
    return sanitize.text(s).expandtabs(8)


def rich_render(markup_text: str) -> str:
    out = io.StringIO()
    Console(file=out, color_system=None, width=400, emoji=False).print(markup_text, highlight=False, end="")
    return out.getvalue()


def test_control_characters_are_shown_escaped_not_emitted():
    assert sanitize.text(f"a{ESC}[2Jb") == "a\\x1b[2Jb"
    assert sanitize.text("bell\x07 del\x7f c1\x9b nul\x00") == "bell\\x07 del\\x7f c1\\x9b nul\\x00"
    assert sanitize.text("rtl\u202eoverride") == "rtl\\u202eoverride"
    assert sanitize.text("two\nlines\tand a tab") == "two\nlines\tand a tab"  # multi-line text keeps them
    assert sanitize.line("two\nlines\r") == "two\\x0alines\\x0d"
    assert sanitize.text(None) == "" and sanitize.text(12) == "12"


def test_markup_is_shown_literally_and_never_crashes_rich():
    for p in PAYLOADS + ["\\[x]", "a\\[b", "end\\"]:
        assert rich_render(sanitize.styled((p, "bold"), " [/]")) == shown(p) + " [/]", p
    assert "\x1b" not in rich_render(sanitize.styled("[link=http://evil.example]x[/link]"))
    assert rich_render(sanitize.title("[/x] t")) == "[/x] t"


def test_rich_text_is_never_parsed():
    t = sanitize.rich_text("[/x] [link=http://e]x[/link]", "red")
    assert t.plain == "[/x] [link=http://e]x[/link]" and str(t.style) == "red"


def test_csv_cells_starting_with_a_formula_character_are_neutralised():
    for p in ('=HYPERLINK("http://evil.example/","x")', "+1", "@SUM(1)", "-cmd", "\tx", "-1+1"):
        assert sanitize.csv_cell(p).startswith("'"), p
    assert sanitize.csv_cell("\rx") == "\\x0dx"  # CR is a control character: escaped, so no longer first
    # A plain negative decimal is a number, not a formula; numbers we write stay numbers.
    assert sanitize.csv_cell("-1.5") == "-1.5" and sanitize.csv_cell("-12") == "-12"
    assert sanitize.csv_cell(-1.5) == -1.5 and sanitize.csv_cell(3) == 3 and sanitize.csv_cell(None) is None
    assert sanitize.csv_cell("plain text (with brackets)") == "plain text (with brackets)"


def _live(md: str) -> bool:
    html = MD.render(md)
    return "<a " in html or "<img" in html or "<script" in html


def test_markdown_has_no_live_link_image_or_html():
    for p in PAYLOADS:
        cell = sanitize.markdown(p)
        assert not _live(f"| x |\n|---|\n| {cell} |\n"), (p, cell)
        assert "http://" not in cell and "\n" not in cell
    assert sanitize.markdown("a|b") == "a\\|b"
    assert sanitize.markdown("www.evil.example") == "www&#46;evil.example"
    # Ordinary findings text is unchanged.
    text = "checkout-web: no lifecycle policy; the playbook-base policy would expire 47 of 60 images (1.83 GiB)"
    assert sanitize.markdown(text) == text


def test_html_escapes_after_the_control_rule():
    assert sanitize.html(f'<script>"{ESC}[2J"</script>') == "&lt;script&gt;&quot;\\x1b[2J&quot;&lt;/script&gt;"


def test_deep_reaches_every_string():
    doc = {"a": [f"{ESC}x", {"b": ("\x07",)}], f"k{ESC}": 1, "n": 2.5}
    assert sanitize.deep(doc) == {"a": ["\\x1bx", {"b": ["\\x07"]}], "k\\x1b": 1, "n": 2.5}


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_properties_over_any_text(s):
    assert not CONTROL.search(sanitize.text(s).replace("\n", "").replace("\t", ""))
    assert not CONTROL.search(sanitize.line(s))
    if "\t" not in s:  # Rich expands tabs by cell width, not characters
        assert rich_render(sanitize.styled(s)) == shown(s)
    cell = sanitize.csv_cell(s)
    assert not cell.startswith(sanitize.FORMULA_START) or re.fullmatch(r"-\d+(\.\d+)?", cell)
    md = sanitize.markdown(s)
    assert "\n" not in md and not CONTROL.search(md)
    assert not _live(f"| x |\n|---|\n| {md} |\n")
