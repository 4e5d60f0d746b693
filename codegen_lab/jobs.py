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
  install step; secrets come from this environment. Id, status and logs are files (codegen_lab.local_jobs),
  so ``status``/``logs``/``cancel`` work from any process.

Errors become one ``JobError`` sentence: the API unreachable, the token refused, an unknown flavor or job id.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from codegen_lab.hub import HUB_ENV, Hub, HubError
from codegen_lab.paths import REPO_ROOT, outputs_dir

if TYPE_CHECKING:
    from codegen_lab.local_jobs import LocalJobs

JOBS_ENV = "CODEGEN_LAB_JOBS"
TERMINAL = ("COMPLETED", "CANCELED", "ERROR", "DELETED")
DEFAULT_IMAGE = "python:3.11-bookworm"  # the project's Python; has make, git and apt for `make install`
CODE_MARKER = "CODE_COMMIT"  # uploaded last: a code branch without it is incomplete
CODE_IGNORE = ["demo/adapters/*"]  # the demo weights are for the Space, not for jobs
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


def client_from_env() -> HfJobs | LocalJobs:
    """The Jobs API, or the local executor when ``CODEGEN_LAB_JOBS`` is ``local`` or a folder."""
    from codegen_lab.local_jobs import LocalJobs

    setting = os.environ.get(JOBS_ENV, "hf")
    if setting in ("", "hf"):
        return HfJobs(endpoint=os.environ.get("HF_ENDPOINT"), token=os.environ.get("HF_TOKEN"))
    root = outputs_dir() / "jobs" if setting == "local" else Path(setting).expanduser()
    return LocalJobs(root.resolve())


# -- the project's code at one commit ----------------------------------------------------------------
def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True)


def resolve_commit(revision: str = "HEAD") -> str:
    """The full sha of ``revision``; a note on stderr when uncommitted changes will not travel."""
    done = _git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if done.returncode:
        raise JobError(
            f"--code_revision {revision!r} is not a commit of the checkout at {REPO_ROOT}; a job runs "
            "committed code, so commit first or name an existing commit."
        )
    if _git("status", "--porcelain", "--untracked-files=no").stdout.strip():
        print("note: uncommitted changes stay here; the job runs the commit.", file=sys.stderr)
    return done.stdout.decode().strip()


def committed_file(commit: str, path: str) -> tuple[str, str]:
    """(path from the project's root, text) of a file as the job will have it, e.g. a recipe."""
    full = Path(path).expanduser().resolve()
    rel = full.relative_to(REPO_ROOT).as_posix() if full.is_relative_to(REPO_ROOT) else None
    done = _git("show", f"{commit}:{rel}") if rel else None
    if done is None or done.returncode:
        raise JobError(
            f"{path} is not a committed file of this project at {commit[:12]}, so a job would not have it; "
            "commit it (e.g. under training/recipes/) first."
        )
    return rel, done.stdout.decode()


def publish_code(commit: str, repo: str, hub: Hub | None = None) -> str:
    """The branch ``code-<sha12>`` of ``repo`` holding the commit's tree (``git archive``), uploaded once."""
    hub = hub or Hub.from_env()
    branch = f"code-{commit[:12]}"
    hub.create_repo(repo, private=True)
    with contextlib.suppress(HubError):  # not there yet (or half uploaded): upload it
        if CODE_MARKER in hub.list_files(repo, branch):
            return branch
    archive = _git("archive", "--format=tar", commit)
    if archive.returncode:
        raise JobError(f"git archive {commit[:12]} failed: {archive.stderr.decode().strip()}")
    with tempfile.TemporaryDirectory(prefix="code-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tree:
            tree.extractall(tmp, filter="data")
        hub.create_branch(repo, branch)
        hub.upload_folder(repo, tmp, branch, commit_message=f"Code at {commit}", ignore_patterns=CODE_IGNORE)
    hub.upload_file(repo, commit + "\n", CODE_MARKER, revision=branch)
    return branch


def bootstrap_script(spec: JobSpec, gpus: int) -> str:
    """The container's script: fetch the code, install it like ``make install``, run the command."""
    import huggingface_hub

    lines = [
        "set -euo pipefail",
        f"pip install -q --root-user-action=ignore huggingface_hub=={huggingface_hub.__version__}",
        f"hf download {shlex.quote(spec.code_repo)} --revision {shlex.quote(spec.code_revision)} --local-dir /code",
        "cd /code",
        *([] if gpus else [f"export PIP_EXTRA_INDEX_URL={CPU_TORCH_INDEX}"]),  # no CUDA wheel without a GPU
        "make install",
        'export PATH="/code/.venv/bin:$PATH"',
        f"exec {shlex.join(spec.command)}",
    ]
    return "\n".join(lines)


def timeout_seconds(timeout: str) -> int:
    """``"90"``, ``"30m"``, ``"8h"``, ``"1d"`` -> seconds (the Jobs API's notation)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (timeout[:-1], timeout[-1]) if timeout[-1:] in units else (timeout, "s")
    try:
        return int(float(number) * units[unit])
    except ValueError:
        raise JobError(f"Timeout {timeout!r} is not a duration such as 600, 30m or 8h.") from None


# -- the Jobs API ------------------------------------------------------------------------------------
@dataclass
class HfJobs:
    """Jobs on Hugging Face through ``HfApi``."""

    endpoint: str | None = None
    token: str | None = None
    namespace: str | None = None
    is_local = False
    _hardware: dict[str, int] | None = None

    def gpus(self, flavor: str) -> int:
        """The flavor's GPU count; an unknown flavor is refused before anything is started."""
        if self._hardware is None:
            with self._call("list the Jobs hardware"):
                found = self._api().list_jobs_hardware()
            self._hardware = {h.name: int(h.accelerator.quantity) if h.accelerator else 0 for h in found}
        if flavor not in self._hardware:
            raise JobError(
                f"Unknown flavor {flavor!r}: Hugging Face Jobs offers {', '.join(self._hardware)} "
                "(`hf jobs hardware` lists them with their prices)."
            )
        return self._hardware[flavor]

    def run(self, spec: JobSpec) -> JobStatus:
        script = bootstrap_script(spec, self.gpus(spec.flavor))
        values = {
            name: self._token() if name == "HF_TOKEN" else os.environ.get(name) for name in spec.secrets
        }
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise JobError(f"Secret {missing[0]} is not set in this environment; export it before launching.")
        with self._call("start the job"):
            info = self._api().run_job(
                image=spec.image,
                command=["bash", "-c", script],
                env=spec.env,
                secrets=values,
                flavor=spec.flavor,
                timeout=spec.timeout,
                labels=spec.labels,
                namespace=self._namespace(),
            )
        return self._status(info)

    def status(self, job_id: str) -> JobStatus:
        with self._call("read the job's status", job_id):
            return self._status(self._api().inspect_job(job_id=job_id, namespace=self._namespace()))

    def logs(self, job_id: str, follow: bool = False) -> Iterator[str]:
        with self._call("read the job's logs", job_id):
            yield from self._api().fetch_job_logs(job_id=job_id, follow=follow, namespace=self._namespace())

    def cancel(self, job_id: str) -> JobStatus:
        with self._call("cancel the job", job_id):
            self._api().cancel_job(job_id=job_id, namespace=self._namespace())
        return self.status(job_id)

    def _status(self, info) -> JobStatus:
        return JobStatus(info.id, str(info.status.stage), info.url, info.status.message)

    def _token(self) -> str:
        from huggingface_hub import get_token

        token = self.token or get_token()
        if not token:
            raise JobError(
                "No Hugging Face token: set HF_TOKEN or run `hf auth login` (jobs need one to start and to push)."
            )
        return token

    def _api(self):
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.endpoint, token=self._token(), library_name="codegen-lora-lab")

    def _namespace(self) -> str:
        if self.namespace is None:
            with self._call("find your namespace"):
                self.namespace = self._api().whoami()["name"]
        return self.namespace

    @contextlib.contextmanager
    def _call(self, action: str, job_id: str | None = None) -> Iterator[None]:
        """Turn the Jobs client's exceptions into one sentence naming the fix."""
        from huggingface_hub import errors

        try:
            yield
        except errors.HfHubHTTPError as err:
            status = err.response.status_code if err.response is not None else None
            if status in (401, 403):
                raise JobError(
                    f"Could not {action}: the Jobs API refused the token (HTTP {status}). Set HF_TOKEN to a "
                    "token with write access on an account that can run Jobs, or run `hf auth login`."
                ) from err
            if status == 404 and job_id:
                raise JobError(
                    f"Could not {action}: there is no job {job_id!r} in namespace {self.namespace!r}; "
                    "check the id printed at launch."
                ) from err
            raise JobError(f"Could not {action}: the Jobs API answered HTTP {status}.") from err
        except Exception as err:  # connection errors: OSError or httpx's own, which share no base
            if isinstance(err, OSError) or type(err).__module__.startswith("httpx"):
                raise JobError(
                    f"Could not {action}: the Hugging Face Jobs API at {self.endpoint or 'huggingface.co'} "
                    f"cannot be reached. Check your network, or run jobs on this machine with {JOBS_ENV}=local."
                ) from err
            raise


# -- what the launchers share ------------------------------------------------------------------------
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
