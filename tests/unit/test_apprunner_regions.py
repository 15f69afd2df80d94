"""Which regions the App Runner collector asks: botocore's endpoint data, read in the region's own partition."""
from __future__ import annotations

import boto3

from ecrwise.aws.apprunner import offered


def test_regions_are_looked_up_in_their_own_partition():
    session = boto3.session.Session()
    assert offered("us-east-1")
    for region in ("cn-north-1", "us-gov-west-1", "eu-isoe-west-1"):
        partition = session.get_partition_for_region(region)
        assert partition != "aws"
        assert offered(region) == (region in session.get_available_regions("apprunner", partition_name=partition))


def test_a_region_botocore_does_not_know_is_tried_not_skipped():
    assert offered("zz-newplace-1")
