"""What a scan could not collect: recorded in the snapshot and warned about, never fatal on its own."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScanFailure:
    account: str
    region: str
    service: str
    error_code: str
    message: str
