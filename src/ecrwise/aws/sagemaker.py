"""SageMaker collector: models' container images and the images endpoints have deployed. Read-only.

Per region: ListModels + DescribeModel per model (PrimaryContainer.Image, Containers[].Image,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeModel.html) and ListEndpoints +
DescribeEndpoint per endpoint (ProductionVariants[].DeployedImages[].ResolvedImage, the digest it runs,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeployedImage.html).
"""
from __future__ import annotations

from ecrwise.aws.families import CollectorFamily
from ecrwise.aws.session import Account
from ecrwise.aws.tasks import Task, TaskResult
from ecrwise.records import sagemaker as sagemaker_records
from ecrwise.records.sagemaker import SageMakerImage

IAM_ACTIONS = ["sagemaker:ListModels", "sagemaker:DescribeModel", "sagemaker:ListEndpoints",
               "sagemaker:DescribeEndpoint"]


def region_task(account: Account, region: str) -> Task:
    def run() -> TaskResult:
        client = account.client("sagemaker", region)
        acct = account.account_id
        result = TaskResult()
        for page in client.get_paginator("list_models").paginate():
            for m in page.get("Models", []):
                model = client.describe_model(ModelName=m["ModelName"])
                containers = [("primary", model.get("PrimaryContainer") or {})]
                containers += [(f"container {i}", c) for i, c in enumerate(model.get("Containers") or [])]
                for where, c in containers:
                    if c.get("Image"):
                        result.records.append(SageMakerImage(acct, region, "model", m["ModelName"], where, c["Image"]))
        for page in client.get_paginator("list_endpoints").paginate():
            for e in page.get("Endpoints", []):
                ep = client.describe_endpoint(EndpointName=e["EndpointName"])
                for v in ep.get("ProductionVariants") or []:
                    for d in v.get("DeployedImages") or []:
                        image = d.get("SpecifiedImage") or d.get("ResolvedImage")
                        if image:
                            result.records.append(SageMakerImage(acct, region, "endpoint", e["EndpointName"],
                                                                 v.get("VariantName", "?"), image,
                                                                 d.get("ResolvedImage")))
        return result

    return Task("sagemaker", account.account_id, region, f"{account.account_id}/{region} sagemaker", run,
                region_root=True)


FAMILY = CollectorFamily(name="sagemaker", records=(sagemaker_records,), iam_actions=tuple(IAM_ACTIONS),
                         region_task=region_task, warn=("sagemaker",))
