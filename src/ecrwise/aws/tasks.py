"""The unit of a scan's fan-out: a task does a few API calls and returns records and follow-up tasks.

A region task lists repositories and returns one task per repository; the scan runs them all in one
bounded pool, so work spreads over account × region × repository without nested pools.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class TaskResult:
    records: list[Any] = field(default_factory=list)
    tasks: list["Task"] = field(default_factory=list)
    # Non-fatal problems found inside a task (an image whose manifest could not be read, say).
    problems: list[tuple[str, str]] = field(default_factory=list)  # (error_code, message)


@dataclass
class Task:
    service: str
    account: str
    region: str
    label: str
    fn: Callable[[], TaskResult]
    # True for the task that first touches a region; its failure means the whole region is unavailable.
    region_root: bool = False
