"""report/json_text.py writes the same text as json.JSONEncoder(indent=2, default=...) for any document."""
from __future__ import annotations

import enum
import io
import json
from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

from ecrwise.report.json_text import write_json
from ecrwise.report.output import _default, dump_json


class Colour(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Named(str):
    pass


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63, max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(), st.text(alphabet=st.characters(max_codepoint=0x1f)),
    st.sampled_from([Colour.RED, Level.HIGH, Named("x\u2028y"), 1e16, 1e-05, -0.0]),
    st.datetimes(timezones=st.just(timezone.utc)), st.dates(),
)
keys = st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.lists(inner, max_size=5).map(tuple),
                            st.dictionaries(keys, inner, max_size=5),
                            st.sets(st.integers(), max_size=4)),
    max_leaves=40)


def _ours(doc: object) -> str:
    out = io.StringIO()
    write_json(doc, out, _default)
    return out.getvalue()


@settings(max_examples=400, deadline=None)
@given(documents)
def test_same_text_as_the_standard_library(doc: object) -> None:
    assert _ours(doc) == json.JSONEncoder(indent=2, default=_default).encode(doc)


def test_large_documents_are_written_in_pieces_and_stay_the_same() -> None:
    doc = {"items": [{"digest": f"sha256:{i:064x}", "tags": [f"v{i}"], "pushed_at": datetime(2025, 1, 1),
                      "n": i / 7} for i in range(20_000)]}
    writes: list[str] = []

    class Out:
        def write(self, s: str) -> None:
            writes.append(s)

    write_json(doc, Out(), _default)  # type: ignore[arg-type]
    assert len(writes) > 5
    assert "".join(writes) == json.JSONEncoder(indent=2, default=_default).encode(doc)


def test_the_standard_library_errors_are_kept() -> None:
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference"):
        _ours(looped)
    with pytest.raises(TypeError, match="keys must be str"):
        _ours({(1, 2): 3})
    with pytest.raises(TypeError, match="not JSON serialisable"):
        _ours({"x": object()})


def test_dump_json_ends_with_a_newline() -> None:
    out = io.StringIO()
    dump_json({"at": date(2025, 1, 2)}, out)
    assert out.getvalue() == '{\n  "at": "2025-01-02"\n}\n'


def test_a_streamed_list_is_written_as_the_list_it_makes() -> None:
    from ecrwise.report.json_text import Streamed

    made: list[int] = []

    def rows():
        for i in range(3):
            made.append(i)
            yield {"i": i, "tags": [f"v{i}"]}

    doc = {"items": Streamed(rows, 3), "none": Streamed(lambda: iter(()), 0), "after": 1}
    assert _ours(doc) == json.JSONEncoder(indent=2).encode(
        {"items": [{"i": i, "tags": [f"v{i}"]} for i in range(3)], "none": [], "after": 1})
    assert made == [0, 1, 2] and len(doc["items"]) == 3 and list(doc["items"]) == list(doc["items"])


@settings(max_examples=300, deadline=None)
@given(st.lists(documents, max_size=6), st.integers(0, 3))
def test_streamed_rows_are_the_same_text_as_the_standard_library(rows: list[object], depth: int) -> None:
    # Rows go through the C encoder and msgspec's indenting (NaN and infinities through the Python path).
    from ecrwise.report.json_text import Streamed

    doc: object = Streamed(lambda: iter(rows), len(rows))
    plain: object = rows
    for _ in range(depth):
        doc, plain = {"items": doc, "n": 1}, {"items": plain, "n": 1}
    assert _ours(doc) == json.JSONEncoder(indent=2, default=_default).encode(plain)
