"""`ecrwise lifecycle`: lint, simulate and template ECR lifecycle policies.

Kept thin: parsing options, reading files, calling `ecrwise.lifecycle`, rendering with `report.lifecycle`. Both modes of
`simulate` feed one `lifecycle.simulate.Simulator` a repository at a time and render its result.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import typer

from ecrwise.cli.common import FormatOpt, Fmt, PriceFileOpt, SnapshotOpt, StoreOpt
from ecrwise.cli.in_use import InUseFileOpt, PulledWithinOpt, RollbackOpt
from ecrwise.errors import UserError
from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.inputs import InputError, load_text
from ecrwise.lifecycle.policy import ERROR, WARNING, Policy, count_all_vs_any, lint, load_policy, parse_policy
from ecrwise.lifecycle.simulate import SimulationResult
from ecrwise.lifecycle.templates import TEMPLATES, get_template
from ecrwise.pricing.book import Price, load_price_book
from ecrwise.report.lifecycle import lint_result, simulation_result
from ecrwise.report.render import render

app = typer.Typer(help="Lint, simulate and template ECR lifecycle policies.", no_args_is_help=True)

STANDARD_ITEM = "ecr_storage_gb_month"
ARCHIVE_ITEM = "ecr_archive_storage_gb_month"
RESTORE_ITEM = "ecr_archive_restore_gb"


def _exit_user_error(e: UserError) -> typer.Exit:
    # Same wording and status as ecrwise.cli.main, so the sub-app behaves alike when run on its own.
    typer.echo(f"ecrwise: error: {e}", err=True)
    return typer.Exit(e.exit_code)


# --- lint -------------------------------------------------------------------------------------------


@app.command("lint")
def lint_cmd(
    files: list[Path] = typer.Argument(..., metavar="FILE...", help="Policy files (JSON) to validate."),
    fmt: Fmt = FormatOpt,
    snapshot: Optional[int] = typer.Option(None, "--snapshot", help="Count, in this snapshot (default: the "
                                           "latest with --store), the images multi-prefix rules select."),
    store: Optional[Path] = typer.Option(None, "--store", help="DuckDB store to count images in (with or "
                                         "without --snapshot)."),
) -> None:
    """Validate lifecycle policies as ECR would: every error with its JSON path; exit 2 on any error."""
    rows: list[dict[str, Any]] = []
    counted = _snapshot_images(snapshot, store) if snapshot is not None or store is not None else None
    for f in files:
        try:
            text = load_text(f, what="policy file")
        except InputError as e:
            rows.append({"file": str(f), "path": "(file)" if e.code in ("unreadable", "too-large") else "(document)",
                         "code": e.code, "severity": ERROR, "message": e.detail})
            continue
        mine = [{"file": str(f), **issue.as_dict()} for issue in lint(text)]
        if counted is not None:
            _add_all_vs_any(mine, text, counted[0]["id"], counted[1])
        rows.extend(mine)
    n_err = sum(1 for r in rows if r["severity"] == ERROR)
    n_warn = sum(1 for r in rows if r["severity"] == WARNING)
    render(lint_result(rows, [str(f) for f in files], n_err, n_warn, snapshot=counted[0] if counted else None), fmt)
    if n_err:
        raise typer.Exit(2)


def _snapshot_images(snapshot: int | None, store: Path | None) -> tuple[dict[str, Any], list[LifecycleImage]]:
    from ecrwise.cli.common import open_store
    from ecrwise.cli.snapshot_data import engine_images_of

    try:
        with open_store(store) as st:
            snap = st.snapshot(snapshot)
            return snap.as_dict(), engine_images_of(st, snap.id)
    except UserError as e:
        raise _exit_user_error(e) from None


def _add_all_vs_any(rows: list[dict[str, Any]], text: str, snap_id: int, images: list[LifecycleImage]) -> None:
    """Append snapshot counts to the file's tag-list-requires-all warnings (valid policies only)."""
    if not any(r["code"] == "tag-list-requires-all" for r in rows) or any(r["severity"] == ERROR for r in rows):
        return
    counts = {c["rule_priority"]: c for c in count_all_vs_any(parse_policy(text), images)}
    for r in rows:
        c = counts.get(r.get("detail", {}).get("rule_priority")) if r["code"] == "tag-list-requires-all" else None
        if c is not None:
            r["detail"]["snapshot_counts"] = {"snapshot": snap_id, **c}
            r["message"] += (f" (snapshot {snap_id}: {c['all']} of {c['images']} tagged {c['storage_class']} images "
                             f"carry all of them, {c['any']} carry any of them)")


# --- template ---------------------------------------------------------------------------------------


@app.command("template")
def template_cmd(name: str | None = typer.Argument(None, help="Template name; omit to list them.")) -> None:
    """Print a ready-made policy, or list the templates."""
    if name is None:
        width = max(len(n) for n in TEMPLATES)
        for n, summary in TEMPLATES.items():
            typer.echo(f"{n.ljust(width)}  {summary}")
        return
    try:
        typer.echo(get_template(name), nl=False)
    except UserError as e:
        raise _exit_user_error(e) from None


# --- simulate ---------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^([+-])(\d+)([dh])$")
# --at must lie within this many days of now: ages beyond it mean nothing for images, and the engine adds
# policy day counts to it (a time near year 9999 would overflow).
AT_WINDOW_DAYS = 36525


def parse_at(value: str | None, now: datetime | None = None) -> datetime:
    """`--at`: ISO-8601 (a time without offset is UTC; a bare date is midnight UTC), `now`, or `+30d` /
    `-12h` relative to now."""
    now = now or datetime.now(timezone.utc)
    if value is None or value == "now":
        return now
    m = _RELATIVE.match(value)
    if m:
        # Bounded before timedelta sees it: +3000000d would overflow datetime (year 9999) with a traceback.
        n = int(m[2]) if len(m[2]) <= 9 else AT_WINDOW_DAYS + 1
        if n > (AT_WINDOW_DAYS if m[3] == "d" else AT_WINDOW_DAYS * 24):
            raise UserError(f"--at {value}: more than {AT_WINDOW_DAYS // 365} years from now")
        delta = timedelta(days=n) if m[3] == "d" else timedelta(hours=n)
        return now + delta if m[1] == "+" else now - delta
    try:
        d = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if d.tzinfo is None:
            d = d.replace(tzinfo=timezone.utc)
        d = d.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise UserError(f"--at: {value!r} is not an ISO-8601 time (2025-07-01, 2025-07-01T12:00:00Z), "
                        "'now', or a relative time like +30d / -12h") from None
    if abs(d - now) > timedelta(days=AT_WINDOW_DAYS):
        raise UserError(f"--at {value}: more than {AT_WINDOW_DAYS // 365} years from now")
    return d


def select_repositories(names: Iterable[str], include: Sequence[str], exclude: Sequence[str]) -> list[str]:
    """Repositories matching any --repository glob (all when none given) and no --exclude glob."""
    from ecrwise.remediate.lifecycle_rollout import selected

    return [n for n in sorted(set(names)) if selected(n, list(include), list(exclude))[0]]


def render_simulation(result: SimulationResult, fmt: Fmt, *, standard_price: Price, archive_price: Price,
                      snapshot: dict[str, Any] | None = None, extra_warnings: Sequence[str] = (),
                      list_images: bool = False, restore_price: Price | None = None) -> None:
    render(simulation_result(result, standard_price=standard_price, archive_price=archive_price, snapshot=snapshot,
                             extra_warnings=extra_warnings, list_images=list_images, restore_price=restore_price),
           fmt)


def storage_prices(region: str | None, price_file: Path | None) -> tuple[Price, Price]:
    book = load_price_book(price_file)
    region = region or book.fallback_region
    return book.price(region, STANDARD_ITEM), book.price(region, ARCHIVE_ITEM)


@app.command("simulate")
def simulate_cmd(
    images: Path | None = typer.Option(None, "--images", metavar="FILE",
                                       help='Offline mode: a JSON document {"images": [...]}.'),
    policy: Path | None = typer.Option(None, "--policy", metavar="FILE",
                                       help="The policy to apply to every selected repository."),
    at: str | None = typer.Option(None, "--at", metavar="TIME",
                                  help="Evaluate as of this time: ISO-8601 (UTC if no offset), now, +30d, -12h."),
    repository: list[str] = typer.Option([], "--repository", metavar="GLOB",
                                         help="Only repositories matching a glob (repeatable)."),
    exclude: list[str] = typer.Option([], "--exclude", metavar="GLOB", help="Skip matching repositories."),
    fmt: Fmt = FormatOpt,
    region: Optional[str] = typer.Option(None, "--region", help="Price region (default: the price book's)."),
    price_file: Optional[Path] = PriceFileOpt,
    list_images: bool = typer.Option(False, "--list", help="Also list every expired/transitioned image."),
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    protect_in_use: bool = typer.Option(False, "--protect-in-use",
                                        help="Evaluate the policy as `lifecycle plan` rolls it out: images in use "
                                             "tagged and kept by a first rule (snapshot mode); the policy as given "
                                             "is shown too."),
    in_use_file: Optional[Path] = InUseFileOpt,
    rollback_revisions: int = RollbackOpt,
    protect_pulled_within: int = PulledWithinOpt,
) -> None:
    """What a policy would expire or archive, per repository, and the monthly savings in freed layers.

    Against the latest snapshot by default (each repository's current policy, or --policy for all chosen
    repositories), marking every image in use it would act on with its reasons; offline with --images FILE
    (no in-use data there)."""
    try:
        if images is None:
            _simulate_snapshot(policy, parse_at(at), repository, exclude, fmt, price_file, list_images,
                               snapshot, store, InUseAsk(in_use_file, rollback_revisions, protect_pulled_within,
                                                         protect_in_use))
            return
        if protect_in_use or in_use_file or protect_pulled_within:
            raise UserError("--protect-in-use, --in-use-file and --protect-pulled-within need a snapshot: "
                            "an --images file says nothing about workloads")
        if policy is None:
            raise UserError("simulate --images FILE needs --policy FILE (offline mode)")
        _simulate_offline(images, policy, parse_at(at), repository, exclude, fmt, region, price_file, list_images)
    except UserError as e:
        raise _exit_user_error(e) from None


def _simulate_offline(images: Path, policy: Path, when: datetime, include: list[str], exclude: list[str], fmt: Fmt,
                      region: str | None, price_file: Path | None, list_images: bool) -> None:
    """Offline mode: the images document streamed a repository at a time into one simulator (issue 11: bounded
    memory), each repository reduced to what the report prints before the next is built. Errors come in the
    order they always have: the images document's, the policy's, no repository matching, the price file's."""
    from ecrwise.lifecycle.images_stream import fold_document
    from ecrwise.lifecycle.simulate import SPOOL_AFTER_ROWS, Simulator

    def names() -> list[str]:  # the document's repositories, or its error
        return fold_document(images, lambda groups: [name for name, _ in groups])

    def no_match() -> UserError:
        return UserError(f"{images.name}: no repository matches --repository {' '.join(include) or '*'}"
                         + (f" --exclude {' '.join(exclude)}" if exclude else ""))

    try:
        pol = load_policy(policy, source=policy.name)
    except UserError:
        names()  # the images document's error, if it has one, comes first
        raise
    try:
        std, arc = storage_prices(region, price_file)
        book = load_price_book(price_file)
        restore = book.price(region or book.fallback_region, RESTORE_ITEM)
    except UserError:
        if not select_repositories(names(), include, exclude):
            raise no_match() from None
        raise

    def run(groups: Iterable[tuple[str, Sequence[LifecycleImage]]]) -> Simulator | None:
        sim = Simulator(when, std.usd, arc.usd, restore_price_gb=restore.usd, hours_per_month=book.hours_per_month,
                        slim=True, spool_after=SPOOL_AFTER_ROWS)
        for name, imgs in groups:
            if select_repositories([name], include, exclude):
                sim.add(name, pol, imgs)
        return sim if sim.items else None

    sim = fold_document(images, run)  # on a deferral the exact loader judges; what was simulated is dropped
    if sim is None:
        raise no_match()
    warnings = [f"{policy.name}: {w}" for w in pol.warnings]
    for p in (std, arc, restore):
        if p.fallback:
            warnings.append(f"no {p.item} price for region {p.region}; used the price book's fallback region")
    render_simulation(sim.result(), fmt, standard_price=std, archive_price=arc, extra_warnings=warnings,
                      list_images=list_images, restore_price=restore)


@dataclass(frozen=True)
class InUseAsk:
    """What snapshot-mode simulate is asked about images in use."""
    in_use_file: Path | None
    rollback_revisions: int
    pulled_within: int
    protect: bool


def _simulate_snapshot(policy: Path | None, when: datetime, include: list[str], exclude: list[str], fmt: Fmt,
                       price_file: Path | None, list_images: bool, snapshot: int | None,
                       store: Path | None, ask: InUseAsk) -> None:
    """Snapshot mode: images from the store, priced per repository region; images in use marked."""
    from ecrwise.cli.common import open_store, prices
    from ecrwise.cli.in_use import in_use_of
    from ecrwise.cli.snapshot_data import engine_image_groups
    from ecrwise.lifecycle.from_records import current_policies, repo_key, split_key
    from ecrwise.lifecycle.simulate import SPOOL_AFTER_ROWS, SimulationResult, Simulator
    from ecrwise.records.ecr import Repository

    book = prices(price_file, store, announce=fmt is Fmt.table)
    given = load_policy(policy, source=policy.name) if policy else None
    with open_store(store) as st:
        snap = st.snapshot(snapshot)
        texts = current_policies(st.load(snap.id, Repository))
        found = in_use_of(st, snap, ask.in_use_file, ask.rollback_revisions, ask.pulled_within)
        in_use = {repo_key(*k): v for k, v in found.by_repo.items()}
        warnings: list[str] = [f"{policy.name}: {w}" for w in given.warnings] if given else []
        warnings += found.warnings
        chosen: dict[str, dict[str, Policy | None]] = {}
        for key, text in sorted(texts.items()):
            _, region, name = split_key(key)
            if select_repositories([name], include, exclude) != [name]:
                continue
            if given is not None:
                pol: Policy | None = given
            elif text is None:
                pol = None
            else:
                try:
                    pol = parse_policy(text, source=key)
                except UserError as e:
                    warnings.append(f"{key}: current policy not evaluated: {e}")
                    continue
            chosen.setdefault(region, {})[key] = pol
        if not chosen:
            raise UserError(f"no repository in snapshot {snap.id} matches --repository {' '.join(include) or '*'}")
        # One simulator per region (its prices); repositories stream from the store one at a time, each judged
        # and reduced to what the report prints before the next is read (issue 11: bounded memory).
        sims = {region: Simulator(when, book.price(region, STANDARD_ITEM).usd, book.price(region, ARCHIVE_ITEM).usd,
                                  restore_price_gb=book.price(region, RESTORE_ITEM).usd,
                                  hours_per_month=book.hours_per_month, in_use=in_use, protect_in_use=ask.protect,
                                  slim=True, spool_after=SPOOL_AFTER_ROWS)
                for region in chosen}
        pending = {key: region for region, policies in chosen.items() for key in policies}
        for key, imgs in engine_image_groups(st, snap.id):
            region = pending.pop(key, None)
            if region is not None:
                sims[region].add(key, chosen[region][key], imgs)
    for key, region in pending.items():  # chosen repositories without an image
        sims[region].add(key, chosen[region][key], ())
    items, sim_warnings = [], list(warnings)
    for region in sorted(chosen):
        std = book.price(region, STANDARD_ITEM)
        if std.fallback:
            sim_warnings.append(f"no {std.item} price for region {region}; used the price book's fallback region")
        res = sims[region].result()
        items.extend(res.items)
        sim_warnings.extend(res.warnings)
    items.sort(key=lambda r: (-r.monthly_savings_usd, r.repository))
    std0, arc0 = book.price(book.fallback_region, STANDARD_ITEM), book.price(book.fallback_region, ARCHIVE_ITEM)
    result = SimulationResult(when, tuple(items), std0.usd, arc0.usd, tuple(dict.fromkeys(sim_warnings)))
    render_simulation(result, fmt, standard_price=std0, archive_price=arc0, snapshot=snap.as_dict(),
                      extra_warnings=[], list_images=list_images,
                      restore_price=book.price(book.fallback_region, RESTORE_ITEM))

