"""The one gate every user-supplied file crosses: bytes → text → JSON → schema, each step with a clear error.

Every file a command reads (policies, image documents, in-use lists, price files, plans, backups, agent
configs) goes through `load_document` (or, for plain text, `load_text`). Whatever the bytes, the result is
either the validated document or a `UserError` (exit 2) that names the file and, for JSON, the JSON path in
the style `lifecycle lint` uses (`rules[0].selection.countNumber`; the root is `(document)`):

- size: at most `MAX_BYTES` read, and at most `MAX_BYTES` after gunzip (a gzip bomb stops there);
- encoding: strict UTF-8, a leading byte-order mark accepted; a bad byte is reported with its offset;
- gzip / base64: only where the format allows them; corrupt or truncated data is an error, not zlib's;
- JSON nesting at most `MAX_DEPTH` deep, checked *before* parsing, because `json.loads` recurses (in C and
  Python) and a file of 100,000 `[` would otherwise end in RecursionError;
- numbers: integers of at most `MAX_INT_DIGITS` digits (Python refuses to convert more than 4,300 anyway),
  no NaN / Infinity / -Infinity (not JSON, RFC 8259 §6, though Python's json accepts them) and no float
  that overflows to infinity (`1e999`);
- duplicate keys in one object are refused (which value would win is up to the parser);
- then the pydantic `schema`, every error with its JSON path.

Pure: no AWS, no CLI; it reads files and nothing else. `output_errors` is the matching guard for files the
user names for writing (`--out`, `--backup-dir`): an OS error becomes a UserError naming the path.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from contextlib import contextmanager
from itertools import accumulate
from pathlib import Path
from typing import Any, Iterator, TypeVar

from pydantic import BaseModel, ValidationError

from ecrwise.errors import UserError

MAX_BYTES = 32 * 2**20  # larger than any file ecrwise writes for a big estate; a limit, not a target
MAX_DEPTH = 64  # ecrwise's deepest document (a plan) nests 7 levels
MAX_INT_DIGITS = 40  # 2**128 has 39 digits; nothing ecrwise reads counts higher
MAX_ERRORS = 5  # schema errors listed per file; the rest are counted

_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"

M = TypeVar("M", bound=BaseModel)


class InputError(UserError):
    """A user file that cannot be used: exit 2. `source` is the file, `path` the JSON path (or None), `code`
    a short kebab-case name of the problem (`lifecycle lint` reports it)."""

    def __init__(self, source: str, message: str, path: str | None = None, code: str = "invalid-file"):
        self.source, self.path, self.detail, self.code = source, path, message, code
        super().__init__(f"{source}: {path}: {message}" if path else f"{source}: {message}")


# -- bytes ----------------------------------------------------------------------------------------------

def read_bytes(path: str | Path, *, what: str = "file", max_bytes: int = MAX_BYTES, source: str | None = None
               ) -> bytes:
    """The file's bytes, at most `max_bytes` of them; any OS error becomes an InputError with its reason."""
    p = Path(path)
    src = source or str(p)
    try:
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except IsADirectoryError:
        raise InputError(src, f"cannot read {what}: it is a directory", code="unreadable") from None
    except OSError as e:
        raise InputError(src, f"cannot read {what}: {e.strerror or e}", code="unreadable") from None
    if len(data) > max_bytes:
        raise InputError(src, f"{what} larger than {max_bytes // 2**20} MiB; not read", code="too-large")
    return data


def decode_utf8(data: bytes, *, source: str) -> str:
    """Strict UTF-8 (a leading byte-order mark is dropped); a bad byte is reported with its offset."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as e:
        off = start + e.start
        raise InputError(source, f"not UTF-8 text: byte 0x{data[off]:02x} at offset {off} ({e.reason})",
                         code="not-utf8") from None


def gunzip(data: bytes, *, source: str, max_bytes: int = MAX_BYTES) -> bytes:
    """Decompress gzip data (every member), refusing corrupt, truncated or over-large content."""
    out = bytearray()
    rest = data
    while rest:
        d = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
        try:
            out += d.decompress(rest, max_bytes + 1 - len(out))
        except zlib.error as e:
            raise InputError(source, f"corrupt gzip data ({e})", code="bad-gzip") from None
        if len(out) > max_bytes:
            raise InputError(source, f"gzip data expands beyond {max_bytes // 2**20} MiB; not read", code="too-large")
        if not d.eof:
            raise InputError(source, "truncated gzip data (the stream ends before its end marker)", code="bad-gzip")
        rest = d.unused_data
        if rest and not rest.startswith(_GZIP_MAGIC):
            raise InputError(source, "trailing bytes after the gzip data", code="bad-gzip")
    return bytes(out)


_B64 = re.compile(rb"[A-Za-z0-9+/=\s]+")


def maybe_base64(data: bytes, *, source: str) -> bytes:
    """Base64 undone when the whole content is base64 (as EC2 returns user data); otherwise unchanged.

    Text that merely happens to use only base64's alphabet (`true`, a single word) decodes to bytes that are
    neither gzip nor UTF-8; those are left as they were."""
    stripped = data.strip()
    if not stripped or not _B64.fullmatch(stripped):
        return data
    try:
        decoded = base64.b64decode(b"".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError):
        return data
    if decoded.startswith(_GZIP_MAGIC):
        return decoded
    try:
        decoded.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return decoded


# -- JSON -----------------------------------------------------------------------------------------------

class _Bad:
    """Stands in for a number or constant the JSON hooks refused, so the error can carry its JSON path."""
    __slots__ = ("why",)

    def __init__(self, why: str):
        self.why = why


class _Duplicate(dict):  # type: ignore[type-arg]
    """An object that had a key twice; `key` says which."""

    def __init__(self, pairs: list[tuple[str, Any]], key: str):
        super().__init__(pairs)
        self.key = key


class _Hooks:
    """json.loads' hooks for one parse. `flagged` says whether any stand-in was made, so a valid document (the
    common case) is not walked again to look for them."""

    def __init__(self) -> None:
        self.flagged = False

    def bad(self, why: str) -> _Bad:
        self.flagged = True
        return _Bad(why)

    def integer(self, s: str) -> Any:
        digits = len(s.lstrip("-"))
        if digits > MAX_INT_DIGITS:
            return self.bad(f"an integer of {digits} digits; at most {MAX_INT_DIGITS} are accepted")
        return int(s)

    def number(self, s: str) -> Any:
        v = float(s)
        if math.isinf(v):
            return self.bad(f"the number {s[:20]}{'…' if len(s) > 20 else ''} is too large (it overflows to "
                            "infinity)")
        return v

    def constant(self, s: str) -> Any:
        return self.bad(f"{s} is not a JSON number (RFC 8259); give a finite number")

    def pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(pairs)
        if len(d) == len(pairs):  # no key twice: one dict, not a set walk per object
            return d
        self.flagged = True
        seen: set[str] = set()
        repeated = next(k for k, _ in pairs if k in seen or seen.add(k))  # add() is None: k is recorded
        return _Duplicate(pairs, repeated)


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[]{}")  # bytes.translate's deletion table
# Outside strings, what only the number hooks can judge: an integer of more digits than allowed, a constant.
_NEEDS_NUMBER_HOOKS = re.compile(rf"[0-9]{{{MAX_INT_DIGITS + 1},}}|NaN|Infinity")


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects, counting brackets outside strings. Linear, no recursion."""
    return _bare_depth(_without_strings(text))


def _without_strings(text: str) -> str:
    """The text with every JSON string taken out. Without a backslash before a quote, every quote opens or
    closes a string, so splitting at quotes is exact (and much faster than the regex on a large document)."""
    if '\\"' in text:
        return _STRING.sub("", text)
    return "".join(text.split('"')[::2])


def _bare_depth(bare: str) -> int:
    # Encoded, the brackets are picked out in C (bytes.translate), not by a regex building a string.
    brackets = bare.encode("utf-8", "replace").translate(None, _NOT_BRACKET)
    if not brackets:
        return 0
    return max(0, max(accumulate(1 if c in b"[{" else -1 for c in brackets)))


def json_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("rules", 0, "selection")` → `rules[0].selection`; the empty path is `(document)`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def _find_bad(doc: Any, loc: list[Any]) -> tuple[list[Any], str, str] | None:
    # Depth is bounded (MAX_DEPTH) before this runs, so recursion is safe.
    if isinstance(doc, _Bad):
        return loc, doc.why, "invalid-number"
    if isinstance(doc, dict):
        if isinstance(doc, _Duplicate):
            return loc, f"property {doc.key!r} appears twice in one object", "duplicate-key"
        for k, v in doc.items():
            if isinstance(v, (dict, list, _Bad)):
                found = _find_bad(v, [*loc, k])
                if found:
                    return found
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            if isinstance(v, (dict, list, _Bad)):
                found = _find_bad(v, [*loc, i])
                if found:
                    return found
    return None


def parse_json(text: str, *, source: str, max_depth: int = MAX_DEPTH) -> Any:
    """JSON text → Python, with the depth, number and duplicate-key rules of this module."""
    bare = _without_strings(text)  # the document without its strings: brackets, numbers, constants
    depth = _bare_depth(bare)
    if depth > max_depth:
        raise InputError(source, f"JSON nested {depth} levels deep; at most {max_depth} are accepted",
                         code="too-deep")
    hooks = _Hooks()
    # Without an over-long integer or a constant anywhere, json's own (C) integer parsing gives the same
    # document as the hooks would: a large images document skips a Python call per integer.
    numbers = bool(_NEEDS_NUMBER_HOOKS.search(bare))
    del bare
    try:
        doc = json.loads(text, parse_int=hooks.integer if numbers else None, parse_float=hooks.number,
                         parse_constant=hooks.constant if numbers else None, object_pairs_hook=hooks.pairs)
    except json.JSONDecodeError as e:
        raise InputError(source, f"not valid JSON: line {e.lineno} column {e.colno}: {e.msg}",
                         code="invalid-json") from None
    except RecursionError:  # unreachable after the depth check; kept so no input can escape as a traceback
        raise InputError(source, "JSON nested too deeply", code="too-deep") from None
    bad = _find_bad(doc, []) if hooks.flagged else None
    if bad:
        raise InputError(source, bad[1], json_path(bad[0]), code=bad[2])
    return doc


def schema_errors(e: ValidationError, *, source: str) -> InputError:
    """A pydantic error as one InputError: up to MAX_ERRORS lines `source: json.path: message`."""
    lines = []
    errors = e.errors(include_url=False)
    for err in errors[:MAX_ERRORS]:
        msg = str(err["msg"]).removeprefix("Value error, ").splitlines()[0]
        lines.append((json_path(err["loc"]), msg))
    first_path, first_msg = lines[0]
    more = "".join(f"\n{source}: {p}: {m}" for p, m in lines[1:])
    if len(errors) > MAX_ERRORS:
        more += f"\n{source}: … and {len(errors) - MAX_ERRORS} more"
    return InputError(source, first_msg + more, first_path, code="schema")


def validate(doc: Any, schema: type[M], *, source: str) -> M:
    try:
        return schema.model_validate(doc)
    except ValidationError as e:
        raise schema_errors(e, source=source) from None


# -- the entry points -----------------------------------------------------------------------------------

def load_text(path: str | Path, *, what: str = "file", source: str | None = None, allow_gzip: bool = False,
              allow_base64: bool = False, max_bytes: int = MAX_BYTES) -> str:
    """A user file as text, with the size, encoding (and, where allowed, base64 and gzip) rules."""
    src = source or str(path)
    data = read_bytes(path, what=what, max_bytes=max_bytes, source=src)
    if allow_base64:
        data = maybe_base64(data, source=src)
    if allow_gzip and data.startswith(_GZIP_MAGIC):
        data = gunzip(data, source=src, max_bytes=max_bytes)
    return decode_utf8(data, source=src)


def load_document(path: str | Path, *, what: str = "file", schema: type[M] | None = None,
                  source: str | None = None, allow_gzip: bool = False, max_bytes: int = MAX_BYTES) -> Any:
    """Read, decode, parse and (with `schema`) validate one JSON file; the model, or the plain document.

    Every failure is an InputError (a UserError, exit 2) naming `source` (default: the path) and, for a
    problem inside the document, its JSON path."""
    src = source or str(path)
    doc = parse_json(load_text(path, what=what, source=src, allow_gzip=allow_gzip, max_bytes=max_bytes),
                     source=src)
    return validate(doc, schema, source=src) if schema is not None else doc


# -- AWS names a file may carry (checked before they reach an API call) -----------------------------------

# Region names: us-east-1, us-gov-west-1, cn-north-1, eu-isoe-west-1 (a malformed one makes botocore raise
# InvalidRegionError while building the client).
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"
ACCOUNT_PATTERN = r"^[0-9]{12}$"  # AWS account ids are 12 digits
# ECR repository names (ECR API Reference, CreateRepository repositoryName: 2-256 characters, this pattern).
REPOSITORY_PATTERN = r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$"


def check_aws_names(items: list[Any], *, source: str, field: str = "items") -> None:
    """Each item's `account`, `region` and `repository` (attributes), in the formats AWS accepts."""
    for i, it in enumerate(items):
        for attr, pattern, what in (("account", ACCOUNT_PATTERN, "a 12-digit AWS account id"),
                                    ("region", REGION_PATTERN, "an AWS region name such as us-east-1"),
                                    ("repository", REPOSITORY_PATTERN, "an ECR repository name")):
            v = getattr(it, attr, None)
            if v is None:
                continue
            if not isinstance(v, str) or not re.fullmatch(pattern, v) or (attr == "repository" and len(v) > 256):
                raise InputError(source, f"{v!r} is not {what}", f"{field}[{i}].{attr}", code="schema")


# -- numbers --------------------------------------------------------------------------------------------

def check_number(value: float, what: str, *, ge: float | None = None, gt: float | None = None,
                 le: float | None = None) -> float:
    """`value` if finite and in range, else UserError naming `what`. `min=` in Typer lets NaN through
    (every comparison with NaN is false), so options and files go through this instead."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{what}: {value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{what}: {value} is not a finite number")
    if ge is not None and value < ge:
        raise UserError(f"{what}: {value} is below the minimum {ge}")
    if gt is not None and value <= gt:
        raise UserError(f"{what}: {value} must be greater than {gt}")
    if le is not None and value > le:
        raise UserError(f"{what}: {value} is above the maximum {le:g}")
    return value


# -- files the user names for writing -------------------------------------------------------------------

@contextmanager
def output_errors(path: str | Path, what: str = "file") -> Iterator[None]:
    """Turn an OS error while writing a user-named file or directory into UserError with path and reason."""
    try:
        yield
    except OSError as e:
        at = e.filename if isinstance(e.filename, str) and e.filename and e.filename != str(path) else None
        raise UserError(f"{path}: cannot write {what}: {e.strerror or e}" + (f" ({at})" if at else "")) from None
