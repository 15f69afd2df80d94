"""Lambda collector: the image every version of each container-image function runs. Read-only.

Per region: ListFunctions. Per `PackageType=Image` function: ListVersionsByFunction, ListAliases and one
GetFunction per version ($LATEST and each published version), whose Code.ResolvedImageUri is the digest that
version runs (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionCodeLocation.html). Published versions
matter as much as $LATEST: a version whose image is deleted fails to run
(https://docs.aws.amazon.com/lambda/latest/dg/images-create.html).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from ecrwise.aws.families import CollectorFamily
from ecrwise.aws.session import Account
from ecrwise.aws.tasks import Task, TaskResult
from ecrwise.records import lambda_ as lambda_records
from ecrwise.records.lambda_ import LambdaFunctionImage

IAM_ACTIONS = ["lambda:ListFunctions", "lambda:ListVersionsByFunction", "lambda:ListAliases", "lambda:GetFunction"]


def region_task(account: Account, region: str) -> Task:
    def run() -> TaskResult:
        client = account.client("lambda", region)
        result = TaskResult()
        for page in client.get_paginator("list_functions").paginate():
            for fn in page.get("Functions", []):
                if fn.get("PackageType") == "Image":
                    name = fn["FunctionName"]
                    result.tasks.append(Task("lambda", account.account_id, region, f"{region}/lambda/{name}",
                                             lambda name=name: collect_function(account, region, name)))
        return result

    return Task("lambda", account.account_id, region, f"{account.account_id}/{region} lambda", run,
                region_root=True)


def collect_function(account: Account, region: str, name: str) -> TaskResult:
    client = account.client("lambda", region)
    versions: list[str] = []
    for page in client.get_paginator("list_versions_by_function").paginate(FunctionName=name):
        versions.extend(v["Version"] for v in page.get("Versions", []))
    aliases: dict[str, list[str]] = defaultdict(list)
    for page in client.get_paginator("list_aliases").paginate(FunctionName=name):
        for a in page.get("Aliases", []):
            # A weighted alias routes to its version and to each AdditionalVersionWeights version.
            weights: dict[str, Any] = (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            for v in (a.get("FunctionVersion"), *weights):
                if v:
                    aliases[v].append(a["Name"])
    result = TaskResult()
    for version in dict.fromkeys(["$LATEST", *versions]):
        resp = client.get_function(FunctionName=name, Qualifier=version)
        code, conf = resp.get("Code") or {}, resp.get("Configuration") or {}
        if not code.get("ImageUri") and not code.get("ResolvedImageUri"):
            continue
        result.records.append(LambdaFunctionImage(
            account=account.account_id, region=region, function_name=name, version=version,
            image_uri=code.get("ImageUri") or code["ResolvedImageUri"], resolved_image_uri=code.get("ResolvedImageUri"),
            aliases=sorted(aliases.get(version, [])), state=conf.get("State")))
    return result


FAMILY = CollectorFamily(name="lambda", records=(lambda_records,), iam_actions=tuple(IAM_ACTIONS),
                         region_task=region_task, warn=("lambda",))
