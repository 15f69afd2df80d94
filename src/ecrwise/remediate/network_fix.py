"""`ecrwise network fix` and `undo`: audit a VPC from its live network state, write the fix as Terraform /
CloudFormation, or apply it (and undo it) through `ecrwise.remediate.network_apply` with a journal written before
the first change and after every step.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from ecrwise.records import Records
from ecrwise.analysis.network_checks import VpcAudit, audit_network
from ecrwise.aws.network import by_type
from ecrwise.aws.network_apply import live_records
from ecrwise.aws.session import Account, error_code
from ecrwise.errors import AwsUnavailable, UserError
from ecrwise.inputs import output_errors
from ecrwise.pricing.book import GIB, PriceBook
from ecrwise.records import network as net
from ecrwise.remediate import network_templates as tpl
from ecrwise.remediate.network_apply import Journal, StepResult, UndoStep, apply_fix_plan, apply_undo, prior_state


class _LiveNetwork(Records):
    """A snapshot's records with its network records replaced by the ones read live (records of classes the
    live read did not return count as none, not as the snapshot's)."""

    def __init__(self, live: dict[type, list[Any]], snapshot: Records | None):
        super().__init__(live)
        self._live = live
        self._snapshot = snapshot

    def of(self, cls: type) -> list[Any]:  # type: ignore[override]
        if cls in self._live:
            return self._live[cls]
        if self._snapshot is None or cls.__module__ == net.__name__:
            return []
        return self._snapshot.of(cls)


def live_audit(account: Account, region: str, vpc: str, records: Records | None, book: PriceBook) -> VpcAudit | None:
    """The VPC audited from its live network state, with the snapshot's ECS records (which subnets pull)."""
    try:
        live = by_type(live_records(account, region, vpc))
    except Exception as e:  # noqa: BLE001 — every failure becomes an exit code with the reason
        if error_code(e).startswith("InvalidVpcID"):
            raise UserError(f"--vpc {vpc}: no such VPC in account {account.account_id}, region {region}") from None
        raise AwsUnavailable(f"cannot read {vpc} in {region}: {error_code(e)}: {e}") from None
    if not live.get(net.Vpc):
        raise UserError(f"--vpc {vpc}: no such VPC in account {account.account_id}, region {region}")
    return audit_network(_LiveNetwork(live, records), book, pull_traffic={}).vpc(vpc)


def write_templates(plan: tpl.FixPlan, out: Path, version: str, *, terraform: bool, cloudformation: bool,
                    say: Callable[[str], None]) -> None:
    """main.tf and/or template.json into `out`; `say` reports each file and the steps a stack cannot do."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {out}: cannot create the directory: {e.strerror}") from None
    if terraform:
        path = out / "main.tf"
        with output_errors(path, "the Terraform file"):
            path.write_text(tpl.terraform(plan, version))
        say(f"wrote {path}")
    if cloudformation:
        template = tpl.cloudformation(plan, version)
        path = out / "template.json"
        if template is None:
            say("no CloudFormation template: the plan creates nothing, it only changes existing resources")
        else:
            with output_errors(path, "the CloudFormation template"):
                path.write_text(json.dumps(template, indent=2) + "\n")
            say(f"wrote {path}")
        steps = tpl.manual_steps(plan)
        if steps:
            say("CloudFormation cannot change resources a stack does not own; once the stack is up, run "
                "(or use --apply, which does all of it):")
        for step in steps:
            say(f"  · {step}")


def apply_fix(account: Account, vpc: str, plan: tpl.FixPlan, journal_dir: Path, *,
              announce: Callable[[Path], None]) -> tuple[Journal, list[StepResult]]:
    """Journal the plan and the prior state of what it changes (`announce` gets the journal's path), then run it."""
    before = prior_state(account, plan)
    with output_errors(journal_dir, "the journal (--backup-dir)"):
        journal = Journal(journal_dir, "network-fix", {"vpc_id": vpc, "account": plan.account, "region": plan.region,
                                                       "plan": plan.as_dict(), "before": before})
    announce(journal.path)
    return journal, apply_fix_plan(account, plan, journal)


def apply_undo_steps(account: Account, region: str, vpc: str, steps: list[UndoStep], journal_dir: Path, *,
                     announce: Callable[[Path], None]) -> tuple[Journal, list[StepResult]]:
    """Journal the undo plan (`announce` gets the journal's path), then reverse each step."""
    with output_errors(journal_dir, "the journal (--backup-dir)"):
        journal = Journal(journal_dir, "network-undo", {"vpc_id": vpc, "account": account.account_id,
                                                        "region": region, "plan": [s.as_dict() for s in steps]})
    announce(journal.path)
    return journal, apply_undo(account, region, vpc, steps, journal)


# The findings a fix plan closes whose arithmetic prices NAT processing (`analysis.network_checks._finding`).
_NAT_PRICED_CHECKS = ("network.endpoint-missing", "network.s3-gateway-route-tables", "network.endpoint-private-dns")


def _nat_arithmetic(arithmetic: dict[str, Any]) -> list[dict[str, Any]]:
    """The parts of a finding's arithmetic priced at the NAT gateway's per-GB rate."""
    parts = [arithmetic, *(v for v in arithmetic.values() if isinstance(v, dict))]
    return [p for p in parts if isinstance(p.get("price"), dict) and p["price"].get("item") == "nat_gateway_gb"]


def billing_predictions(audit: VpcAudit | None, results: list[StepResult],
                        book: PriceBook) -> list[tuple[str, float | None]]:
    """(resource, predicted monthly saving) of an applied fix, for `billing savings` to set against the bill:

    - each NAT gateway of the VPC: the NAT processing the snapshot's findings priced for the gaps the fix closed
      (their arithmetic's NAT-priced parts), when the VPC has one NAT gateway; with several, which gateway carried
      the bytes is not known, so the rows are recorded without a prediction (as when the snapshot knows no pull
      traffic there);
    - each interface endpoint created: minus its hours (AZs × hours a month × the AZ-hour price), a cost the bill
      shows from now on.
    `audit` is the snapshot's audit of the VPC (the live one knows no pull traffic); None: no NAT prediction."""
    out: list[tuple[str, float | None]] = []
    if audit is not None and audit.nat_gateway_ids:
        parts = [p for f in audit.findings if f.check in _NAT_PRICED_CHECKS for p in _nat_arithmetic(f.arithmetic)]
        # No priced part: the snapshot knows no pull traffic through the VPC (no ECS scan), so no prediction.
        saved = sum(p["bytes"] / GIB * p["price"]["usd"] for p in parts) if parts else None
        one = len(audit.nat_gateway_ids) == 1
        out += [(nat, saved if one else None) for nat in sorted(audit.nat_gateway_ids)]
    for r in results:
        if r.action == "create-interface-endpoint" and r.status == "done" and r.resource_id and audit is not None:
            hours = len(audit.azs) * book.hours_per_month
            out.append((r.resource_id, -hours * book.price(audit.region, "vpc_interface_endpoint_az_hour").usd))
    return out
