"""Every worked example on the AWS ECR User Guide page "Examples of lifecycle policies in Amazon ECR".

Policies are the page's text; repositories are the page's where it gives one (and a small one built to
show the stated behaviour where it gives none). Each test asserts the page's documented result.
"""
from __future__ import annotations

import pytest

from ecrwise.lifecycle.policy import errors_only, lint
from lc_helpers import img, names, run

FILTER_ON_AGE = """
{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Expire images older than 14 days",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["prod*"],
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 14
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

FILTER_ON_LAST_PULL = """
{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Archive images not pulled in 90 days",
            "selection": {
                "tagStatus": "any",
                "countType": "sinceImagePulled",
                "countUnit": "days",
                "countNumber": 90
            },
            "action": {
                "type": "transition",
                "targetStorageClass": "archive"
            }
        }
    ]
}"""

FILTER_ON_TRANSITION_TIME = """
{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Expire images archived for more than 365 days",
            "selection": {
                "tagStatus": "any",
                "storageClass": "archive",
                "countType": "sinceImageTransitioned",
                "countUnit": "days",
                "countNumber": 365
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

FILTER_ON_COUNT = """
{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep only one untagged image, expire all others",
            "selection": {
                "tagStatus": "untagged",
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""


def _two_rules(first: str, second: str) -> str:
    return """
{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Rule 1",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["%s"],
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        },
        {
            "rulePriority": 2,
            "description": "Rule 2",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["%s"],
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}""" % (first, second)


MULTI_RULES_A = _two_rules("prod*", "beta*")
MULTI_RULES_B = _two_rules("beta*", "prod*")

MULTI_TAGS_A = """
{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Rule 1",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["alpha*", "beta*"],
                "countType": "sinceImagePushed",
                "countNumber": 5,
                "countUnit": "days"
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

MULTI_TAGS_B = """
{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Rule 1",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["alpha*", "beta*"],
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

ALL_IMAGES_A = """
{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Rule 1",
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

ALL_IMAGES_B = """
{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Rule 1",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["alpha*"],
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        },
        {
            "rulePriority": 2,
            "description": "Rule 2",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        },
        {
            "rulePriority": 3,
            "description": "Rule 3",
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

ARCHIVE_PROD_30_DAYS = """
{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Archive production images older than 30 days",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["prod*"],
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 30
            },
            "action": {
                "type": "transition",
                "targetStorageClass": "archive"
            }
        }
    ]
}"""

ARCHIVE_THEN_EXPIRE = """
{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Archive images older than 30 days",
            "selection": {
                "tagStatus": "any",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 30
            },
            "action": {
                "type": "transition",
                "targetStorageClass": "archive"
            }
        },
        {
            "rulePriority": 2,
            "description": "Expire images archived for more than 365 days",
            "selection": {
                "tagStatus": "any",
                "storageClass": "archive",
                "countType": "sinceImageTransitioned",
                "countUnit": "days",
                "countNumber": 365
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

ALL_EXAMPLES = [FILTER_ON_AGE, FILTER_ON_LAST_PULL, FILTER_ON_TRANSITION_TIME, FILTER_ON_COUNT, MULTI_RULES_A,
                MULTI_RULES_B, MULTI_TAGS_A, MULTI_TAGS_B, ALL_IMAGES_A, ALL_IMAGES_B, ARCHIVE_PROD_30_DAYS,
                ARCHIVE_THEN_EXPIRE]


@pytest.mark.parametrize("text", ALL_EXAMPLES)
def test_every_example_policy_is_valid(text):
    assert errors_only(lint(text)) == []


def test_filtering_on_image_age():
    # "expires images with a tag starting with prod ... that are also older than 14 days"
    images = [img("old-prod", ["prod"], days=20), img("old-prod1", ["prod1"], days=15),
              img("old-production", ["production-team1"], days=30), img("young-prod", ["prod2"], days=3),
              img("old-beta", ["beta"], days=40), img("old-untagged", [], days=40)]
    ev = run(FILTER_ON_AGE, images)
    assert names(ev.expire) == ["old-production", "old-prod", "old-prod1"]


def test_filtering_on_last_pulled_time():
    # "transitions images to archive storage that haven't been pulled in 90 days"; an image never pulled is
    # judged by its push time (evaluation rules).
    images = [img("pulled-long-ago", ["v1"], days=300, pulled_days=120),
              img("pulled-recently", ["v2"], days=300, pulled_days=5),
              img("never-pulled-old", [], days=100),
              img("never-pulled-new", [], days=20)]
    ev = run(FILTER_ON_LAST_PULL, images)
    assert names(ev.transition) == ["pulled-long-ago", "never-pulled-old"]
    assert ev.expire == ()


def test_filtering_on_archive_transition_time():
    # "expires archived images that have been in archive storage for more than 365 days"
    images = [img("archived-400", ["v1"], days=800, storage_class="archive", archived_days=400),
              img("archived-100", ["v2"], days=800, storage_class="archive", archived_days=100),
              img("standard-old", ["v3"], days=800)]
    ev = run(FILTER_ON_TRANSITION_TIME, images)
    assert names(ev.expire) == ["archived-400"]
    assert set(names(ev.kept)) == {"archived-100", "standard-old"}


def test_filtering_on_image_count():
    # "keeps only one untagged image and expires all others"
    images = [img("u1", days=5), img("u2", days=4), img("u3", days=3), img("tagged", ["v1"], days=9)]
    ev = run(FILTER_ON_COUNT, images)
    assert names(ev.expire) == ["u1", "u2"]
    assert set(names(ev.kept)) == {"u3", "tagged"}


MULTI_RULE_REPO = [img("A", ["beta-1", "prod-1"], days=10), img("B", ["beta-2", "prod-2"], days=9),
                   img("C", ["beta-3"], days=8)]


def test_multiple_rules_example_a():
    # Result: Image A is expired (B is skipped: expiring it would violate Rule 1, which saw it).
    ev = run(MULTI_RULES_A, MULTI_RULE_REPO)
    assert names(ev.expire) == ["A"]
    assert [p for _, p in ev.expire] == [1]


def test_multiple_rules_example_b():
    # Result: Images A and B are expired (Rule 2 sees nothing new: Rule 1 saw every image).
    ev = run(MULTI_RULES_B, MULTI_RULE_REPO)
    assert names(ev.expire) == ["A", "B"]
    assert [p for _, p in ev.expire] == [1, 1]


def test_multiple_tags_single_rule_example_a():
    images = [img("A", ["alpha-1"], days=12), img("B", ["beta-1"], days=11), img("C", ["alpha-2", "beta-2"], days=10),
              img("D", ["alpha-3"], days=4), img("E", ["beta-3"], days=3), img("F", ["alpha-4", "beta-4"], days=2)]
    ev = run(MULTI_TAGS_A, images)
    assert names(ev.expire) == ["C"]  # Result: Image C is expired.


def test_multiple_tags_single_rule_example_b():
    images = [img("A", ["alpha-1", "beta-1", "gamma-1"], days=10), img("B", ["alpha-2", "beta-2"], days=9),
              img("C", ["alpha-3", "beta-3", "gamma-2"], days=8)]
    ev = run(MULTI_TAGS_B, images)
    assert names(ev.expire) == ["A", "B"]  # Result: Images A and B are expired (tags are not exclusive).


def test_all_images_example_a():
    images = [img("A", ["alpha-1"], days=4), img("B", ["beta-1"], days=3), img("C", [], days=2),
              img("D", ["alpha-2"], days=1)]
    ev = run(ALL_IMAGES_A, images)
    assert names(ev.expire) == ["A", "B", "C"]  # Result: Images A, B, and C are expired.


@pytest.mark.parametrize("e_offset_seconds", [0, 60])
def test_all_images_example_b(e_offset_seconds):
    # D and E are both "pushed 1 day ago". The documented result (D expired, E kept) needs E to count as
    # the newer one; the page lists E after D. With equal push times ecrwise orders by digest (E > D), and
    # with E a minute newer the push time alone decides: both give the documented result.
    images = [img("A", ["alpha-1", "beta-1"], days=4), img("B", [], days=3), img("C", ["alpha-2"], days=2),
              img("D", ["git hash"], days=1), img("E", [], days=1 - e_offset_seconds / 86400)]
    ev = run(ALL_IMAGES_B, images)
    # Result: Images A, B, and D are expired. E is untagged and exactly one day old: not older than one day.
    assert names(ev.expire) == ["A", "B", "D"]
    assert [p for _, p in ev.expire] == [1, 2, 3]
    assert set(names(ev.kept)) == {"C", "E"}


def test_archive_prod_images_older_than_30_days():
    images = [img("prod-old", ["prod-1"], days=45), img("prod-new", ["prod-2"], days=10),
              img("dev-old", ["dev-1"], days=45)]
    ev = run(ARCHIVE_PROD_30_DAYS, images)
    assert names(ev.transition) == ["prod-old"]
    assert ev.expire == ()


def test_archive_then_expire_combined():
    # Standard images older than 30 days are archived; archived images older than 365 days in archive are
    # deleted. Each rule only sees its own storage class.
    images = [img("std-old", ["v1"], days=45), img("std-new", ["v2"], days=5),
              img("arc-old", ["v0"], days=900, storage_class="archive", archived_days=400),
              img("arc-new", ["v00"], days=900, storage_class="archive", archived_days=30)]
    ev = run(ARCHIVE_THEN_EXPIRE, images)
    assert names(ev.transition) == ["std-old"]
    assert names(ev.expire) == ["arc-old"]
    assert set(names(ev.kept)) == {"std-new", "arc-new"}


def test_important_notes_are_lint_errors():
    # "The sinceImagePulled count type must be used with the transition action."
    transition = '"type": "transition",\n                "targetStorageClass": "archive"'
    pulled_expire = FILTER_ON_LAST_PULL.replace(transition, '"type": "expire"')
    assert "pulled-requires-transition" in {i.code for i in errors_only(lint(pulled_expire))}
    # "The sinceImageTransitioned count type must be used with the expire action and the archive storage class."
    transitioned_transition = FILTER_ON_TRANSITION_TIME.replace(
        '"type": "expire"', '"type": "transition", "targetStorageClass": "archive"')
    assert "transitioned-requires-expire" in {i.code for i in errors_only(lint(transitioned_transition))}
    no_class = FILTER_ON_TRANSITION_TIME.replace('"storageClass": "archive",', "")
    assert "storage-class-required" in {i.code for i in errors_only(lint(no_class))}
    # "Images must be in archive storage for a minimum of 90 days before deletion."
    short = FILTER_ON_TRANSITION_TIME.replace('"countNumber": 365', '"countNumber": 30')
    assert "archive-minimum-days" in {i.code for i in errors_only(lint(short))}
