"""The HTML renderer on hand-made inputs: self-contained, escaped, every chart also a table."""
import re
from datetime import datetime, timezone

from storage_helpers import BOOK, NOW, app_images, old_repo_images, records, repo

from ecrwise.analysis.findings import collect, registry
from ecrwise.analysis.history import build_history
from ecrwise.analysis.inventory import build_inventory, sort_rows
from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository
from ecrwise.report import findings as fview
from ecrwise.report import repos as rview
from ecrwise.report.html import Bar, ReportInputs, bar_chart, line_chart, render

EVIL = '<script>alert("x")</script>'


def inputs(name="app"):
    recs = records([repo(name), repo("old")], app_images(name) + old_repo_images("old"))
    result = collect(recs, BOOK, {"now": NOW})
    reg = registry()
    inv = build_inventory(recs.of(Repository), recs.of(Image), recs.of(ImageLayer), recs.of(PullMetric), BOOK)
    hist = build_history([(1, NOW, inv)], recs.of(ImageLayer), recs.of(ImageLayer), 1, 1, BOOK)
    service = {"cluster": "prod", "service": EVIL, "region": "us-east-1", "launch_type": "FARGATE",
               "task_starts_per_day": 300.0, "pulled_bytes_per_month": 5 * 2**40, "nat_bytes_per_month": 5 * 2**40,
               "nat_cost_usd_per_month": 230.4, "crash_loop": True, "path": "nat"}
    return ReportInputs(
        snapshot={"id": 7, "taken_at": "2026-06-01T00:00:00Z", "accounts": ["111111111111"], "regions": ["us-east-1"]},
        prices=BOOK.describe(), findings=[fview.item(it, reg) for it in result.items],
        totals=fview.totals_json(result.totals()),
        repositories=[rview.item(r) for r in sort_rows(inv.rows, "cost")], inventory_totals=rview.totals(inv),
        services=[service], pulls_totals={"nat_cost_usd_per_month": 230.4}, history=hist,
        checks={c.id: c.title for c in reg.values()}, warnings=[f"warning about {EVIL}"],
        generated_at=datetime(2026, 6, 1, tzinfo=timezone.utc))


def test_page_is_self_contained_and_complete():
    html = render(inputs())
    assert html.startswith("<!doctype html>") and "default-src 'none'" in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert "http://" not in html and "<link" not in html and "url(" not in html
    for section in ("cost-by-repository", "growth", "savings-by-check", "pulls", "findings"):
        assert f'id="{section}"' in html
    # Every chart has its table.
    assert html.count("<svg") == 4 and html.count('<details class="data">') >= 4
    # Headline: storage + NAT spend, savings counted once.
    d = inputs()
    spend = d.inventory_totals["monthly_cost_usd"] + 230.4
    assert f"${spend:,.2f}" in html and f"${d.totals['monthly_savings_usd']:,.2f}/mo" in html


def test_everything_from_aws_is_escaped():
    html = render(inputs())
    assert EVIL not in html
    assert html.count("<script") == 1
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_bar_widths_are_proportional_and_labels_escaped():
    svg = bar_chart([Bar("a<b", 2.0, "$2"), Bar("c", 1.0, "$1", overlay=5.0)], width=500, label_width=100)
    widths = [float(w) for w in re.findall(r'class="bar [^"]*" x="100" y="[\d.]+" width="([\d.]+)"', svg)]
    assert widths[0] == 2 * widths[1] and widths[2] == widths[1]  # the overlay is capped at the bar
    assert "a&lt;b" in svg and "a<b" not in svg
    assert "Nothing to chart" in bar_chart([])


def test_line_chart_has_a_point_per_snapshot():
    svg = line_chart([("d1", 1.0, "1.0", "t1"), ("d2", 2.0, "2.0", "t2"), ("d3", 1.5, "1.5", "t3")])
    assert svg.count("<circle") == 3 and svg.count('class="line"') == 1
    assert line_chart([("d1", 1.0, "1.0", "t")]).count('class="line"') == 0


def test_billed_vs_estimated_and_savings_sections_are_escaped():
    """With billing data the page has the ranked gaps and, after a recorded apply, billed before/after next to
    the prediction; every name in them is escaped. Without billing data, neither section."""
    assert 'id="billed-vs-estimated"' not in render(inputs())
    gap = {"kind": "ecr_storage", "resource": f"team/{EVIL}", "region": "us-east-1", "billed_bytes": 3 * 2**30,
           "estimated_bytes": 2**30, "billed_quantity": 3.0, "estimated_quantity": 1.0, "gap_pct": 200.0,
           "gap_usd": 0.2, "billed_usd": 0.3, "note": EVIL}
    zero = dict(gap, resource="zero", gap_pct=-0.01, gap_usd=-0.001, note="")
    d = inputs()
    d.billing = {"totals": {"billing_period": "2026-11", "rows": 2, "gap_usd": 0.2, "billed_usage_usd": 0.6,
                            "adjustments_usd": 0.0}, "rows": [gap, zero], "adjustments": [],
                 "warnings": [f"warn {EVIL}"],
                 "savings": {"since": "2026-11-01", "totals": {"realised_monthly_usd": 0.6, "predicted_monthly_usd": 0.55},
                             "rows": [{"category": "ecr_storage", "resource": f"team/{EVIL}", "region": "us-east-1",
                                       "before_monthly_usd": 1.2, "after_monthly_usd": 0.6,
                                       "realised_monthly_usd": 0.6, "predicted_monthly_usd": 0.55}]}}
    html = render(d)
    assert EVIL not in html and html.count("<script") == 1
    section = re.search(r'<section class="panel" id="billed-vs-estimated">(.*?)</section>', html, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", section)
    assert "team/&lt;script&gt;" in rows[1] and "+200.0%" in rows[1] and "+$0.20" in rows[1] and "3.0 GiB" in rows[1]
    assert "+0.0%" in rows[2] and "$0.00" in rows[2] and "-$" not in rows[2]  # a gap that rounds to nothing
    assert "Billed before and after the last apply (2026-11-01)" in section
    assert "$0.55" in rows[-1] and "$0.60" in rows[-1] and "team/&lt;script&gt;" in rows[-1]
