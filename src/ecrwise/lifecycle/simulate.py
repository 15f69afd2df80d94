"""Run lifecycle policies over many repositories and price what they free.

Money follows DESIGN.md: savings come from layers that no surviving image references, never from the sum of
image sizes; every dollar figure carries its inputs (`arithmetic`); rounding to cents happens only in
`to_dict`. Prices are passed in by the caller (the CLI reads them from the price book).

Archive economics (`ArchiveEconomics`): a `transition` is priced net of what the archive class charges beyond
its monthly rate. Facts, each from the ECR User Guide page "Archiving an image" (archive-image.html) or the
ECR pricing page (https://aws.amazon.com/ecr/pricing/, through the price book):
- archived images have a 90-day minimum storage duration; deleting one sooner is billed the full 90 days,
  and a lifecycle rule cannot delete an image archived for less than 90 days;
- archived images cannot be pulled; an image is restored to standard before it can be used (a per-GB
  restore charge, `ecr_archive_restore_gb`);
- archive storage is priced in tiers: the first 150 TB a month at `ecr_archive_storage_gb_month` (the same as
  standard in every region of the book), above that `ecr_archive_storage_gb_month_over_150tb`.
Where the documents are silent ecrwise chooses conservatively (docs/lifecycle.md, "Archive economics"):
- an image pulled within the last 90 days is "likely restored": it is assumed to be restored right after
  archiving, so it saves nothing, its archive copy is billed the whole 90-day minimum, and the restore is
  charged on its full size (shared layers again: the pricing page does not say restores are deduplicated);
- every archived byte is priced at the first-tier rate (the higher one); totals say when the archive class
  would pass 150 TB;
- the one-time charges are set against the gross saving over the 90-day minimum window
  (`minimum_days / days_per_month` months, days_per_month = hours_per_month / 24).
"""
from __future__ import annotations

import pickle
import tempfile
from collections import defaultdict
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import IO, Any, Iterable, Iterator, Mapping, Sequence

from ecrwise.lifecycle.engine import Evaluation, evaluate
from ecrwise.lifecycle.images import STANDARD, LifecycleImage, new_image
from ecrwise.lifecycle.policy import ARCHIVE_MIN_DAYS, Policy
from ecrwise.lifecycle.protection import as_protected, with_protection

from ecrwise.pricing.book import GIB  # AWS bills "GB" as 2^30 bytes
from ecrwise.pricing.money import usd as _cents
from ecrwise.timefmt import iso




# "First 150 TB / month" on the ECR pricing page; AWS's TB is 2^40 bytes like its GB is 2^30.
ARCHIVE_TIER_BYTES = 150 * 2**40
DEFAULT_HOURS_PER_MONTH = 730.0


@dataclass(frozen=True, slots=True)
class ArchiveEconomics:
    """What the transitions of one evaluation cost beyond the monthly price difference, and the net."""
    transitioned_images: int
    # Distinct layer bytes leaving the standard class for archive (== Evaluation.archived_bytes).
    archived_bytes: int
    likely_restored_images: int
    # Distinct archived layer bytes of the likely-restored images: billed the minimum, saving nothing.
    likely_restored_layer_bytes: int
    # Sum of the likely-restored images' own sizes: what the restore charge is levied on.
    likely_restored_image_bytes: int
    standard_price_gb_month: float
    archive_price_gb_month: float
    restore_price_gb: float
    days_per_month: float
    minimum_days: int = ARCHIVE_MIN_DAYS

    @property
    def window_months(self) -> float:
        return self.minimum_days / self.days_per_month

    @property
    def gross_monthly_usd(self) -> float:
        return self.archived_bytes / GIB * (self.standard_price_gb_month - self.archive_price_gb_month)

    @property
    def gross_window_usd(self) -> float:
        return self.gross_monthly_usd * self.window_months

    @property
    def forgone_usd(self) -> float:
        return (self.likely_restored_layer_bytes / GIB * (self.standard_price_gb_month - self.archive_price_gb_month)
                * self.window_months)

    @property
    def minimum_charge_usd(self) -> float:
        return self.likely_restored_layer_bytes / GIB * self.archive_price_gb_month * self.window_months

    @property
    def restore_charge_usd(self) -> float:
        return self.likely_restored_image_bytes / GIB * self.restore_price_gb

    @property
    def net_window_usd(self) -> float:
        return self.gross_window_usd - self.forgone_usd - self.minimum_charge_usd - self.restore_charge_usd

    def to_dict(self) -> dict[str, Any]:
        std, arc, rst = self.standard_price_gb_month, self.archive_price_gb_month, self.restore_price_gb
        w = self.window_months
        wf = f"{self.minimum_days} days / {self.days_per_month:g} days per month"
        return {
            "minimum_days": self.minimum_days,
            "window_months": round(w, 6),
            "transitioned_images": self.transitioned_images,
            "archived_bytes": self.archived_bytes,
            "likely_restored_images": self.likely_restored_images,
            "likely_restored_layer_bytes": self.likely_restored_layer_bytes,
            "likely_restored_image_bytes": self.likely_restored_image_bytes,
            "transition_savings_usd": _cents(self.gross_monthly_usd),
            "transition_savings_window_usd": _cents(self.gross_window_usd),
            "likely_restored_savings_forgone_usd": _cents(self.forgone_usd),
            "minimum_duration_charge_usd": _cents(self.minimum_charge_usd),
            "restore_charge_usd": _cents(self.restore_charge_usd),
            "net_window_usd": _cents(self.net_window_usd),
            "arithmetic": {
                "price_usd_per_gb_month": std,
                "archive_price_usd_per_gb_month": arc,
                "restore_price_usd_per_gb": rst,
                "days_per_month": self.days_per_month,
                "likely_restored_rule": f"transitioned and pulled within the last {self.minimum_days} days",
                "transition_savings_usd": f"{self.archived_bytes} B / 2^30 x (${std} - ${arc}) = "
                                          f"${self.gross_monthly_usd:.4f}/month",
                "transition_savings_window_usd": f"${self.gross_monthly_usd:.4f}/month x ({wf}) = "
                                                 f"${self.gross_window_usd:.4f}",
                "likely_restored_savings_forgone_usd": f"{self.likely_restored_layer_bytes} B / 2^30 x (${std} - "
                                                       f"${arc}) x ({wf}) = ${self.forgone_usd:.4f}",
                "minimum_duration_charge_usd": f"{self.likely_restored_layer_bytes} B / 2^30 x ${arc} x ({wf}) = "
                                               f"${self.minimum_charge_usd:.4f}",
                "restore_charge_usd": f"{self.likely_restored_image_bytes} B / 2^30 x ${rst} = "
                                      f"${self.restore_charge_usd:.4f}",
                "net_window_usd": f"${self.gross_window_usd:.4f} - ${self.forgone_usd:.4f} - "
                                  f"${self.minimum_charge_usd:.4f} - ${self.restore_charge_usd:.4f} = "
                                  f"{_signed(self.net_window_usd)}",
            },
        }


def _signed(x: float) -> str:
    return f"-${-x:.4f}" if x < 0 else f"${x:.4f}"


def archive_economics(ev: Evaluation, at: datetime, standard_price_gb_month: float, archive_price_gb_month: float,
                      restore_price_gb: float, hours_per_month: float = DEFAULT_HOURS_PER_MONTH) -> ArchiveEconomics:
    """Price the evaluation's transitions net of the 90-day minimum and the expected restores (pure)."""
    transitioned = [im for im, _ in ev.transition]
    std_keep = {d for im in ev.kept if im.storage_class == STANDARD for d, _ in im.layers}
    # The same set the engine's archived_bytes sums: layers moved to archive that no kept standard image holds.
    moved = {d: size for im in transitioned for d, size in im.layers if d not in std_keep}
    recent = timedelta(days=ARCHIVE_MIN_DAYS)
    likely = [im for im in transitioned if im.last_pulled_at is not None and at - im.last_pulled_at <= recent]
    likely_layers = {d for im in likely for d, _ in im.layers if d in moved}
    return ArchiveEconomics(
        transitioned_images=len(transitioned),
        archived_bytes=sum(moved.values()),
        likely_restored_images=len(likely),
        likely_restored_layer_bytes=sum(moved[d] for d in likely_layers),
        likely_restored_image_bytes=sum(im.naive_bytes for im in likely),
        standard_price_gb_month=standard_price_gb_month,
        archive_price_gb_month=archive_price_gb_month,
        restore_price_gb=restore_price_gb,
        days_per_month=hours_per_month / 24,
    )


@dataclass(frozen=True, slots=True)
class InUseHit:
    """An image in use that the policy, as given, would expire or archive."""
    image: LifecycleImage
    rule_priority: int
    action: str  # expire | transition
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**_image_row(self.image, self.rule_priority), "action": self.action, "reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True)
class RepositoryResult:
    repository: str
    has_policy: bool
    evaluation: Evaluation
    standard_price_gb_month: float
    archive_price_gb_month: float
    # Set when the caller priced restores (simulate(..., restore_price_gb=...)).
    archive: ArchiveEconomics | None = None
    # Set when the caller said which images are in use (simulate(..., in_use=...)): how many of this
    # repository's images are in use, and those the policy as given would act on.
    in_use_images: int | None = None
    in_use_hits: tuple[InUseHit, ...] = ()
    # With protect_in_use: `evaluation` is the policy with ecrwise's protection, this the policy as given.
    unprotected: Evaluation | None = None

    # Unrounded monthly figures; to_dict rounds them.
    @property
    def expired_savings_usd(self) -> float:
        return self.evaluation.expired_bytes / GIB * self.standard_price_gb_month

    @property
    def transition_savings_usd(self) -> float:
        return self.evaluation.archived_bytes / GIB * (self.standard_price_gb_month - self.archive_price_gb_month)

    @property
    def archive_savings_usd(self) -> float:
        return self.evaluation.archive_freed_bytes / GIB * self.archive_price_gb_month

    @property
    def monthly_savings_usd(self) -> float:
        return self.expired_savings_usd + self.transition_savings_usd + self.archive_savings_usd

    @property
    def net_monthly_savings_usd(self) -> float:
        """monthly_savings_usd with the transitions priced net of the 90-day minimum and the expected restores
        (their net over the minimum window, per month of it); the same figure when restores are not priced or
        nothing transitions. Negative when archiving costs more than it and the rest save."""
        econ = self.archive
        if econ is None or not econ.transitioned_images:
            return self.monthly_savings_usd
        return self.expired_savings_usd + self.archive_savings_usd + econ.net_window_usd / econ.window_months

    def net_arithmetic(self) -> str:
        econ = self.archive
        if econ is None or not econ.transitioned_images:
            return f"no transition: ${self.monthly_savings_usd:.4f}/month"
        return (f"${self.expired_savings_usd:.4f} expired + ${self.archive_savings_usd:.4f} deleted from archive + "
                f"{_signed(econ.net_window_usd)} net of archiving over {econ.minimum_days} days / "
                f"{econ.window_months:.6f} months = {_signed(self.net_monthly_savings_usd)}/month")

    def arithmetic(self) -> dict[str, Any]:
        ev = self.evaluation
        std, arc = self.standard_price_gb_month, self.archive_price_gb_month
        formula = (f"({ev.expired_bytes} B expired x ${std}"
                   f" + {ev.archived_bytes} B archived x (${std} - ${arc})"
                   f" + {ev.archive_freed_bytes} B deleted from archive x ${arc})"
                   f" / 2^30 B per GB = ${self.monthly_savings_usd:.4f}/month")
        return {
            "bytes": ev.freed_bytes,
            "gib": round(ev.freed_bytes / GIB, 6),
            "price_usd_per_gb_month": std,
            "expired_bytes": ev.expired_bytes,
            "archived_bytes": ev.archived_bytes,
            "archive_freed_bytes": ev.archive_freed_bytes,
            "archive_price_usd_per_gb_month": arc,
            "formula": formula,
        }

    def to_dict(self, *, images: bool = True) -> dict[str, Any]:
        ev = self.evaluation
        out: dict[str, Any] = {
            "repository": self.repository,
            "has_policy": self.has_policy,
            "images": len(ev.expire) + len(ev.transition) + ev.kept_count,
            "expire_count": len(ev.expire),
            "transition_count": len(ev.transition),
            "kept": ev.kept_count,
            "held_by_index": len(ev.held),
            # Referrers (signatures, SBOMs, attestations) that go with their expired or archived subject.
            "with_subject": len(ev.followed),
            "stored_bytes": ev.stored_bytes,
            "freed_bytes": ev.freed_bytes,
            "archived_bytes": ev.archived_bytes,
            "archive_stored_bytes": ev.archive_stored_bytes,
            "archive_freed_bytes": ev.archive_freed_bytes,
            "monthly_savings_usd": _cents(self.monthly_savings_usd),
            "transition_savings_usd": _cents(self.transition_savings_usd),
            "arithmetic": self.arithmetic(),
        }
        if self.archive is not None:
            out["archive_economics"] = self.archive.to_dict()
        if self.in_use_images is not None:
            out["in_use"] = {"images": self.in_use_images, "protected": self.unprotected is not None,
                             "acted_on_count": len(self.in_use_hits),
                             "acted_on": [h.to_dict() for h in self.in_use_hits]}
        if self.unprotected is not None:
            out["without_protection"] = self.without_protection()
        if images:
            out["expire"] = [_image_row(im, p) for im, p in ev.expire]
            out["transition"] = [_image_row(im, p) for im, p in ev.transition]
            out["held"] = [_image_row(im, p) for im, p in ev.held]
        return out


    @property
    def unprotected_savings_usd(self) -> float:
        """monthly_savings_usd of the policy as given (the same figure when nothing was protected)."""
        ev = self.unprotected
        if ev is None:
            return self.monthly_savings_usd
        std, arc = self.standard_price_gb_month, self.archive_price_gb_month
        return (ev.expired_bytes * std + ev.archived_bytes * (std - arc) + ev.archive_freed_bytes * arc) / GIB

    def without_protection(self) -> dict[str, Any]:
        """What the policy as given (no protection rule, no protection tags) would do to this repository."""
        ev = self.unprotected
        assert ev is not None
        std, arc = self.standard_price_gb_month, self.archive_price_gb_month
        usd = self.unprotected_savings_usd
        return {"expire_count": len(ev.expire), "transition_count": len(ev.transition), "kept": ev.kept_count,
                "freed_bytes": ev.freed_bytes, "monthly_savings_usd": _cents(usd),
                "formula": f"({ev.expired_bytes} B expired x ${std} + {ev.archived_bytes} B archived x (${std} - "
                           f"${arc}) + {ev.archive_freed_bytes} B deleted from archive x ${arc}) / 2^30 B per GB = "
                           f"${usd:.4f}/month"}


def _image_row(im: LifecycleImage, priority: int) -> dict[str, Any]:
    return {"digest": im.digest, "tags": list(im.tags), "pushed_at": iso(im.pushed_at),
            "rule_priority": priority, **({"subject": im.subject} if im.subject else {})}


@dataclass(frozen=True, slots=True)
class SimulationResult:
    at: datetime
    # Sorted by monthly savings (largest first), then repository name.
    items: tuple[RepositoryResult, ...]
    standard_price_gb_month: float
    archive_price_gb_month: float
    warnings: tuple[str, ...] = field(default=())

    @property
    def monthly_savings_usd(self) -> float:
        return sum(r.monthly_savings_usd for r in self.items)

    def totals(self) -> dict[str, Any]:
        evs = [r.evaluation for r in self.items]
        return {
            "at": iso(self.at),
            "repositories": len(self.items),
            "repositories_with_policy": sum(1 for r in self.items if r.has_policy),
            "images": sum(len(e.expire) + len(e.transition) + e.kept_count for e in evs),
            "expire_count": sum(len(e.expire) for e in evs),
            "transition_count": sum(len(e.transition) for e in evs),
            "kept": sum(e.kept_count for e in evs),
            "held_by_index": sum(len(e.held) for e in evs),
            "stored_bytes": sum(e.stored_bytes for e in evs),
            "freed_bytes": sum(e.freed_bytes for e in evs),
            "archived_bytes": sum(e.archived_bytes for e in evs),
            "archive_freed_bytes": sum(e.archive_freed_bytes for e in evs),
            "monthly_savings_usd": _cents(self.monthly_savings_usd),
            "transition_savings_usd": _cents(sum(r.transition_savings_usd for r in self.items)),
            "price_usd_per_gb_month": self.standard_price_gb_month,
            "archive_price_usd_per_gb_month": self.archive_price_gb_month,
            **({"archive_economics": self.archive_totals()} if any(r.archive for r in self.items) else {}),
            **(self.in_use_totals() if any(r.in_use_images is not None for r in self.items) else {}),
        }

    def in_use_totals(self) -> dict[str, Any]:
        out: dict[str, Any] = {"in_use_images": sum(r.in_use_images or 0 for r in self.items),
                               "in_use_acted_on": sum(len(r.in_use_hits) for r in self.items),
                               "in_use_protected": any(r.unprotected is not None for r in self.items)}
        rows = [r.without_protection() if r.unprotected is not None else None for r in self.items]
        if any(rows):
            # Repositories without images in use are the same either way.
            same = [r.to_dict(images=False) for r, w in zip(self.items, rows) if w is None]
            picked = [w for w in rows if w] + same
            out["without_protection"] = {
                k: sum(x[k] for x in picked) for k in ("expire_count", "transition_count", "kept", "freed_bytes")}
            out["without_protection"]["monthly_savings_usd"] = _cents(sum(r.unprotected_savings_usd
                                                                          for r in self.items))
        return out

    def archive_totals(self) -> dict[str, Any]:
        """The per-repository archive economics summed (prices may differ by region, so dollars are summed
        figure by figure), and where the archive class would stand against the 150 TB price tier."""
        ecs = [r.archive for r in self.items if r.archive is not None]
        evs = [r.evaluation for r in self.items]
        after = sum(e.archive_stored_bytes - e.archive_freed_bytes + e.archived_bytes for e in evs)
        figures = {
            "transition_savings_usd": sum(a.gross_monthly_usd for a in ecs),
            "transition_savings_window_usd": sum(a.gross_window_usd for a in ecs),
            "likely_restored_savings_forgone_usd": sum(a.forgone_usd for a in ecs),
            "minimum_duration_charge_usd": sum(a.minimum_charge_usd for a in ecs),
            "restore_charge_usd": sum(a.restore_charge_usd for a in ecs),
            "net_window_usd": sum(a.net_window_usd for a in ecs),
        }
        counts = {k: sum(getattr(a, k) for a in ecs) for k in
                  ("transitioned_images", "archived_bytes", "likely_restored_images", "likely_restored_layer_bytes",
                   "likely_restored_image_bytes")}
        return {
            "minimum_days": ARCHIVE_MIN_DAYS,
            **counts,
            **{k: _cents(v) for k, v in figures.items()},
            "archive_bytes_after": after,
            "archive_tier_threshold_bytes": ARCHIVE_TIER_BYTES,
            "archive_tier_priced": "first tier (150 TB) rate for every byte",
            "arithmetic": {k: f"sum over {len(ecs)} repositories = {_signed(v)}" for k, v in figures.items()},
        }

    def to_dict(self, *, images: bool = True) -> dict[str, Any]:
        return {"items": [r.to_dict(images=images) for r in self.items], "totals": self.totals(),
                "warnings": list(self.warnings)}


def _in_use_hits(ev: Evaluation, used: Mapping[str, Sequence[str]]) -> list[InUseHit]:
    hits = [InUseHit(im, p, action, tuple(used[im.digest]))
            for action, rows in (("expire", ev.expire), ("transition", ev.transition))
            for im, p in rows if im.digest in used]
    return sorted(hits, key=lambda h: h.image.digest)


def group_by_repository(images: Iterable[LifecycleImage]) -> dict[str, list[LifecycleImage]]:
    groups: dict[str, list[LifecycleImage]] = defaultdict(list)
    for im in images:
        groups[im.repository].append(im)
    return groups


def simulate(policies_by_repo: Mapping[str, Policy | None], images: Iterable[LifecycleImage], at: datetime,
             standard_price_gb_month: float, archive_price_gb_month: float, *,
             restore_price_gb: float | None = None,
             hours_per_month: float = DEFAULT_HOURS_PER_MONTH,
             in_use: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
             protect_in_use: bool = False) -> SimulationResult:
    """Evaluate each repository's policy (None: no policy, nothing happens) over its images.

    Only repositories named in `policies_by_repo` are reported; images of other repositories are ignored.
    With `restore_price_gb`, each result also carries its `ArchiveEconomics` (transitions priced net of the
    90-day minimum and the expected restores); the engine's actions and `monthly_savings_usd` are unchanged.
    With `in_use` (repository → digest → reasons), each result lists the images in use the policy as given
    would act on; with `protect_in_use` too, the policy is evaluated as `lifecycle plan` rolls it out (the
    protection rule first, every image in use tagged), and the policy as given is kept as `unprotected`.
    """
    groups = group_by_repository(images)
    sim = Simulator(at, standard_price_gb_month, archive_price_gb_month, restore_price_gb=restore_price_gb,
                    hours_per_month=hours_per_month, in_use=in_use, protect_in_use=protect_in_use)
    for repo, policy in policies_by_repo.items():
        sim.add(repo, policy, groups.get(repo, ()))
    return sim.result()


Row = tuple[LifecycleImage, int]
# The rows `lifecycle simulate` holds before the rest go to a RowSpool: held, a row took about 1.1 KiB in a
# 10,000,000-image run (10.5 GiB for 9.7 million rows), so about half a GiB.
SPOOL_AFTER_ROWS = 500_000


class RowSpool:
    """The rows (image acted on, rule priority) of repositories already judged, in an unnamed temporary file.
    The report lists every image a policy acts on, in repositories sorted by savings once all are judged:
    playbook-base over the ten-million-image bench acts on 9.7 million images, whose rows held 10.5 GiB. Each repository's rows
    are one pickle of plain fields (an image's layers are not kept: `Evaluation.slim` drops them)."""

    def __init__(self) -> None:
        self.file: IO[bytes] | None = None

    def put(self, rows: Sequence[Row]) -> Sequence[Row]:
        if not rows:
            return rows
        if self.file is None:
            self.file = tempfile.TemporaryFile()
        data = pickle.dumps([(im.repository, im.digest, im.tags, im.pushed_at, im.last_pulled_at, im.storage_class,
                              im.archived_at, im.manifests, im.subject, im.children_unknown, p) for im, p in rows],
                            protocol=pickle.HIGHEST_PROTOCOL)
        offset = self.file.seek(0, 2)
        self.file.write(data)
        return SpooledRows(self, offset, len(data), len(rows))

    def read(self, offset: int, size: int) -> list[tuple[Any, ...]]:
        assert self.file is not None
        self.file.seek(offset)
        return pickle.loads(self.file.read(size))  # noqa: S301 - our own file, written above


class SpooledRows(SequenceABC):  # type: ignore[type-arg]
    """One repository's rows in a RowSpool: counted without reading, read back (as new images) when iterated."""

    def __init__(self, spool: RowSpool, offset: int, size: int, count: int) -> None:
        self.spool, self.offset, self.size, self.count = spool, offset, size, count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Row]:
        for (repository, digest, tags, pushed_at, last_pulled_at, storage_class, archived_at, manifests, subject,
             children_unknown, p) in self.spool.read(self.offset, self.size):
            yield new_image(repository, digest, tags, pushed_at, last_pulled_at, storage_class, archived_at, (),
                            manifests, subject, children_unknown), p

    def __getitem__(self, i: Any) -> Any:
        return tuple(self)[i]


@dataclass
class Simulator:
    """`simulate`, one repository at a time: `add` each repository's policy and images (in any order, each
    repository once), then `result`. With `slim`, each repository's evaluation keeps only what the report prints
    (`Evaluation.slim`), so a caller streaming repositories holds no repository's images once it is judged.
    With `spool_after` as well, once that many rows (images acted on) are held, every further repository's
    rows go to a RowSpool on disk and are read back as the report is written."""
    at: datetime
    standard_price_gb_month: float
    archive_price_gb_month: float
    restore_price_gb: float | None = None
    hours_per_month: float = DEFAULT_HOURS_PER_MONTH
    in_use: Mapping[str, Mapping[str, Sequence[str]]] | None = None
    protect_in_use: bool = False
    slim: bool = False
    spool_after: int | None = None
    items: list[RepositoryResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    held_rows: int = field(default=0, init=False)  # rows kept in memory so far (spool_after)
    spool: RowSpool = field(default_factory=RowSpool, init=False)

    def add(self, repo: str, policy: Policy | None, imgs: Sequence[LifecycleImage]) -> None:
        at, in_use, warnings = self.at, self.in_use, self.warnings
        std, arc = self.standard_price_gb_month, self.archive_price_gb_month
        ev = evaluate(policy if policy is not None else _EMPTY, imgs, at, repository=repo)
        used: dict[str, Sequence[str]] = {}
        if in_use and in_use.get(repo):
            present = {im.digest for im in imgs}
            used = {d: r for d, r in in_use[repo].items() if d in present}
        hits = _in_use_hits(ev, used)
        unprotected = None
        if self.protect_in_use and used and policy is not None:
            unprotected, ev = ev, evaluate(with_protection(policy), as_protected(imgs, used), at, repository=repo)
            leaked = {im.digest for im, _ in (*ev.expire, *ev.transition)} & set(used)
            if leaked:  # cannot happen by ECR's rules; said loudly if the engine ever disagrees
                warnings.append(f"{repo}: protection does not hold for {len(leaked)} image(s) in use")
        if hits:
            h = hits[0]
            warnings.append(f"{repo or '(no repository)'}: the policy {'as given ' if unprotected else ''}would "
                            f"{h.action} {len(hits)} image(s) in use, e.g. {h.image.digest[:19]}… "
                            f"({'; '.join(h.reasons)})" + ("; protection keeps them" if unprotected else
                                                            "; --protect-in-use shows it as `lifecycle plan` "
                                                            "rolls it out"))
        if ev.held:
            warnings.append(f"{repo or '(no repository)'}: {len(ev.held)} image(s) a rule selected stay because "
                            "an image index that is not expired references them")
        econ = None
        if self.restore_price_gb is not None:
            econ = archive_economics(ev, at, std, arc, self.restore_price_gb, self.hours_per_month)
            if econ.transitioned_images and econ.net_window_usd < 0:
                warnings.append(f"{repo or '(no repository)'}: archiving {econ.transitioned_images} image(s) costs "
                                f"${-econ.net_window_usd:.2f} more than it saves over the {ARCHIVE_MIN_DAYS}-day "
                                f"archive minimum ({econ.likely_restored_images} pulled in the last "
                                f"{ARCHIVE_MIN_DAYS} days and likely restored)")
        if self.slim:
            ev = ev.slim()
            unprotected = unprotected.slim() if unprotected is not None else None
            if self.spool_after is not None:
                ev = self._spooled(ev)
                unprotected = self._spooled(unprotected) if unprotected is not None else None
        self.items.append(RepositoryResult(repo, policy is not None, ev, std, arc, econ,
                                           in_use_images=None if in_use is None else len(used),
                                           in_use_hits=tuple(hits), unprotected=unprotected))

    def _spooled(self, ev: Evaluation) -> Evaluation:
        rows = len(ev.expire) + len(ev.transition) + len(ev.held) + len(ev.followed)
        if self.held_rows + rows <= (self.spool_after or 0):
            self.held_rows += rows
            return ev
        put = self.spool.put
        return replace(ev, expire=put(ev.expire), transition=put(ev.transition), held=put(ev.held),
                       followed=put(ev.followed))

    def result(self) -> SimulationResult:
        items, warnings = self.items, list(self.warnings)
        std, arc = self.standard_price_gb_month, self.archive_price_gb_month
        items.sort(key=lambda r: (-r.monthly_savings_usd, r.repository))
        if any(r.evaluation.transition for r in items) and arc >= std:
            warnings.append(f"archive storage costs ${arc}/GB-month here, not less than standard "
                            f"(${std}): below 150 TB of archive a transition saves no storage cost")
        after = sum(r.evaluation.archive_stored_bytes - r.evaluation.archive_freed_bytes
                    + r.evaluation.archived_bytes for r in items)
        if self.restore_price_gb is not None and after > ARCHIVE_TIER_BYTES:
            warnings.append(f"the archive class would hold {after} B, above the 150 TB price tier; savings are "
                            "priced at the first-tier rate (conservative)")
        warnings.sort()
        return SimulationResult(self.at, tuple(items), std, arc, tuple(warnings))


_EMPTY = Policy(())
