"""The renderer layer: one registry of formats, one view per result kind, UserError for a format a kind lacks,
and the shared table/CSV/warning plumbing every renderer goes through (sanitised)."""
from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from ecrwise.errors import UserError
from ecrwise.report import render as r
from ecrwise.report.output import Column, dump_csv, print_warnings, rich_table

ESC = "\x1b"


def test_every_registered_view_supports_json_or_a_human_format():
    r._load_views()
    assert {"table", "json", "csv", "markdown", "sarif", "html"} <= set(r.RENDERERS)
    for kind in r.VIEWS:
        assert r.formats(kind), kind
    assert r.formats("findings") == ["table", "json", "csv", "markdown", "sarif"]
    assert r.formats("repos") == ["table", "json", "csv", "playbook"]
    assert r.formats("report") == ["html"]


def test_unsupported_format_is_a_user_error_naming_the_choices():
    res = r.Result("checks", [], {"checks": 0}, title="0 registered checks")
    with pytest.raises(UserError, match=r"--format markdown: checks output is one of table, json, csv"):
        r.render(res, "markdown")
    with pytest.raises(UserError, match="--format nope"):
        r.check_format("repos", "nope")


def test_adding_a_format_is_one_renderer_class(capsys):
    @r.renderer
    class Tsv(r.Renderer):
        name = "tsv"

        def supports(self, v: r.View) -> bool:
            return v.csv_columns is not None

        def render(self, result: r.Result, v: r.View, out) -> None:
            rows = v.csv_rows(result) if v.csv_rows else result.items
            print("\t".join(v.csv_columns or ()))
            for row in rows:
                print("\t".join(str(row.get(c, "")) for c in v.csv_columns or ()))

    try:
        assert "tsv" in r.formats("checks") and "tsv" not in r.formats("report")
        r.render(r.Result("checks", [{"id": "a.b", "family": "a"}], {}), "tsv")
        assert capsys.readouterr().out.splitlines()[1].startswith("a.b\ta\t")
    finally:
        del r.RENDERERS["tsv"]


def test_json_stays_faithful_and_carries_no_raw_control_byte(capsys):
    name = f"vpc {ESC}[2J [/x] \x9b"
    r.render(r.Result("checks", [{"id": name}], {"checks": 1}, [f"warn {ESC}"]), "json")
    out = capsys.readouterr().out
    assert ESC not in out and "\x9b" not in out
    doc = json.loads(out)
    assert doc["items"][0]["id"] == name and doc["warnings"] == [f"warn {ESC}"] and doc["kind"] == "checks"


def test_table_cells_and_titles_are_never_markup():
    out = io.StringIO()
    table = rich_table(f"[/x] title {ESC}[2J", [Column("a", "a"), Column("b", "b", style=lambda v: "red")],
                       [{"a": "[/x]", "b": "[link=http://evil.example]x[/link]"}], {"b": "[bold]"})
    Console(file=out, color_system=None, width=200).print(table)
    text = out.getvalue()
    assert "[/x] title \\x1b[2J" in text and "[link=http://evil.example]x[/link]" in text and "[bold]" in text
    assert ESC not in text


def test_csv_cells_are_neutralised_and_numbers_kept():
    out = io.StringIO()
    dump_csv([{"a": "=1+1", "b": -1.5, "c": "-2", "d": f"x{ESC}"}], ["a", "b", "c", "d"], out)
    assert out.getvalue().splitlines()[1] == "'=1+1,-1.5,-2,x\\x1b"


def test_warnings_are_sanitised(capsys):
    print_warnings([f"[/x] {ESC}]8;;http://e{ESC}\\x{ESC}]8;;{ESC}\\ \x07"] * 3, limit=2, say_more=True)
    err = capsys.readouterr().err
    assert ESC not in err and "\x07" not in err
    assert err.splitlines()[0].startswith("warning: [/x] \\x1b]8;;http://e")
    assert err.splitlines()[-1] == "warning: … and 1 more (see --format json)"
