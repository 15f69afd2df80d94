"""The one input loader (ecrwise.inputs) and the exit-code policy of `ecrwise.cli.main.main()`."""
from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from ecrwise.errors import AwsUnavailable, PartialFailure, UserError, outcome_error
from ecrwise.remediate.integrity import seal
from ecrwise.inputs import (MAX_DEPTH, MAX_INT_DIGITS, InputError, check_number, gunzip, json_depth, load_document, load_text,
                            output_errors, parse_json)


def write(tmp_path: Path, data: bytes | str, name: str = "f.json") -> Path:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


def err(tmp_path: Path, data: bytes | str, **kw) -> InputError:
    with pytest.raises(InputError) as e:
        load_document(write(tmp_path, data), **kw)
    return e.value


def test_valid_document_and_bom(tmp_path):
    assert load_document(write(tmp_path, '{"a": [1, 2.5, "x", null, true]}')) == {"a": [1, 2.5, "x", None, True]}
    assert load_document(write(tmp_path, b"\xef\xbb\xbf" + b'{"a": 1}')) == {"a": 1}


def test_non_utf8_names_file_and_byte_offset(tmp_path):
    e = err(tmp_path, b'{"a": "\xff"}')
    assert str(e).startswith(f"{tmp_path / 'f.json'}: not UTF-8 text: byte 0xff at offset 7")
    assert e.code == "not-utf8"


def test_deep_nesting_is_refused_before_parsing(tmp_path):
    e = err(tmp_path, "[" * 100_000)
    assert e.code == "too-deep" and "100000 levels" in str(e)
    assert load_document(write(tmp_path, "[" * MAX_DEPTH + "]" * MAX_DEPTH)) is not None
    assert err(tmp_path, "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).code == "too-deep"
    # Brackets inside strings are text, not nesting.
    assert load_document(write(tmp_path, json.dumps({"s": "[" * 1000 + '\\"{'}))) == {"s": "[" * 1000 + '\\"{'}
    assert json_depth('{"a": "]]]]", "b": [[{}]]}') == 4


def test_huge_integer_nan_infinity_and_overflowing_floats_carry_their_json_path(tmp_path):
    e = err(tmp_path, '{"rules": [{"n": ' + "9" * 5000 + "}]}")
    assert (e.code, e.path) == ("invalid-number", "rules[0].n") and "5000 digits" in str(e)
    for const in ("NaN", "Infinity", "-Infinity"):
        e = err(tmp_path, f'{{"x": [1, {const}]}}')
        assert (e.code, e.path) == ("invalid-number", "x[1]") and const in str(e)
    assert err(tmp_path, '{"x": 1e999}').path == "x"
    assert err(tmp_path, '{"x": -1e999}').code == "invalid-number"


def test_numbers_the_fast_path_leaves_to_json_are_the_same(tmp_path):
    """A document without an over-long integer or a constant outside its strings is parsed without the number
    hooks: such text inside strings stays text, a 40-digit integer still loads, the first bad one is still found."""
    text = json.dumps({"s": "NaN Infinity " + "9" * 60, "n": 10**39, "f": 1.5, "neg": -7})
    assert load_document(write(tmp_path, text)) == json.loads(text)
    e = err(tmp_path, '{"s": "NaN", "x": [0, ' + "1" * (MAX_INT_DIGITS + 1) + "]}")
    assert (e.code, e.path) == ("invalid-number", "x[1]")
    assert err(tmp_path, '{"s": "' + "1" * 50 + '", "y": {"z": -Infinity}}').path == "y.z"


def test_duplicate_keys_and_invalid_json(tmp_path):
    e = err(tmp_path, '{"a": {"b": 1, "b": 2}}')
    assert (e.code, e.path) == ("duplicate-key", "a") and "'b' appears twice" in str(e)
    e = err(tmp_path, '{"a": ')
    assert e.code == "invalid-json" and "line 1 column" in str(e)


def test_unreadable_and_too_large(tmp_path):
    with pytest.raises(InputError, match="cannot read price file: No such file"):
        load_document(tmp_path / "nope.json", what="price file")
    with pytest.raises(InputError, match="cannot read policy file: it is a directory"):
        load_document(tmp_path, what="policy file")
    with pytest.raises(InputError, match="larger than 0 MiB") as e:
        load_document(write(tmp_path, "[1]" * 10), max_bytes=5)
    assert e.value.code == "too-large"


class Inner(BaseModel):
    count: int


class Doc(BaseModel):
    items: list[Inner]


def test_schema_errors_carry_json_paths(tmp_path):
    e = err(tmp_path, '{"items": [{"count": 1}, {"count": "x"}, {}]}', schema=Doc)
    lines = str(e).splitlines()
    assert e.path == "items[1].count" and lines[0].endswith("items[1].count: Input should be a valid integer, "
                                                            "unable to parse string as an integer")
    assert lines[1].endswith("items[2].count: Field required")
    assert load_document(write(tmp_path, '{"items": [{"count": 3}]}'), schema=Doc).items[0].count == 3


def test_gzip_and_base64(tmp_path):
    text = "ECS_CLUSTER=prod\n"
    gz = gzip.compress(text.encode())
    assert load_text(write(tmp_path, gz), allow_gzip=True) == text
    assert load_text(write(tmp_path, base64.b64encode(gz)), allow_gzip=True, allow_base64=True) == text
    assert load_text(write(tmp_path, base64.b64encode(text.encode())), allow_base64=True) == text
    assert load_text(write(tmp_path, "true"), allow_base64=True) == "true"  # base64 alphabet, not base64
    with pytest.raises(InputError, match="truncated gzip data") as e:
        load_text(write(tmp_path, gz[:-6]), allow_gzip=True)
    assert e.value.code == "bad-gzip"
    with pytest.raises(InputError, match="corrupt gzip data"):
        load_text(write(tmp_path, gz[:10] + b"\xff" * 20), allow_gzip=True)
    with pytest.raises(InputError, match="expands beyond"):
        gunzip(gzip.compress(b"0" * 10_000), source="bomb", max_bytes=1000)
    with pytest.raises(InputError, match="not UTF-8"):  # gzip not allowed: the raw bytes are not text
        load_text(write(tmp_path, gz))


def test_parse_json_never_raises_anything_but_input_error():
    for text in ("", "[" * 10**6, '{"a":' * 70 + "1" + "}" * 70, "1" * 10_000, '"\\ud800"', "[1,]", "\x00"):
        try:
            parse_json(text, source="t")
        except InputError:
            pass


def test_check_number():
    assert check_number(2.5, "--x", ge=0) == 2.5
    for bad in (float("nan"), float("inf"), -1.0, 2e9):
        with pytest.raises(UserError, match="--x"):
            check_number(bad, "--x", ge=0, le=1e9)
    with pytest.raises(UserError, match="greater than 0"):
        check_number(0, "hours_per_month", gt=0)


def test_output_errors_name_path_and_reason(tmp_path):
    blocker = write(tmp_path, "x", "file")
    with pytest.raises(UserError, match=r"file/sub/out.json: cannot write plan: Not a directory \(.*file/sub\)"):
        with output_errors(blocker / "sub" / "out.json", "plan"):
            (blocker / "sub").mkdir(parents=True)


def test_outcome_error_never_4_on_a_dry_run():
    assert outcome_error("repositories", applied=False, total=3, changed=0, failed=0) is None
    assert isinstance(outcome_error("r", applied=False, total=3, changed=0, failed=0, stale=1), UserError)
    assert isinstance(outcome_error("r", applied=False, total=3, changed=0, failed=1), AwsUnavailable)
    assert isinstance(outcome_error("r", applied=True, total=3, changed=1, failed=1), PartialFailure)
    assert isinstance(outcome_error("r", applied=True, total=3, changed=1, failed=0, stale=1), PartialFailure)
    assert isinstance(outcome_error("r", applied=True, total=3, changed=0, failed=2), AwsUnavailable)


# -- the price file: finite, in range ------------------------------------------------------------------------

@pytest.mark.parametrize("doc, expected", [
    ('{"regions": {"us-east-1": {"nat_gateway_gb": NaN}}}', "regions.us-east-1.nat_gateway_gb: NaN is not"),
    ('{"regions": {"us-east-1": {"nat_gateway_gb": 1e999}}}', "too large"),
    ('{"regions": {"us-east-1": {"nat_gateway_gb": "nan"}}}', "finite number"),
    ('{"regions": {"us-east-1": {"nat_gateway_gb": 1e300}}}', "above the"),
    ('{"hours_per_month": -730}', "hours_per_month: Input should be greater than 0"),
    ('{"hours_per_month": 0}', "hours_per_month: Input should be greater than 0"),
    ('{"hours_per_month": 1e6}', "hours_per_month: Input should be less than or equal to 744"),
    ('{"hours_per_month": Infinity}', "hours_per_month: Infinity is not"),
])
def test_price_file_numbers_must_be_finite_and_in_range(tmp_path, doc, expected):
    from ecrwise.pricing.book import load_price_book

    with pytest.raises(UserError) as e:
        load_price_book(write(tmp_path, doc))
    assert expected in str(e.value) and str(tmp_path) in str(e.value)


# -- main(): exit codes ----------------------------------------------------------------------------------------

def test_internal_error_exits_70_with_one_line_and_a_crash_file(cli, tmp_path, monkeypatch):
    import ecrwise.cli.lifecycle as lc

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def boom(*a, **k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(lc, "get_template", boom)
    res = cli("lifecycle", "template", "x")
    assert res.code == 70 and "Traceback" not in res.err
    (line,) = res.err.strip().splitlines()
    assert line.startswith("ecrwise: internal error, please report: ")
    crash = Path(line.split(": ", 2)[2])
    assert crash.parent == tmp_path / "state" / "ecrwise" / "crash"
    assert "ZeroDivisionError: boom" in crash.read_text() and "Traceback" in crash.read_text()


def test_out_of_memory_exits_70_with_a_line_that_says_so(cli, tmp_path, monkeypatch):
    """A snapshot too large for the machine (10,000,000 images in `lifecycle simulate`) is not a crash to report:
    one line saying what ran out and what to do, exit 70, no traceback."""
    import ecrwise.cli.lifecycle as lc

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def oom(*a, **k):
        raise MemoryError()

    monkeypatch.setattr(lc, "get_template", oom)
    res = cli("lifecycle", "template", "x")
    assert res.code == 70 and "Traceback" not in res.err
    (line,) = res.err.strip().splitlines()
    assert line.startswith("ecrwise: error: out of memory:") and "--repository" in line
    assert not (tmp_path / "state" / "ecrwise" / "crash").exists()


def test_eof_and_interrupt(cli, tmp_path, monkeypatch):
    import ecrwise.cli.lifecycle as lc

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for exc, code in ((EOFError, 70), (KeyboardInterrupt, 130)):
        def raise_(*a, exc=exc, **k):
            raise exc()

        monkeypatch.setattr(lc, "get_template", raise_)
        res = cli("lifecycle", "template", "x")
        assert res.code == code and "Aborted" not in res.err and "Traceback" not in res.err


def test_usage_and_user_errors_exit_2(cli, tmp_path):
    assert cli("no-such-command").code == 2
    assert cli("repos", "--top", "zero").code == 2
    res = cli("lifecycle", "simulate", "--at", "+3000000d", "--images", tmp_path / "i.json", "--policy",
              tmp_path / "p.json")
    assert res.code == 2 and "more than 100 years" in res.err
    res = cli("network", "cost", "--pull-gb-month", "inf", "--azs", "2")
    assert res.code == 2 and "not a finite number" in res.err
    res = cli("network", "cost", "--pull-gb-month", "1e308", "--azs", "2")
    assert res.code == 2 and "above the maximum" in res.err


def test_unwritable_out_is_exit_2_with_path_and_reason(cli, tmp_path):
    from ecrwise.remediate.backup import write_backup, write_durably

    blocker = write(tmp_path, "x", "blocker")
    with pytest.raises(UserError, match="blocker/plan.json: cannot write file: "):
        write_durably(blocker / "plan.json", {})
    with pytest.raises(UserError, match="blocker/b/lifecycle-backup-.*json: cannot write file: "):
        write_backup(blocker / "b", "lifecycle-backup", {})


def test_ecs_restore_rejects_wrong_types_before_any_aws_call(cli, tmp_path):
    good = {"service_arn": "arn:aws:ecs:us-east-1:123456789012:service/c/s", "region": "us-east-1",
            "cluster": "c", "service": "s", "previous": {"maximumPercent": 200}, "planned": {"maximumPercent": 200}}
    cases = [({**good, "region": 5}, "services[0].region"), ({**good, "region": "not a region"}, "services[0].region"),
             ({**good, "cluster": ["x"]}, "services[0].cluster"),
             ({**good, "previous": {"maximumPercent": "200"}}, "services[0].previous.maximumPercent"),
             ({**good, "previous": {"deploymentCircuitBreaker": {"enable": 1, "rollback": True}}},
              "services[0].previous.deploymentCircuitBreaker.enable"),
             ({**good, "previous": []}, "services[0].previous")]
    for entry, path in cases:
        # Sealed (a recomputed digest proves nothing): the types are still checked before any AWS call.
        f = write(tmp_path, json.dumps(seal({"kind": "ecs-circuit-breaker-backup", "services": [entry]})))
        res = cli("ecs", "restore", f)
        assert res.code == 2 and f"{f}: {path}:" in res.err, (entry, res.err)


def test_agent_config_bad_gzip_is_exit_2(cli, tmp_path):
    gz = gzip.compress(b"#!/bin/bash\necho ECS_CLUSTER=x >> /etc/ecs/ecs.config\n")
    for data, msg in ((gz[:-4], "truncated gzip"), (gz[:12] + b"\x00" * 9, "corrupt gzip"),
                      (base64.b64encode(gz[:-4]), "truncated gzip"), (b"ECS_CLUSTER=\xff", "not UTF-8")):
        res = cli("ecs", "agent-config", write(tmp_path, data, "user-data"))
        assert res.code == 2 and msg in res.err and "Aborted" not in res.err, res.err
    res = cli("ecs", "agent-config", write(tmp_path, base64.b64encode(gz), "user-data"))
    assert res.code == 0, res.err
