"""`ecrwise findings`: every finding of every registered check, ranked by monthly savings; filters; formats
table, json, csv, markdown and sarif; `--fail-on-*` gates for CI. Thin: loads a snapshot, calls
`analysis.findings`, renders with `report.findings`.
"""
from __future__ import annotations

import inspect
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable, List, Mapping, Optional

import typer

from ecrwise.cli.common import PriceFileOpt, SnapshotOpt, StoreOpt, prices
from ecrwise.errors import UserError
from ecrwise.report import sanitize
from ecrwise.report.findings import default_text
from ecrwise.report.output import stderr_console
from ecrwise.report.render import render

app = typer.Typer(help="Every finding of every analysis, ranked by monthly savings.", invoke_without_command=True,
                  no_args_is_help=False)


class FindingsFmt(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    sarif = "sarif"


def check_options(*, now: Any, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What `analysis.findings.collect` takes: the snapshot's time and the FAMILY.OPTION values given; every
    other option takes its default from its check's options model (the only place a default is written)."""
    return {"now": now, **(values or {})}


# -- check options: flags, --set and --config, all from the checks' option models -----------------------------

MAX_CONFIG_BYTES = 1 << 20


def _param_name(spec: Any) -> str:
    return "opt_" + spec.flag.lstrip("-").replace("-", "_")


def _flag_specs() -> list[Any]:
    from ecrwise.analysis.checks import option_specs

    return [s for s in option_specs().values() if s.flag]


def with_check_option_flags(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give `fn` (which takes **flags) one Typer option per check option that declares a flag, built from the
    option's model: its type, and help naming the default. Their Typer default is None (not given), so the
    model's default is the only one."""
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    at = next((i for i, p in enumerate(params) if p.name == "docs_base_url"), len(params))
    added = []
    for spec in _flag_specs():
        kind = {"integer": int, "number": float}.get(spec.type, str)
        annotation = Optional[List[str]] if spec.is_list else Optional[kind]  # type: ignore[valid-type]
        more = " Repeatable." if spec.is_list else ""
        added.append(inspect.Parameter(
            _param_name(spec), inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation,
            default=typer.Option(None, spec.flag, metavar=spec.metavar,
                                 help=f"{spec.help}{more} Default {default_text(spec.default)}; same as --set "
                                      f"{spec.key}=…")))
    fn.__signature__ = sig.replace(parameters=params[:at] + added + params[at:])  # type: ignore[attr-defined]
    return fn


def check_option(key: str) -> Any:
    """A Typer option for one check option, its default and help from the check's model: for other commands that
    take one (`ecrwise ecs --crash-loop-threshold`), so the default stays written once. The value is validated
    by the model when the checks run (a UserError naming the option)."""
    from ecrwise.analysis.checks import option_specs

    spec = option_specs()[key]
    return typer.Option(spec.default, spec.flag, help=f"{spec.help} Default {default_text(spec.default)}.")


def load_option_file(path: Path) -> dict[str, Any]:
    """A --config file: JSON or TOML (by its suffix), `{"storage": {"redundant_days": 30}}` or
    `{"storage.redundant_days": 30}` → {"storage.redundant_days": 30} (not validated yet)."""
    import json
    import tomllib

    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"--config {path}: cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise UserError(f"--config {path}: larger than {MAX_CONFIG_BYTES:,} bytes; an options file is a few lines")
    toml = path.suffix.lower() == ".toml"
    try:
        text = raw.decode("utf-8")
        doc = tomllib.loads(text) if toml else json.loads(text)
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise UserError(f"--config {path}: not valid {'TOML' if toml else 'JSON'}: {e}") from None
    if not isinstance(doc, dict):
        raise UserError(f"--config {path}: expected a table of FAMILY.OPTION values, got {type(doc).__name__}")
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            for name, v in value.items():
                flat[f"{key}.{name}"] = v
        else:
            flat[str(key)] = value
    return flat


def resolve_check_options(flags: Mapping[str, Any], sets: Iterable[str] = (),
                          config: Optional[Path] = None) -> dict[str, Any]:
    """FAMILY.OPTION → validated value from --config, then --set, then the dedicated flags (later wins)."""
    from ecrwise.analysis.checks import option_specs, validate_options

    values: dict[str, Any] = {}
    if config is not None:
        values.update(validate_options(load_option_file(config), f"--config {config}"))
    specs = option_specs()
    for item in sets:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--set {item}: expected FAMILY.OPTION=VALUE, e.g. --set storage.redundant_days=30")
        spec = specs.get(key)
        value: Any = [v.strip() for v in raw.split(",") if v.strip()] if spec and spec.is_list else raw.strip()
        values.update(validate_options({key: value}, "--set"))
    for spec in _flag_specs():
        given = flags.get(_param_name(spec))
        if given is not None and given != []:
            values.update(validate_options({spec.key: given}, spec.flag))
    return values


def _severity(value: Optional[str], flag: str) -> Optional[str]:
    from ecrwise.analysis.checks import SEVERITIES

    if value is not None and value not in SEVERITIES:
        raise UserError(f"{flag} {value}: choose one of {', '.join(reversed(SEVERITIES))}")
    return value


def _list_checks(fmt: FindingsFmt) -> None:
    from ecrwise.analysis.findings import registry
    from ecrwise.report.findings import checks_result

    render(checks_result(list(registry().values())), fmt, flag="--list-checks --format")


@app.callback(invoke_without_command=True)
@with_check_option_flags
def findings(
    ctx: typer.Context,
    check: List[str] = typer.Option([], "--check", metavar="ID|FAMILY|GLOB",
                                    help="Only these checks: an id, a family (storage, lifecycle, ecs, network) or "
                                         "a glob like 'ecr.*' (repeatable)."),
    severity: Optional[str] = typer.Option(None, "--severity", metavar="LEVEL",
                                           help="Only findings at or above: info, low, medium, high, critical."),
    account: List[str] = typer.Option([], "--account", help="Only this account (repeatable)."),
    region: List[str] = typer.Option([], "--region", help="Only this region (repeatable)."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Show only the first N (totals and gates "
                                                                  "still cover every selected finding)."),
    fail_on_savings: Optional[float] = typer.Option(None, "--fail-on-savings", metavar="USD", min=0.0,
                                                    help="Exit 1 when the selected findings save at least this "
                                                         "much a month."),
    fail_on_severity: Optional[str] = typer.Option(None, "--fail-on-severity", metavar="LEVEL",
                                                   help="Exit 1 when a selected finding is at least this severe."),
    list_checks: bool = typer.Option(False, "--list-checks", help="List the registered checks (and their "
                                                                   "options) and exit."),
    set_: List[str] = typer.Option([], "--set", metavar="FAMILY.OPTION=VALUE",
                                   help="Set a check option, e.g. storage.redundant_days=30 (repeatable; lists "
                                        "comma-separated; see --list-checks)."),
    config: Optional[Path] = typer.Option(None, "--config", metavar="FILE",
                                          help="Check options from a JSON or TOML file: {\"storage\": "
                                               "{\"redundant_days\": 30}}."),
    docs_base_url: Optional[str] = typer.Option(None, "--docs-base-url", envvar="ECRWISE_DOCS_BASE_URL",
                                                help="SARIF: where the docs are served; rules get helpUri from it."),
    sarif_artifact: Optional[str] = typer.Option(None, "--sarif-artifact", metavar="PATH",
                                                 help="SARIF: a repository file to anchor results to (GitHub code "
                                                      "scanning needs a physical location)."),
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    price_file: Optional[Path] = PriceFileOpt,
    fmt: FindingsFmt = typer.Option(FindingsFmt.table, "--format", "-f", help="Output format."),
    **check_flags: Any,
) -> None:
    """Every finding from every analysis (storage, lifecycle, pulls, ECS, network), ranked by monthly savings."""
    if ctx.invoked_subcommand is not None:
        return
    if list_checks:
        _list_checks(fmt)
        return
    from ecrwise.analysis.findings import collect, registry, select, threshold_met, unknown_check_specs
    from ecrwise.cli.snapshot_data import open_snapshot, snapshot_warnings
    from ecrwise.report import findings as view

    _severity(severity, "--severity")
    _severity(fail_on_severity, "--fail-on-severity")
    unknown = unknown_check_specs(check)
    if unknown:
        raise UserError(f"--check {' '.join(unknown)}: matches no registered check (see `ecrwise findings "
                        "--list-checks`)")
    values = resolve_check_options(check_flags, set_, config)
    book = prices(price_file, store, announce=fmt.value == "table")
    with open_snapshot(store, snapshot) as (snap, records):
        options = check_options(now=snap.taken_at, values=values)
        result = select(collect(records, book, options), checks=check, severity=severity, accounts=account,
                        regions=region)
        warnings = snapshot_warnings(snap, records) + result.warnings
    checks = registry()
    render(view.result([view.item(it, checks) for it in result.items], view.totals_json(result.totals()),
                       warnings, snap.as_dict() | {"prices": book.describe()},
                       f"Findings · snapshot {snap.id} ({snap.taken_at:%Y-%m-%d %H:%M} UTC), ranked by monthly savings",
                       checks, top=top, docs_base_url=docs_base_url, artifact=sarif_artifact), fmt)
    reasons = threshold_met(result.items, savings_usd=fail_on_savings, severity=fail_on_severity)
    if reasons:
        err = stderr_console()
        for r in reasons:
            err.print(sanitize.line(f"ecrwise: gate: {r}"), highlight=False, markup=False)
        raise typer.Exit(1)


def top_findings_lines(store: Optional[Path], snapshot: Optional[int], book: Any, n: int = 5) -> list[str]:
    """The first n findings by savings, one line each (what `ecrwise demo` prints)."""
    from ecrwise.analysis.findings import collect
    from ecrwise.cli.snapshot_data import open_snapshot
    from ecrwise.report.output import human_usd

    with open_snapshot(store, snapshot) as (snap, records):
        result = collect(records, book, check_options(now=snap.taken_at))
    lines = []
    for it in result.items[:n]:
        f = it.finding
        message = sanitize.line(f.message)  # AWS text, printed plain by `ecrwise demo`
        text = message if len(message) <= 96 else message[:95] + "…"
        lines.append(f"{human_usd(f.monthly_savings_usd):>10}/mo  {f.severity:<8} {f.check:<30} {text}")
    t = result.totals()
    lines.append(f"{t['findings']} findings in all, {human_usd(t['monthly_savings'])}/month to save (overlaps "
                 f"counted once): `ecrwise findings --store {store}`" if store else "")
    return [line for line in lines if line]
