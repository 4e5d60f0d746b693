"""The Jobs API backend: the container's bootstrap script and every Hugging Face Jobs call."""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from codegen_lab.jobs.spec import CPU_TORCH_INDEX, JOBS_ENV, JobError, JobSpec, JobStatus


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
