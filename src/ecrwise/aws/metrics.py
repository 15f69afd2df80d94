"""CloudWatch metrics: 30 days of AWS/ECR RepositoryPullCount daily sums, batched per GetMetricData call."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ecrwise.aws.session import Account
from ecrwise.aws.tasks import Task, TaskResult
from ecrwise.records.ecr import PullMetric

IAM_ACTIONS = ["cloudwatch:GetMetricData"]

MAX_QUERIES = 500  # GetMetricData's limit on MetricDataQueries per call.
DAYS = 30


def day_window(now: datetime | None = None, days: int = DAYS) -> tuple[datetime, datetime]:
    """[start, end) aligned to UTC midnight so each datapoint is one calendar day; today is included."""
    now = now or datetime.now(timezone.utc)
    end = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return end - timedelta(days=days), end


def pull_count_tasks(account: Account, region: str, repositories: list[str]) -> list[Task]:
    tasks = []
    for i in range(0, len(repositories), MAX_QUERIES):
        chunk = repositories[i:i + MAX_QUERIES]
        tasks.append(Task("cloudwatch", account.account_id, region,
                          f"{region} pull metrics {i // MAX_QUERIES + 1}",
                          lambda chunk=chunk: collect_pull_counts(account, region, chunk)))
    return tasks


def collect_pull_counts(account: Account, region: str, repositories: list[str]) -> TaskResult:
    cw = account.client("cloudwatch", region)
    start, end = day_window()
    queries = [{
        "Id": f"m{i}",
        "MetricStat": {
            "Metric": {"Namespace": "AWS/ECR", "MetricName": "RepositoryPullCount",
                       "Dimensions": [{"Name": "RepositoryName", "Value": name}]},
            "Period": 86400, "Stat": "Sum"},
        "ReturnData": True,
    } for i, name in enumerate(repositories)]
    records: dict[tuple[str, object], int] = {}
    # GetMetricData pages its answer (NextToken); one result Id may continue on a later page, so values are
    # summed per (repository, day) across pages.
    for resp in cw.get_paginator("get_metric_data").paginate(MetricDataQueries=queries, StartTime=start,
                                                             EndTime=end):
        for res in resp.get("MetricDataResults", []):
            name = repositories[int(res["Id"][1:])]
            for ts, value in zip(res.get("Timestamps", []), res.get("Values", [])):
                day = ts.astimezone(timezone.utc).date()
                records[(name, day)] = records.get((name, day), 0) + int(round(value))
    return TaskResult(records=[PullMetric(account.account_id, region, name, day, pulls)
                               for (name, day), pulls in sorted(records.items())])
