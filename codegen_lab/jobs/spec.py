"""What a job is, independent of where it runs: the spec, its status, its errors and its timeout."""

from __future__ import annotations

from dataclasses import dataclass, field

from codegen_lab.hub import HubError

JOBS_ENV = "CODEGEN_LAB_JOBS"
TERMINAL = ("COMPLETED", "CANCELED", "ERROR", "DELETED")
DEFAULT_IMAGE = "python:3.11-bookworm"  # the project's Python; has make, git and apt for `make install`
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


class JobError(HubError):
    """One readable sentence about a job that could not be started, found or followed (Jobs run on the Hub)."""


@dataclass
class JobSpec:
    """What a job runs (``command``, from the project's root at ``code_repo@code_revision``) and on what."""

    command: list[str]
    code_repo: str
    code_revision: str
    image: str = DEFAULT_IMAGE
    env: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=lambda: ["HF_TOKEN"])  # names; values from token/environment
    flavor: str = "cpu-basic"
    timeout: str = "8h"
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class JobStatus:
    id: str
    stage: str  # SCHEDULING, RUNNING, COMPLETED, CANCELED, ERROR, DELETED
    url: str
    message: str | None = None

    @property
    def done(self) -> bool:
        return self.stage in TERMINAL

    def line(self) -> str:
        return (
            f"Job {self.id}: {self.stage}" + (f" ({self.message})" if self.message else "") + f"  {self.url}"
        )


def timeout_seconds(timeout: str) -> int:
    """``"90"``, ``"30m"``, ``"8h"``, ``"1d"`` -> seconds (the Jobs API's notation)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (timeout[:-1], timeout[-1]) if timeout[-1:] in units else (timeout, "s")
    try:
        return int(float(number) * units[unit])
    except ValueError:
        raise JobError(f"Timeout {timeout!r} is not a duration such as 600, 30m or 8h.") from None
