"""JSON text exactly as `json.JSONEncoder(indent=2, default=...)` writes it, in about half the time.

With an indent the standard library encodes in pure Python through one generator per nesting level, so every
chunk of a million-image document passes up through five or six generators; this walks the document with one
recursive function and appends finished pieces to a list written out every few thousand pieces. Strings go
through the standard library's own C escaper (`encode_basestring_ascii`) and numbers through `int.__repr__` /
`float.__repr__` as it does, so the text is the same byte for byte (a property test holds the two equal). The
rows of a `Streamed` list go through the standard library's C encoder and msgspec's indenting instead
(`streamed` below): the indenting is then done in C, not a Python call per piece.
"""
from __future__ import annotations

import json
from json.encoder import INFINITY, encode_basestring_ascii
from typing import Any, Callable, Iterable, Iterator, TextIO

import msgspec

_float_repr = float.__repr__
_int_repr = int.__repr__
# Pieces collected before one write: large writes, bounded memory at any document size.
_FLUSH_PIECES = 8192


class Streamed:
    """A JSON list whose items are made while it is written, each dropped once written: a simulation of a million
    images writes one repository's rows at a time instead of building every row first. `make` returns a fresh
    iterable each time (so the list can be read more than once); `len` is its length."""

    def __init__(self, make: Callable[[], Iterable[Any]], length: int) -> None:
        self._make, self._length = make, length

    def __iter__(self) -> Iterator[Any]:
        return iter(self._make())

    def __len__(self) -> int:
        return self._length


def _float(o: float) -> str:
    # As the standard library with allow_nan=True (its default).
    if o != o:
        return "NaN"
    if o == INFINITY:
        return "Infinity"
    if o == -INFINITY:
        return "-Infinity"
    return _float_repr(o)


def _plain(o: Any) -> str | None:
    """None, a bool or a number as JSON text, in the standard library's order (subclasses included); else None."""
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return _int_repr(o)
    if isinstance(o, float):
        return _float(o)
    return None


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    text = _plain(k)
    if text is None:
        raise TypeError(f"keys must be str, int, float, bool or None, not {k.__class__.__name__}")
    return text


def write_json(doc: Any, out: TextIO, default: Callable[[Any], Any]) -> None:
    """Write `doc` to `out` as `json.dump(doc, out, indent=2, default=default)` would, a `Streamed` as a list."""
    pieces: list[str] = []
    add = pieces.append
    newline = ["\n" + "  " * i for i in range(16)]
    active: set[int] = set()  # containers being written: a cycle is an error, as in the standard library

    def value(o: Any, depth: int) -> None:
        t = type(o)
        if t is str:
            add(encode_basestring_ascii(o))
            return
        if t is int:
            add(_int_repr(o))
            return
        if t is dict or t is list or t is tuple:
            container(o, depth)
            return
        if t is Streamed:
            streamed(o, depth)
            return
        s = encode_basestring_ascii(o) if isinstance(o, str) else _plain(o)
        if s is not None:
            add(s)
        elif isinstance(o, (dict, list, tuple)):
            container(o, depth)
        else:
            marker = id(o)
            if marker in active:
                raise ValueError("Circular reference detected")
            active.add(marker)
            value(default(o), depth)
            active.discard(marker)

    def container(o: Any, depth: int) -> None:
        if not o:
            add("{}" if isinstance(o, dict) else "[]")
            return
        while len(newline) <= depth + 1:  # deeper than any document of ours; Python's recursion limit bounds it
            newline.append("\n" + "  " * len(newline))
        marker = id(o)
        if marker in active:
            raise ValueError("Circular reference detected")
        active.add(marker)
        inner, outer = newline[depth + 1], newline[depth]
        first = True
        if isinstance(o, dict):
            for k, v in o.items():
                add(("{" if first else ",") + inner + encode_basestring_ascii(k if type(k) is str else _key(k))
                    + ": ")
                first = False
                value(v, depth + 1)
            add(outer + "}")
        else:
            for v in o:
                add(("[" if first else ",") + inner)
                first = False
                value(v, depth + 1)
            add(outer + "]")
        active.discard(marker)
        if len(pieces) >= _FLUSH_PIECES:
            out.write("".join(pieces))
            pieces.clear()

    compact = json.JSONEncoder(separators=(",", ":"), default=default).encode

    def streamed(o: Streamed, depth: int) -> None:
        # A Streamed list is a simulation's rows, one repository each, up to a million images in all: each row is
        # encoded by the standard library's C encoder without an indent (the same escapes and number text) and
        # indented by msgspec (https://jcristharif.com/msgspec/api.html#msgspec.json.format), which copies every
        # token as it is. A row with NaN or an infinity (not JSON, so msgspec refuses it) is written as above.
        while len(newline) <= depth + 1:
            newline.append("\n" + "  " * len(newline))
        marker = id(o)
        if marker in active:
            raise ValueError("Circular reference detected")
        active.add(marker)
        inner = newline[depth + 1]
        first = True
        for item in o:
            add(("[" if first else ",") + inner)
            first = False
            try:
                add(msgspec.json.format(compact(item), indent=2).replace("\n", inner))
            except msgspec.DecodeError:
                value(item, depth + 1)
            # Written at once: an item is a repository's rows, about 90 MB of text for the largest in the
            # ten-million-image bench, and holding 8,192 pieces before a write took that run to 6.4 GiB.
            out.write("".join(pieces))
            pieces.clear()
        add("[]" if first else newline[depth] + "]")
        active.discard(marker)

    value(doc, 0)
    out.write("".join(pieces))
