"""Where the project's own folders are: the repo, and the outputs folder every stage writes runs to."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUTS_ENV = "CODEGEN_LAB_OUTPUTS"  # where local training runs and Space benchmarks live; default ./outputs


def outputs_dir() -> Path:
    return Path(os.environ.get(OUTPUTS_ENV, REPO_ROOT / "outputs")).expanduser()
