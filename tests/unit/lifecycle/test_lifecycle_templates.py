"""Shipped templates: each lints clean (bar the byte-exact playbook copy, which cannot), and does what it says."""
from __future__ import annotations

from pathlib import Path

import pytest

from ecrwise.errors import UserError
from ecrwise.lifecycle.policy import lint, parse_policy
from ecrwise.lifecycle.templates import TEMPLATES, get_template, template_names
from lc_helpers import img, names, run

# shared/ sits beside the repository (locally and in CI); the seed test skips where it is absent.
SEED = next((p for p in (Path(__file__).resolve().parents[4] / "shared" / "seeds", Path("/work/shared/seeds"))
             if p.is_dir()), Path("/nonexistent"))


def test_every_template_file_is_listed_and_vice_versa():
    shipped = {p.stem for p in (Path(__file__).parents[3] / "src/ecrwise/lifecycle/templates").glob("*.json")}
    assert shipped == set(TEMPLATES) == set(template_names())


@pytest.mark.parametrize("name", [n for n in TEMPLATES if n != "playbook-base-as-published"])
def test_templates_lint_clean(name):
    assert lint(get_template(name)) == []


def test_published_playbook_policy_is_not_valid_json():
    (issue,) = lint(get_template("playbook-base-as-published"))
    assert issue.code == "invalid-json" and "line 7 column 1" in issue.message and "U+00A0" in issue.message


def test_playbook_base_is_the_published_text_with_plain_spaces():
    published = get_template("playbook-base-as-published")
    assert "\u00a0" in published
    assert get_template("playbook-base") == published.replace("\u00a0", " ")


@pytest.mark.skipif(not SEED.is_dir(), reason="seed material not present")
def test_published_copy_matches_seed_002_byte_for_byte():
    (seed,) = SEED.glob("002_*.txt")
    assert get_template("playbook-base-as-published").rstrip("\n") in seed.read_text(encoding="utf-8")


def test_unknown_template():
    with pytest.raises(UserError, match="available: playbook-base"):
        get_template("nope")


def test_playbook_any_rule_only_reaches_images_no_earlier_rule_selects():
    # "Keep 20 images all together" does not keep 20 images overall: untagged, latest* and v* images are
    # selected by rules 1-3, so rule 4 can only expire the rest (git-sha builds here), though it counts all.
    images = [img(f"v{i:02d}", [f"v1.{i}"], days=100 - i) for i in range(12)]
    images += [img(f"sha{i:02d}", [f"{i:07x}"], days=300 - i) for i in range(15)]
    images += [img("latest", ["latest"], days=0), img("untagged-old", days=200), img("untagged-new", days=1)]
    ev = run(get_template("playbook-base"), images)
    by_rule = {p: [im.digest.split(":")[1] for im, q in ev.expire if q == p] for p in (1, 2, 3, 4)}
    assert by_rule[1] == ["untagged-old"]
    assert by_rule[2] == []
    assert by_rule[3] == ["v00", "v01", "v02"]  # keeps the 9 newest v* images
    # Youngest first: latest, untagged-new, 12 v*, untagged-old, then sha14..sha10 fill the count of 20;
    # sha09..sha00 lie beyond it.
    assert by_rule[4] == [f"sha{i:02d}" for i in range(10)]
    assert len(ev.kept) == 30 - 1 - 3 - 10


def test_archive_old_template():
    pol = parse_policy(get_template("archive-old"))
    ev = run(pol.to_dict(), [img("v-cold", ["v1.0.0"], days=400, pulled_days=120),
                             img("v-warm", ["v1.1.0"], days=400, pulled_days=3),
                             img("u-old", days=30),
                             img("arc", ["v0.9"], days=900, storage_class="archive", archived_days=400)])
    assert names(ev.transition) == ["v-cold"]
    assert names(ev.expire) == ["arc", "u-old"]
