"""Ready-made lifecycle policies, shipped as JSON files next to this module (`templates/NAME.json`)."""
from __future__ import annotations

from importlib import resources

from ecrwise.errors import UserError

# name -> one-line summary, in the order `ecrwise lifecycle template` lists them.
TEMPLATES: dict[str, str] = {
    "playbook-base": "FinOps playbook base policy: untagged >1, latest* >1, v* >9, any >20; "
                     "the published text with its non-breaking spaces replaced so it is valid JSON",
    "playbook-base-as-published": "The FinOps playbook base policy byte for byte as published; NOT valid JSON "
                                  "(indented with U+00A0 non-breaking spaces), kept to show why",
    "untagged-only": "Expire untagged images 14 days after push; never touches tagged images",
    "keep-n-releases": "Keep the 10 newest v*.*.* releases and the newest latest*, expire untagged after 7 days "
                       "and everything else after 30",
    "archive-old": "Archive v* releases not pulled for 90 days, expire untagged after 14 days, delete archived "
                   "images a year after archiving",
}


def template_names() -> list[str]:
    return list(TEMPLATES)


def get_template(name: str) -> str:
    """The template's policy text exactly as shipped."""
    if name not in TEMPLATES:
        raise UserError(f"unknown lifecycle template {name!r}; available: {', '.join(TEMPLATES)}")
    folder = resources.files("ecrwise.lifecycle").joinpath("templates")
    return folder.joinpath(f"{name}.json").read_text(encoding="utf-8")
