"""ECR lifecycle policies: the model, and a linter that validates a policy the way ECR does.

Sources for every rule below (see docs/lifecycle.md for the full list with codes):
- AWS ECR User Guide, "Lifecycle policy properties" (each property, what is required with what);
- AWS ECR User Guide, "Automate the cleanup of images by using lifecycle policies" (the evaluation rules:
  prefix/pattern exclusivity, one untagged rule and unique prefix sets per storage class, the wildcard limit);
- AWS ECR User Guide, "Examples of lifecycle policies" (sinceImagePulled only with transition,
  sinceImageTransitioned only with expire and the archive class, 90-day archive minimum);
- AWS ECR User Guide, "Amazon ECR service quotas" (50 rules per policy, 30,720 characters);
- botocore's ECR model (LifecyclePolicyText: 100..30720 characters; LifecyclePolicyRulePriority: min 1);
- AWS ECR User Guide, "Archiving an image" (archive-image.html: archived images have a 90-day minimum storage
  duration; deleting one sooner is billed the full 90 days) for the archive-economics warnings.

The linter reports every problem it finds in one pass, each with a JSON path like
`rules[2].selection.countUnit`, a short code and a severity. Errors are what ECR would reject; warnings are
legal policies that are probably not what the author meant.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from ecrwise.errors import UserError
from ecrwise.inputs import InputError, decode_utf8, load_text, parse_json

if TYPE_CHECKING:  # images.py does not import this module, but the engine does; keep imports one-way
    from ecrwise.lifecycle.images import LifecycleImage

# Limits, each from a named AWS source (module docstring).
POLICY_TEXT_MIN = 100  # botocore LifecyclePolicyText.min
POLICY_TEXT_MAX = 30720  # botocore LifecyclePolicyText.max; service quota "Lifecycle policy length"
MAX_RULES = 50  # service quota "Rules per lifecycle policy"
MAX_WILDCARDS = 4  # properties page: "maximum limit of four wildcards (*) per string"
ARCHIVE_MIN_DAYS = 90  # archive minimum storage duration; lifecycle cannot delete younger archived images

# ecrwise's own limit, not ECR's (the User Guide states none): a day count is subtracted from the evaluation
# time, and a larger one would reach before year 1, which Python's datetime cannot represent.
MAX_COUNT_NUMBER = 365_000

# Warning thresholds (ecrwise's own judgement, not AWS rules).
SMALL_ANY_COUNT = 5

TAG_STATUSES = ("tagged", "untagged", "any")
STORAGE_CLASSES = ("standard", "archive")
COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")
SINCE_TYPES = ("sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")
COUNT_UNITS = ("days",)
ACTION_TYPES = ("expire", "transition")
TARGET_STORAGE_CLASSES = ("archive",)

_TOP_KEYS = ("rules",)
_RULE_KEYS = ("rulePriority", "description", "selection", "action")
_SELECTION_KEYS = ("tagStatus", "tagPatternList", "tagPrefixList", "storageClass", "countType", "countUnit",
                   "countNumber")
_ACTION_KEYS = ("type", "targetStorageClass")

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class LintIssue:
    path: str
    message: str
    code: str
    severity: str = ERROR
    # Machine-readable extras for some warnings (suggested rules, the rule priority it concerns); JSON only.
    detail: dict[str, Any] | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.code}]"

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "message": self.message, "code": self.code,
                             "severity": self.severity}
        if self.detail is not None:
            d["detail"] = self.detail
        return d


@dataclass(frozen=True, slots=True)
class Rule:
    priority: int
    tag_status: str
    count_type: str
    count_number: int
    action: str = "expire"
    description: str = ""
    # At most one of the two lists is set, and only when tag_status is "tagged".
    tag_prefixes: tuple[str, ...] | None = None
    tag_patterns: tuple[str, ...] | None = None
    storage_class: str = "standard"
    count_unit: str | None = None
    target_storage_class: str | None = None

    def to_dict(self) -> dict[str, Any]:
        sel: dict[str, Any] = {"tagStatus": self.tag_status}
        if self.tag_patterns is not None:
            sel["tagPatternList"] = list(self.tag_patterns)
        if self.tag_prefixes is not None:
            sel["tagPrefixList"] = list(self.tag_prefixes)
        if self.storage_class != "standard":
            sel["storageClass"] = self.storage_class
        sel["countType"] = self.count_type
        if self.count_unit is not None:
            sel["countUnit"] = self.count_unit
        sel["countNumber"] = self.count_number
        act: dict[str, Any] = {"type": self.action}
        if self.target_storage_class is not None:
            act["targetStorageClass"] = self.target_storage_class
        out: dict[str, Any] = {"rulePriority": self.priority}
        if self.description:
            out["description"] = self.description
        out["selection"] = sel
        out["action"] = act
        return out


@dataclass(frozen=True, slots=True)
class Policy:
    # Sorted by priority (lowest number first), the order ECR applies them.
    rules: tuple[Rule, ...]
    # Warnings the linter raised when this policy was parsed; they never stop evaluation.
    warnings: tuple[LintIssue, ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> "Policy":
        return cls(tuple(sorted(rules, key=lambda r: r.priority)))

    def to_dict(self) -> dict[str, Any]:
        return {"rules": [r.to_dict() for r in self.rules]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


# --- linting ----------------------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    # JSON true/false decode to bool, a subclass of int; ECR's integers are never booleans.
    return isinstance(v, int) and not isinstance(v, bool)


def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _suggest(value: Any, allowed: tuple[str, ...]) -> str:
    if isinstance(value, str):
        for a in allowed:
            if a.lower() == value.lower():
                return f" (values are case-sensitive: did you mean {a!r}?)"
    return ""


def _pattern_is_match_all(p: str) -> bool:
    return p != "" and set(p) == {"*"}


def _prefix_covers(higher: tuple[str, ...], lower: tuple[str, ...]) -> bool:
    """True when every image the `lower` prefix list selects is also selected by the `higher` one.

    An image matches a prefix list when each prefix starts some tag of the image. If each higher prefix
    is a prefix of some lower prefix, a tag that starts with the lower one starts with the higher one too.
    """
    return all(any(q.startswith(p) for q in lower) for p in higher)


class _Linter:
    def __init__(self, suggest: bool = True) -> None:
        self.issues: list[LintIssue] = []
        # False while linting a suggestion of our own (no suggestions of suggestions).
        self.suggest = suggest

    def err(self, path: str, code: str, message: str) -> None:
        self.issues.append(LintIssue(path, message, code, ERROR))

    def warn(self, path: str, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        self.issues.append(LintIssue(path, message, code, WARNING, detail))

    def unknown_keys(self, obj: dict[str, Any], allowed: tuple[str, ...], path: str) -> None:
        for k in obj:
            if k not in allowed:
                where = f"{path}.{k}" if path else k
                self.err(where, "unknown-property",
                         f"unknown property {k!r}; allowed here: {', '.join(allowed)}")

    def positive_int(self, obj: dict[str, Any], key: str, path: str, code: str, floor: str) -> int | None:
        """The value when present, an integer and 1 or more; otherwise reports (`code`, and `floor` for the
        message when below 1) and returns None."""
        if key not in obj:
            return None
        v = obj[key]
        if not _is_int(v):
            self.err(f"{path}.{key}", "wrong-type", f"must be an integer, not {_type_name(v)}")
        elif v < 1:
            self.err(f"{path}.{key}", code, f"{floor}, not {v}")
        else:
            return v
        return None

    def enum(self, obj: dict[str, Any], key: str, allowed: tuple[str, ...], path: str, code: str) -> str | None:
        """The value when present and allowed; otherwise reports and returns None."""
        if key not in obj:
            return None
        v = obj[key]
        if not isinstance(v, str):
            self.err(f"{path}.{key}", "wrong-type", f"must be a string, not {_type_name(v)}")
            return None
        if v not in allowed:
            self.err(f"{path}.{key}", code,
                     f"{v!r} is not one of {', '.join(allowed)}{_suggest(v, allowed)}")
            return None
        return v

    def string_list(self, sel: dict[str, Any], key: str, path: str) -> tuple[str, ...] | None:
        v = sel[key]
        p = f"{path}.{key}"
        if not isinstance(v, list):
            self.err(p, "wrong-type", f"must be an array of strings, not {_type_name(v)}")
            return None
        ok = True
        for j, item in enumerate(v):
            if not isinstance(item, str):
                self.err(f"{p}[{j}]", "wrong-type", f"must be a string, not {_type_name(item)}")
                ok = False
        if not v:
            self.err(p, "empty-tag-list", "must list at least one tag " + (
                "prefix" if key == "tagPrefixList" else "pattern"))
            ok = False
        return tuple(v) if ok else None

    # -- one rule --------------------------------------------------------------------------------

    def rule(self, i: int, raw: Any) -> dict[str, Any] | None:
        """Check one rule on its own. Returns the normalised facts cross-rule checks need, or None."""
        path = f"rules[{i}]"
        if not isinstance(raw, dict):
            self.err(path, "wrong-type", f"a rule must be an object, not {_type_name(raw)}")
            return None
        self.unknown_keys(raw, _RULE_KEYS, path)
        for k in ("rulePriority", "selection", "action"):
            if k not in raw:
                self.err(f"{path}.{k}", "missing-property", f"{k} is required")

        priority = self.positive_int(raw, "rulePriority", path, "rule-priority-not-positive", "must be 1 or more")
        if "description" in raw and not isinstance(raw["description"], str):
            self.err(f"{path}.description", "wrong-type",
                     f"must be a string, not {_type_name(raw['description'])}")

        facts: dict[str, Any] = {"index": i, "priority": priority, "path": path, "raw": raw}
        sel = raw.get("selection")
        act = raw.get("action")
        if "selection" in raw and not isinstance(sel, dict):
            self.err(f"{path}.selection", "wrong-type", f"must be an object, not {_type_name(sel)}")
            sel = None
        if "action" in raw and not isinstance(act, dict):
            self.err(f"{path}.action", "wrong-type", f"must be an object, not {_type_name(act)}")
            act = None

        action_type = None
        target = None
        if act is not None:
            apath = f"{path}.action"
            self.unknown_keys(act, _ACTION_KEYS, apath)
            if "type" not in act:
                self.err(f"{apath}.type", "missing-property", "type is required (expire or transition)")
            action_type = self.enum(act, "type", ACTION_TYPES, apath, "invalid-action-type")
            target = self.enum(act, "targetStorageClass", TARGET_STORAGE_CLASSES, apath,
                               "invalid-target-storage-class")
            if action_type == "transition" and "targetStorageClass" not in act:
                self.err(f"{apath}.targetStorageClass", "target-storage-class-required",
                         "required when type is transition (the only value is archive)")
            if action_type == "expire" and "targetStorageClass" in act:
                self.err(f"{apath}.targetStorageClass", "target-storage-class-not-allowed",
                         "only allowed when type is transition")
        facts["action"] = action_type
        facts["target"] = target

        if sel is None:
            facts["valid"] = False
            return facts
        spath = f"{path}.selection"
        self.unknown_keys(sel, _SELECTION_KEYS, spath)
        for k in ("tagStatus", "countType", "countNumber"):
            if k not in sel:
                self.err(f"{spath}.{k}", "missing-property", f"{k} is required")
        tag_status = self.enum(sel, "tagStatus", TAG_STATUSES, spath, "invalid-tag-status")
        storage_class = self.enum(sel, "storageClass", STORAGE_CLASSES, spath, "invalid-storage-class")
        count_type = self.enum(sel, "countType", COUNT_TYPES, spath, "invalid-count-type")
        count_unit = self.enum(sel, "countUnit", COUNT_UNITS, spath, "invalid-count-unit")

        count_number = self.positive_int(sel, "countNumber", spath, "count-number-not-positive",
                                         "must be a positive integer (0 is not accepted)")
        if count_number is not None and count_number > MAX_COUNT_NUMBER:
            self.err(f"{spath}.countNumber", "count-number-too-large", f"{count_number} is more than ecrwise can "
                     f"evaluate (at most {MAX_COUNT_NUMBER:,}, 1,000 years in days)")
            count_number = None

        prefixes = self.string_list(sel, "tagPrefixList", spath) if "tagPrefixList" in sel else None
        patterns = self.string_list(sel, "tagPatternList", spath) if "tagPatternList" in sel else None
        has_prefix = "tagPrefixList" in sel
        has_pattern = "tagPatternList" in sel

        # Tag lists and tag status.
        if has_prefix and has_pattern:
            self.err(f"{spath}.tagPatternList", "prefix-and-pattern-list",
                     "a rule may specify tagPatternList or tagPrefixList, not both")
        if tag_status == "tagged" and not has_prefix and not has_pattern:
            self.err(f"{spath}.tagStatus", "tag-list-required",
                     "tagStatus tagged requires a tagPrefixList or a tagPatternList")
        if tag_status in ("untagged", "any"):
            for k in ("tagPrefixList", "tagPatternList"):
                if k in sel:
                    self.err(f"{spath}.{k}", "tag-list-not-allowed",
                             f"{k} is only allowed when tagStatus is tagged, not {tag_status}")
        if patterns is not None:
            for j, p in enumerate(patterns):
                n = p.count("*")
                if n > MAX_WILDCARDS:
                    self.err(f"{spath}.tagPatternList[{j}]", "too-many-wildcards",
                             f"{p!r} has {n} wildcards; at most {MAX_WILDCARDS} '*' per pattern")

        # Count type, unit and number.
        if count_type in SINCE_TYPES and "countUnit" not in sel:
            self.err(f"{spath}.countUnit", "count-unit-required",
                     f"required when countType is {count_type} (the only unit is days)")
        if count_type == "imageCountMoreThan" and "countUnit" in sel:
            self.err(f"{spath}.countUnit", "count-unit-not-allowed",
                     "only allowed when countType is sinceImagePushed, sinceImagePulled or "
                     "sinceImageTransitioned")

        # Storage class against count type.
        if count_type == "sinceImageTransitioned":
            if "storageClass" not in sel:
                self.err(f"{spath}.storageClass", "storage-class-required",
                         "required when countType is sinceImageTransitioned (and must be archive)")
            elif storage_class == "standard":
                self.err(f"{spath}.storageClass", "storage-class-count-type-mismatch",
                         "sinceImageTransitioned selects archived images: storageClass must be archive")
            if count_number is not None and count_number < ARCHIVE_MIN_DAYS:
                self.err(f"{spath}.countNumber", "archive-minimum-days",
                         f"archived images have a {ARCHIVE_MIN_DAYS}-day minimum storage duration; a "
                         f"lifecycle rule cannot expire them after {count_number} days")
        elif count_type is not None and storage_class == "archive":
            self.err(f"{spath}.storageClass", "storage-class-count-type-mismatch",
                     f"with countType {count_type} the only storage class is standard; archived images are "
                     "selected only by sinceImageTransitioned")

        # Count type against action.
        if count_type == "sinceImagePulled" and action_type == "expire":
            self.err(f"{path}.action.type", "pulled-requires-transition",
                     "sinceImagePulled can only be used with the transition action; to delete by pull "
                     "activity, transition first and expire with sinceImageTransitioned")
        if count_type == "sinceImageTransitioned" and action_type == "transition":
            self.err(f"{path}.action.type", "transitioned-requires-expire",
                     "sinceImageTransitioned can only be used with the expire action")

        facts.update(
            tag_status=tag_status,
            storage_class=storage_class or ("standard" if "storageClass" not in sel else None),
            count_type=count_type,
            count_unit=count_unit,
            count_number=count_number,
            prefixes=prefixes,
            patterns=patterns,
            description=raw.get("description") if isinstance(raw.get("description"), str) else "",
        )
        return facts

    # -- across rules ------------------------------------------------------------------------------

    def across(self, rules: list[dict[str, Any]]) -> None:
        by_priority: dict[int, dict[str, Any]] = {}
        for f in rules:
            p = f["priority"]
            if p is None:
                continue
            if p in by_priority:
                first = by_priority[p]
                self.err(f"{f['path']}.rulePriority", "duplicate-rule-priority",
                         f"priority {p} is also used by {first['path']}; each rule needs a unique rulePriority")
            else:
                by_priority[p] = f

        # The any rule, the untagged rule and prefix sets are judged per storage class: the User Guide's
        # own "Combining archive and expire rules" example has an any rule for each class.
        for sc in STORAGE_CLASSES:
            same = [f for f in rules if f.get("storage_class") == sc and f["priority"] is not None]
            top = max((f["priority"] for f in same), default=None)
            for f in same:
                if f.get("tag_status") == "any" and f["priority"] != top:
                    later = [g["path"] for g in same if g["priority"] > f["priority"]]
                    self.err(f"{f['path']}.rulePriority", "any-rule-not-last",
                             f"a rule with tagStatus any must have the highest rulePriority among the "
                             f"{sc} rules (evaluated last); {', '.join(later)} come after it")
            untagged = [f for f in same if f.get("tag_status") == "untagged"]
            for f in untagged[1:]:
                self.err(f"{f['path']}.selection.tagStatus", "multiple-untagged-rules",
                         f"only one rule selecting {sc} images may select untagged images; "
                         f"{untagged[0]['path']} already does")
            seen: dict[frozenset[str], str] = {}
            for f in sorted(same, key=lambda g: g["priority"]):
                if f.get("tag_status") != "tagged" or not f.get("prefixes"):
                    continue
                key = frozenset(f["prefixes"])
                if key in seen:
                    self.err(f"{f['path']}.selection.tagPrefixList", "duplicate-prefix-set",
                             f"the rules selecting {sc} images must have unique sets of tag prefixes; "
                             f"{seen[key]} has the same set")
                else:
                    seen[key] = f["path"]

    def warnings(self, rules: list[dict[str, Any]]) -> None:
        valid = [f for f in rules if f["priority"] is not None and f.get("tag_status")]
        for f in valid:
            spath = f"{f['path']}.selection"
            if f["tag_status"] == "any" and f.get("action") == "expire":
                # Tagged images survive an any rule only if a higher-priority rule's selection claims them.
                shielded = any(g["tag_status"] == "tagged" and g.get("storage_class") == f.get("storage_class")
                               and g["priority"] < f["priority"] for g in valid)
                if f.get("count_type") == "imageCountMoreThan" and f.get("count_number") and \
                        f["count_number"] <= SMALL_ANY_COUNT:
                    self.warn(f"{spath}.countNumber", "any-rule-small-count",
                              f"keeps only the {f['count_number']} newest images of any tag; every older image "
                              "no higher-priority rule selects is expired" +
                              ("" if shielded else ", tagged release images included (no tagged rule "
                               "comes before this one)"))
                elif f.get("count_type") == "sinceImagePushed" and not shielded:
                    self.warn(f"{spath}.countType", "any-rule-expires-by-age",
                              f"expires every image pushed more than {f.get('count_number')} days ago, tagged "
                              "release images included: no tagged rule comes before this one to keep them")
            for j, p in enumerate(f.get("prefixes") or ()):
                if p == "":
                    self.warn(f"{spath}.tagPrefixList[{j}]", "broad-tag-filter",
                              "the empty prefix matches every tag: this rule selects every tagged image")
                elif "*" in p:
                    self.warn(f"{spath}.tagPrefixList[{j}]", "prefix-has-wildcard",
                              f"prefixes are literal and tags cannot contain '*', so {p!r} never matches; "
                              "use tagPatternList for wildcards")
            for j, p in enumerate(f.get("patterns") or ()):
                if _pattern_is_match_all(p):
                    self.warn(f"{spath}.tagPatternList[{j}]", "broad-tag-filter",
                              f"{p!r} matches every tag: this rule selects every tagged image")
                elif p == "":
                    self.warn(f"{spath}.tagPatternList[{j}]", "pattern-matches-nothing",
                              "an empty pattern matches no tag (tags are never empty), so this rule selects "
                              "nothing")

        # A rule whose every selectable image is already selected by a higher-priority rule of the same
        # storage class can never act: ECR protects those images from lower-priority rules.
        ordered = sorted(valid, key=lambda g: g["priority"])
        for k, low in enumerate(ordered):
            if low["tag_status"] != "tagged":
                continue
            for high in ordered[:k]:
                if high.get("storage_class") != low.get("storage_class") or high["tag_status"] != "tagged":
                    continue
                if _covers(high, low):
                    self.warn(f"{low['path']}.selection", "unreachable-rule",
                              f"every image this rule selects is already selected by {high['path']} "
                              f"(priority {high['priority']}), so it can never expire or transition anything")
                    break

        self.all_of_these(valid)
        self.archive_minimum(valid)

    # -- "all of these" tag lists ------------------------------------------------------------------

    def all_of_these(self, valid: list[dict[str, Any]]) -> None:
        """Several prefixes or patterns in one rule mean ALL of them, not any of them.

        The User Guide (lifecycle_policy_parameters.html, tagPatternList and tagPrefixList): "If you specify
        multiple tags, only the images with all specified tags are selected." Authors often list several
        prefixes meaning "any of these"; then the rule selects only images carrying a tag for every prefix,
        usually none. Warn, and suggest one rule per prefix (validated by linting the rewritten policy).
        """
        for f in valid:
            if f["tag_status"] != "tagged":
                continue
            key = "tagPrefixList" if f.get("prefixes") is not None else "tagPatternList"
            entries = list(dict.fromkeys(f.get("prefixes") or f.get("patterns") or ()))
            if len(entries) < 2:
                continue
            kind = "prefix" if key == "tagPrefixList" else "pattern"
            count_note = (f"; each split rule keeps its own {f['count_number']} newest images"
                          if f.get("count_type") == "imageCountMoreThan" else "")
            detail = {"rule_priority": f["priority"], "list": key, "entries": entries, "selects": "all"}
            if self.suggest:
                detail.update(_split_suggestion(f, valid, key, entries))
            self.warn(f"{f['path']}.selection.{key}", "tag-list-requires-all",
                      f"selects only images that carry tags matching all {len(entries)} {kind}es "
                      f"({', '.join(repr(e) for e in entries)}), not any one of them; if you meant any of "
                      f"them, write one rule per {kind} (see the suggested rules){count_note}", detail)

    # -- archive economics -------------------------------------------------------------------------

    def archive_minimum(self, valid: list[dict[str, Any]]) -> None:
        """Transitions that are likely to cost more than they save because of the 90-day archive minimum.

        From the User Guide ("Archiving an image"): archived images have a 90-day minimum storage duration,
        lifecycle policies cannot delete images archived for less than 90 days, archived images cannot be
        pulled, and an image is restored to standard before it can be used again (a per-GB restore charge,
        ECR pricing page). Rules only see images of their own storage class (lifecycle_policy_parameters.html,
        storageClass), so a standard-class expire rule never deletes an archived image.
        """
        ordered = sorted(valid, key=lambda g: g["priority"])
        archive_expire = [g for g in ordered if g.get("storage_class") == "archive" and g.get("action") == "expire"]
        for k, t in enumerate(ordered):
            if t.get("action") != "transition" or t.get("storage_class") != "standard":
                continue
            n_t = t.get("count_number")
            if t.get("count_type") == "sinceImagePulled" and n_t is not None and n_t < ARCHIVE_MIN_DAYS:
                self.warn(f"{t['path']}.selection.countNumber", "transition-before-archive-minimum",
                          f"archives images not pulled for {n_t} days; an image pulled again within "
                          f"{ARCHIVE_MIN_DAYS} days of archiving must first be restored (a per-GB restore "
                          f"charge) and its archive copy is still billed the {ARCHIVE_MIN_DAYS}-day minimum "
                          f"storage duration, so archiving it costs more than keeping it; with "
                          f"{ARCHIVE_MIN_DAYS} days or more only images unused for the whole minimum are archived",
                          {"rule_priority": t["priority"], "count_number": n_t,
                           "archive_minimum_days": ARCHIVE_MIN_DAYS})
            if t.get("count_type") not in ("sinceImagePushed", "sinceImagePulled") or n_t is None:
                continue
            for e in ordered[k + 1:]:
                if e.get("action") != "expire" or e.get("storage_class") != "standard" or \
                        e.get("count_type") != "sinceImagePushed" or e.get("tag_status") not in ("any", t["tag_status"]):
                    continue
                n_e = e.get("count_number")
                if n_e is None or not n_t < n_e < n_t + ARCHIVE_MIN_DAYS:
                    continue
                gap = n_e - n_t
                detail: dict[str, Any] = {"rule_priority": e["priority"], "transition_rule_priority": t["priority"],
                                          "days_in_archive_intended": gap,
                                          "archive_minimum_days": ARCHIVE_MIN_DAYS}
                tail = ""
                if not archive_expire:
                    top = max(g["priority"] for g in ordered)
                    detail["suggested_rules"] = [{
                        "rulePriority": top + 1,
                        "description": f"Delete archived images {ARCHIVE_MIN_DAYS} days after archiving "
                                       "(the earliest ECR allows)",
                        "selection": {"tagStatus": "any", "storageClass": "archive",
                                      "countType": "sinceImageTransitioned", "countUnit": "days",
                                      "countNumber": ARCHIVE_MIN_DAYS},
                        "action": {"type": "expire"}}]
                    tail = ("; this policy has no archive rule, so archived images are kept and billed "
                            "indefinitely (see the suggested rule)")
                self.warn(f"{e['path']}.selection.countNumber", "expire-before-archive-minimum",
                          f"expires images pushed more than {n_e} days ago, meant {gap} days after "
                          f"{t['path']} (priority {t['priority']}) archives them ({n_t} days after "
                          f"{'push' if t['count_type'] == 'sinceImagePushed' else 'the last pull'}); but a "
                          f"standard-class rule never sees archived images, and an archived image can be "
                          f"expired only by a storageClass archive rule, at the earliest {ARCHIVE_MIN_DAYS} "
                          f"days after archiving (the minimum storage duration is billed in any case){tail}",
                          detail)
                break


def _split_suggestion(f: dict[str, Any], valid: list[dict[str, Any]], key: str,
                      entries: list[str]) -> dict[str, Any]:
    """One rule per entry in place of rule `f`, as JSON rules; renumbers the policy only when needed.

    Entries that another rule of the same storage class already lists alone are left out (ECR rejects two
    rules with the same prefix set there). The suggestion is linted; an invalid one is not offered.
    """
    raw_rules = [g["raw"] for g in sorted(valid, key=lambda g: g["priority"])]
    me = f["raw"]
    sc = f.get("storage_class")
    taken = {g["prefixes"][0]: g["path"] for g in valid
             if g is not f and g.get("storage_class") == sc and g["tag_status"] == "tagged"
             and key == "tagPrefixList" and g.get("prefixes") and len(set(g["prefixes"])) == 1}
    keep = [e for e in entries if e not in taken]
    out: dict[str, Any] = {}
    if taken.keys() & set(entries):
        out["already_selected_alone_by"] = {e: taken[e] for e in entries if e in taken}

    def piece(e: str) -> dict[str, Any]:
        r = copy.deepcopy(me)
        r["selection"][key] = [e]
        desc = me.get("description") or ""
        r["description"] = (f"{desc} ({'tag prefix' if key == 'tagPrefixList' else 'tag pattern'} {e!r})"
                            .strip())
        return r

    pieces = [piece(e) for e in keep]
    p = f["priority"]
    nxt = min((g["priority"] for g in valid if g["priority"] > p), default=None)
    if nxt is None or nxt - p >= len(pieces):
        for j, r in enumerate(pieces):
            r["rulePriority"] = p + j
        new_rules = [r for g in raw_rules for r in (pieces if g is me else [g])]
        out["suggested_rules"] = pieces
    else:
        # Not enough free priorities after this rule: renumber every rule 1, 2, ... keeping their order.
        new_rules = []
        for g in raw_rules:
            for r in (pieces if g is me else [copy.deepcopy(g)]):
                r["rulePriority"] = len(new_rules) + 1
                new_rules.append(r)
        out["suggested_rules"] = pieces
        out["suggested_policy"] = {"rules": new_rules}
    problems = errors_only(_lint({"rules": new_rules}, suggest=False))
    if problems or not pieces:
        out.pop("suggested_rules", None)
        out.pop("suggested_policy", None)
        out["suggestion_unavailable"] = [str(i) for i in problems] or ["every entry already has its own rule"]
    return out


def count_all_vs_any(policy: "Policy", images: Iterable["LifecycleImage"]) -> list[dict[str, Any]]:
    """For each tagged rule listing several prefixes/patterns: how many images match all versus any of them.

    Counts the images of the rule's storage class (any repository), by tag selection alone: ages, counts
    and higher-priority rules are left out, so "all" is what the rule can ever select and "any" is what
    the author probably meant. Pure; the CLI feeds it a snapshot's images.
    """

    imgs = [im for im in images if im.tags]
    out: list[dict[str, Any]] = []
    for r in policy.rules:
        if r.tag_status != "tagged":
            continue
        entries = list(dict.fromkeys(r.tag_prefixes if r.tag_prefixes is not None else r.tag_patterns or ()))
        if len(entries) < 2:
            continue
        if r.tag_prefixes is not None:
            def hit(e: str, t: str) -> bool:
                return t.startswith(e)
        else:
            hit = wildcard_match
        pool = [im for im in imgs if im.storage_class == r.storage_class]
        per = dict.fromkeys(entries, 0)
        n_all = n_any = 0
        repos_all: set[str] = set()
        repos_any: set[str] = set()
        for im in pool:
            got = [e for e in entries if any(hit(e, t) for t in im.tags)]
            for e in got:
                per[e] += 1
            if got:
                n_any += 1
                repos_any.add(im.repository)
            if len(got) == len(entries):
                n_all += 1
                repos_all.add(im.repository)
        out.append({"rule_priority": r.priority,
                    "list": "tagPrefixList" if r.tag_prefixes is not None else "tagPatternList",
                    "entries": entries, "storage_class": r.storage_class, "images": len(pool),
                    "all": n_all, "any": n_any, "per_entry": per,
                    "repositories_all": len(repos_all), "repositories_any": len(repos_any)})
    return out


def _covers(high: dict[str, Any], low: dict[str, Any]) -> bool:
    hp, hq = high.get("prefixes"), high.get("patterns")
    lp, lq = low.get("prefixes"), low.get("patterns")
    if (hp is not None and "" in hp and len(set(hp)) == 1) or \
            (hq is not None and all(_pattern_is_match_all(p) for p in hq)):
        return True
    if hp is not None and lp is not None:
        return _prefix_covers(hp, lp)
    if hq is not None and lq is not None:
        return set(hq) <= set(lq)
    return False


# Characters that look like whitespace but that JSON (RFC 8259) does not accept as such. Policies copied
# from web pages (the FinOps playbook's base policy among them) carry U+00A0 for indentation.
_FAKE_SPACES = {"\u00a0": "non-breaking space", "\u200b": "zero-width space", "\ufeff": "byte-order mark",
                "\u2002": "en space", "\u2003": "em space", "\u2009": "thin space", "\u3000": "ideographic space"}


def _whitespace_hint(text: str) -> str:
    for lineno, line in enumerate(text.splitlines(), 1):
        for col, ch in enumerate(line, 1):
            if ch in _FAKE_SPACES:
                return (f" (line {lineno} column {col} holds a {_FAKE_SPACES[ch]}, U+{ord(ch):04X}: JSON allows "
                        "only space, tab, CR and LF between tokens; was it copied from a web page?)")
    return ""


def _compact_length(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))


def lint(text_or_obj: str | bytes | dict[str, Any] | Any) -> list[LintIssue]:
    """Every problem in a policy, errors and warnings, in document order within each pass.

    A string is checked as the policy text ECR would receive (its length counts); a decoded object is
    measured as its compact JSON encoding.
    """
    return _lint(text_or_obj, suggest=True)


def _lint(text_or_obj: str | bytes | dict[str, Any] | Any, *, suggest: bool) -> list[LintIssue]:
    lt = _Linter(suggest)
    if isinstance(text_or_obj, bytes):
        try:
            text_or_obj = decode_utf8(text_or_obj, source="policy")
        except InputError as e:
            lt.err("(document)", e.code, e.detail)
            return lt.issues
    if isinstance(text_or_obj, str):
        length = len(text_or_obj)
        try:
            # The one JSON reader (ecrwise.inputs): bounded depth and numbers, no NaN, no duplicate keys.
            obj = parse_json(text_or_obj, source="policy")
        except InputError as e:
            hint = _whitespace_hint(text_or_obj) if e.code == "invalid-json" else ""
            lt.err(e.path or "(document)", e.code, e.detail + hint)
            return lt.issues
    else:
        obj = text_or_obj
        length = _compact_length(obj) if isinstance(obj, (dict, list)) else 0

    if length < POLICY_TEXT_MIN:
        lt.err("(document)", "policy-too-short",
               f"the policy text is {length} characters; ECR requires at least {POLICY_TEXT_MIN}")
    elif length > POLICY_TEXT_MAX:
        lt.err("(document)", "policy-too-long",
               f"the policy text is {length} characters; ECR allows at most {POLICY_TEXT_MAX}")

    if not isinstance(obj, dict):
        lt.err("(document)", "wrong-type", f"a lifecycle policy must be a JSON object, not {_type_name(obj)}")
        return lt.issues
    lt.unknown_keys(obj, _TOP_KEYS, "")
    if "rules" not in obj:
        lt.err("rules", "missing-property", "rules is required")
        return lt.issues
    rules = obj["rules"]
    if not isinstance(rules, list):
        lt.err("rules", "wrong-type", f"must be an array of rules, not {_type_name(rules)}")
        return lt.issues
    if not rules:
        lt.err("rules", "no-rules", "a lifecycle policy needs at least one rule")
    if len(rules) > MAX_RULES:
        lt.err("rules", "too-many-rules", f"{len(rules)} rules; ECR allows at most {MAX_RULES} per policy")
    facts = [f for f in (lt.rule(i, r) for i, r in enumerate(rules)) if f is not None]
    lt.across(facts)
    if not any(i.severity == ERROR for i in lt.issues):
        lt.warnings(facts)
    return lt.issues


def load_policy(path: str | Path, source: str | None = None) -> Policy:
    """A policy file (UTF-8 JSON, through ecrwise.inputs' limits) parsed and linted; UserError otherwise."""
    src = source or str(path)
    return parse_policy(load_text(path, what="policy file", source=src), source=src)


def errors_only(issues: Iterable[LintIssue]) -> list[LintIssue]:
    return [i for i in issues if i.severity == ERROR]


def parse_policy(text_or_obj: str | bytes | dict[str, Any], source: str = "policy") -> Policy:
    """A valid policy, or UserError listing every error (each with its JSON path) under `source`."""
    issues = lint(text_or_obj)
    errors = errors_only(issues)
    if errors:
        raise UserError(f"{source}: invalid lifecycle policy:\n" + "\n".join(f"  {source}: {e}" for e in errors))
    if isinstance(text_or_obj, bytes):
        text_or_obj = decode_utf8(text_or_obj, source=source)
    obj = parse_json(text_or_obj, source=source) if isinstance(text_or_obj, str) else text_or_obj
    rules = []
    for raw in obj["rules"]:
        sel, act = raw["selection"], raw["action"]
        rules.append(Rule(
            priority=raw["rulePriority"],
            description=raw.get("description", ""),
            tag_status=sel["tagStatus"],
            tag_prefixes=tuple(sel["tagPrefixList"]) if "tagPrefixList" in sel else None,
            tag_patterns=tuple(sel["tagPatternList"]) if "tagPatternList" in sel else None,
            storage_class=sel.get("storageClass", "standard"),
            count_type=sel["countType"],
            count_unit=sel.get("countUnit"),
            count_number=sel["countNumber"],
            action=act["type"],
            target_storage_class=act.get("targetStorageClass"),
        ))
    return Policy(tuple(sorted(rules, key=lambda r: r.priority)),
                  warnings=tuple(i for i in issues if i.severity == WARNING))


def wildcard_match(pattern: str, tag: str) -> bool:
    """'*' matches any run of characters; independent of the regex translation so tests can compare them (the engine matches
    with it; it lives here so lint's counting and the engine share it without an import cycle)."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern == tag
    first, last = parts[0], parts[-1]
    if not tag.startswith(first) or not tag[len(first):].endswith(last) or len(tag) < len(first) + len(last):
        return False
    pos, end = len(first), len(tag) - len(last)
    for mid in parts[1:-1]:
        k = tag.find(mid, pos, end)
        if k < 0:
            return False
        pos = k + len(mid)
    return True
