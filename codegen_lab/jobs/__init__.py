"""Every Hugging Face Jobs call the project makes, in one place (as codegen_lab.hub is for the Hub).

A ``JobSpec`` is a command run from the root of this project at one commit, on a flavor, with an env and
secrets named (never their values). Two backends run the same spec:

- the Jobs API (default; ``HF_ENDPOINT``, token from ``HF_TOKEN`` or ``hf auth login``): the container
  downloads the commit's tree (``publish_code``) with ``hf download``, installs it with ``make install``
  (torch first, pinned by constraints.txt), then runs the command. Secret values travel in the payload's
  ``secrets`` (stored encrypted by the Hub), never in the command, the env or a printed line.
- the local executor (``CODEGEN_LAB_JOBS=local`` -> ``outputs/jobs``, or ``CODEGEN_LAB_JOBS=/folder``): the
  same code is copied from the Hub (the local one under ``CODEGEN_LAB_HUB``, passed through) into a scratch
  folder and the command runs there as a subprocess, with this machine's Python and packages instead of the
  install step; secrets come from this environment. Id, status and logs are files (codegen_lab.jobs.local),
  so ``status``/``logs``/``cancel`` work from any process.

Errors become one ``JobError`` sentence: the API unreachable, the token refused, an unknown flavor or job id.

``spec`` (what a job is), ``code`` (the commit a job runs), ``huggingface`` (the Jobs API), ``local`` (the
executor on this machine) and ``launch`` (what the launchers share); this package is their one entry.
"""

from codegen_lab.jobs.code import CODE_IGNORE, CODE_MARKER, committed_file, publish_code, resolve_commit
from codegen_lab.jobs.huggingface import HfJobs, bootstrap_script
from codegen_lab.jobs.launch import OPS, client_from_env, code_for_job, ops_main, submit
from codegen_lab.jobs.local import LocalJobs
from codegen_lab.jobs.spec import (
    CPU_TORCH_INDEX,
    DEFAULT_IMAGE,
    JOBS_ENV,
    TERMINAL,
    JobError,
    JobSpec,
    JobStatus,
    timeout_seconds,
)

__all__ = [
    "CODE_IGNORE",
    "CODE_MARKER",
    "CPU_TORCH_INDEX",
    "DEFAULT_IMAGE",
    "JOBS_ENV",
    "OPS",
    "TERMINAL",
    "HfJobs",
    "JobError",
    "JobSpec",
    "JobStatus",
    "LocalJobs",
    "bootstrap_script",
    "client_from_env",
    "code_for_job",
    "committed_file",
    "ops_main",
    "publish_code",
    "resolve_commit",
    "submit",
    "timeout_seconds",
]
