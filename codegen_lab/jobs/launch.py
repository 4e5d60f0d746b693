"""What the launchers share: which backend (``CODEGEN_LAB_JOBS``), publish then submit, status/logs/cancel."""

from __future__ import annotations

import os
from pathlib import Path

from codegen_lab.hub import HUB_ENV, Hub
from codegen_lab.jobs.code import publish_code
from codegen_lab.jobs.huggingface import HfJobs
from codegen_lab.jobs.local import LocalJobs
from codegen_lab.jobs.spec import JOBS_ENV, JobError, JobSpec
from codegen_lab.paths import outputs_dir


def client_from_env() -> HfJobs | LocalJobs:
    """The Jobs API, or the local executor when ``CODEGEN_LAB_JOBS`` is ``local`` or a folder."""
    setting = os.environ.get(JOBS_ENV, "hf")
    if setting in ("", "hf"):
        return HfJobs(endpoint=os.environ.get("HF_ENDPOINT"), token=os.environ.get("HF_TOKEN"))
    root = outputs_dir() / "jobs" if setting == "local" else Path(setting).expanduser()
    return LocalJobs(root.resolve())


def code_for_job(client: HfJobs | LocalJobs, commit: str, repo: str) -> str:
    """Publish the commit where the job can read it: a local Hub folder only serves the local executor."""
    hub = Hub.from_env()
    if hub.is_local and not client.is_local:
        raise JobError(
            f"{HUB_ENV} points to a local hub ({hub.root}), which a job on Hugging Face cannot read; "
            f"unset it, or run the job on this machine with {JOBS_ENV}=local."
        )
    return publish_code(commit, repo, hub)


def submit(client: HfJobs | LocalJobs, spec: JobSpec, detach: bool) -> int:
    """Start the job, print its id and URL, then stream its logs until it ends (unless ``detach``)."""
    job = client.run(spec)
    print(f"Job {job.id} on {spec.flavor}: {job.url}", flush=True)
    if detach:
        print(f"Follow it with: python -m training.launch logs {job.id} --follow  (or status / cancel)")
        return 0
    for line in client.logs(job.id, follow=True):
        print(line, flush=True)
    final = client.status(job.id)
    print(final.line())
    return 0 if final.stage == "COMPLETED" else 1


OPS = ("status", "logs", "cancel")


def ops_main(argv: list[str]) -> int:
    """``status JOB_ID``, ``logs JOB_ID [--follow]``, ``cancel JOB_ID``."""
    follow = "--follow" in argv
    words = [a for a in argv if a != "--follow"]
    if len(words) != 2 or words[0] not in OPS:
        raise ValueError(
            f"usage: python -m training.launch {{{','.join(OPS)}}} JOB_ID [--follow]; got {argv}."
        )
    command, job_id = words
    client = client_from_env()
    if command == "logs":
        for line in client.logs(job_id, follow=follow):
            print(line, flush=True)
        return 0
    status = client.cancel(job_id) if command == "cancel" else client.status(job_id)
    print(("Cancel requested. " if command == "cancel" and not status.done else "") + status.line())
    return 0
