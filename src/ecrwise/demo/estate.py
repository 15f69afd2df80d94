"""The demo estate: one realistic AWS account built through the stand-in's API.

Used by `ecrwise demo`, the tests and the benchmarks. Everything is created with boto3 calls against the
stand-in's URL, exactly as a user's CI would push images; facts the stand-in's API cannot express are set in the
in-process stand-in's state, each spot saying so. The parts: `estate_ecr` (repositories, images, pull metrics),
`estate_network` (VPCs, NAT gateway, endpoints) and `estate_ecs` (clusters, services, hosts). This module only
puts them together, so the parts import none of it.

`build_estate` returns an `Estate` describing what was made (every image's layers), so tests can compute the
expected inventory independently of ecrwise's collectors.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from ecrwise.demo.estate_ecr import (NETWORK_REGION, Estate, _client, _create_repository, _put_pull_metrics,
                                     _set_times_in_state, plan_estate)
from ecrwise.demo.estate_ecs import build_ecs
from ecrwise.demo.estate_network import build_networks

__all__ = ["Estate", "build_estate", "plan_estate"]


def build_estate(url: str, seed: int = 7, repositories: int | None = None, images_per_repo: int | None = None,
                 workers: int = 8, now: datetime | None = None, networks: bool | None = None) -> Estate:
    """Build the estate in the stand-in at `url`. The sized estates of benchmarks (`repositories=N`) are
    ECR-only unless `networks=True`; the demo estate has everything."""
    estate = plan_estate(seed, repositories, images_per_repo, now)
    clients = {r: (_client("ecr", url, r), _client("cloudwatch", url, r)) for r in estate.regions}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda repo: _create_repository(clients[repo.region][0], repo), estate.repositories))
    for region in estate.regions:
        _put_pull_metrics(clients[region][1], [r for r in estate.repositories if r.region == region], estate.now)
    _set_times_in_state(estate)
    if networks if networks is not None else repositories is None:
        estate.networks = build_networks(_client("ec2", url, NETWORK_REGION), NETWORK_REGION)
        if repositories is None:  # the ECS part runs the demo estate's own images
            estate.ecs = build_ecs(estate, url)
    return estate
