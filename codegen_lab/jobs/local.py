"""The local executor of codegen_lab.jobs: a job as a subprocess of this machine, one folder per job.

``<root>/<id>/`` holds ``spec.json``, ``status.json`` (written by the job's own process), ``pid`` and
``logs.txt``; ``work/`` is the job's copy of the code, taken from the Hub (a local one when ``CODEGEN_LAB_HUB``
is a folder, passed through). The command runs there with this machine's Python and packages in place of
the container's install step, the spec's env on top of this environment (where the secrets are read), and
the spec's timeout. Any process can read the status and logs or cancel (SIGTERM to the job's process group).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from codegen_lab.atomic import write_json_atomic
from codegen_lab.hub import HUB_ENV, Hub, HubError
from codegen_lab.jobs.spec import TERMINAL, JobError, JobSpec, JobStatus, timeout_seconds
from codegen_lab.paths import REPO_ROOT


@dataclass
class LocalJobs:
    """Jobs as subprocesses of this machine, one folder each under ``root``."""

    root: Path
    is_local = True
    started: dict[str, subprocess.Popen] = field(default_factory=dict)  # kept so they are reaped here

    def gpus(self, flavor: str) -> int:
        return 0  # the flavor is recorded; the job runs on this machine as one process

    def run(self, spec: JobSpec) -> JobStatus:
        job_id = f"local-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        folder = self.root / job_id
        folder.mkdir(parents=True)
        write_json_atomic(folder / "spec.json", asdict(spec))
        write_json_atomic(folder / "status.json", {"stage": "SCHEDULING"})
        env = dict(os.environ)
        hub = Hub.from_env()
        if hub.is_local:  # the job runs in another folder: pass the local Hub through as an absolute path
            env[HUB_ENV] = str(hub.root.resolve())
        with open(folder / "logs.txt", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "codegen_lab.jobs", str(folder)],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: cancel stops the job and all it started
            )
        (folder / "pid").write_text(str(process.pid))
        self.started[job_id] = process
        return self.status(job_id)

    def status(self, job_id: str) -> JobStatus:
        folder = self._folder(job_id)
        data = json.loads((folder / "status.json").read_text())
        if data["stage"] not in TERMINAL and not self._alive(folder):
            data = json.loads((folder / "status.json").read_text())  # it may have just finished
            if data["stage"] not in TERMINAL:
                data = {"stage": "ERROR", "message": "the job's process ended without reporting a status"}
        return JobStatus(job_id, data["stage"], folder.as_uri(), data.get("message"))

    def logs(self, job_id: str, follow: bool = False) -> Iterator[str]:
        path = self._folder(job_id) / "logs.txt"
        with open(path, errors="replace") as log:
            while True:
                text = log.read()
                yield from text.splitlines()
                if not follow or self.status(job_id).done and not text:
                    return
                time.sleep(0.5)

    def cancel(self, job_id: str) -> JobStatus:
        status = self.status(job_id)
        if not status.done:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int((self._folder(job_id) / "pid").read_text()), signal.SIGTERM)
        return status

    def _folder(self, job_id: str) -> Path:
        folder = self.root / job_id
        if "/" in job_id or job_id.startswith(".") or not (folder / "status.json").is_file():
            raise JobError(
                f"There is no job {job_id!r} in the local executor's folder {self.root}; check the id."
            )
        return folder

    def _alive(self, folder: Path) -> bool:
        if folder.name in self.started:  # started by this process: ask it (this also reaps it)
            return self.started[folder.name].poll() is None
        if not (folder / "pid").is_file():
            return True  # being started
        pid = int((folder / "pid").read_text())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def run_local_job(folder: Path) -> int:
    """The local executor's job process: the code into ``work/``, then the command, then the final status."""
    spec = JobSpec(**json.loads((folder / "spec.json").read_text()))
    state = {"child": None, "canceled": False}

    def cancel(signum, frame):
        state["canceled"] = True
        if state["child"] is not None:
            state["child"].terminate()

    signal.signal(signal.SIGTERM, cancel)
    write_json_atomic(folder / "status.json", {"stage": "RUNNING"})
    try:
        source = Hub.from_env().download(spec.code_repo, spec.code_revision)
        shutil.copytree(source, folder / "work", ignore=shutil.ignore_patterns(".revision"))
        env = {
            **os.environ,
            **spec.env,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        print(f"$ {shlex.join(spec.command)}", flush=True)
        state["child"] = subprocess.Popen(spec.command, cwd=folder / "work", env=env)
        if state["canceled"]:
            state["child"].terminate()
        code = state["child"].wait(timeout=timeout_seconds(spec.timeout))
    except subprocess.TimeoutExpired:
        state["child"].kill()
        stage, message = "ERROR", f"stopped after its timeout of {spec.timeout}"
    except (HubError, OSError) as err:
        stage, message = "ERROR", str(err)
    else:
        stage = "CANCELED" if state["canceled"] else "COMPLETED" if code == 0 else "ERROR"
        message = None if code == 0 or state["canceled"] else f"exit code {code}"
    print(f"Job {stage}" + (f": {message}" if message else ""), flush=True)
    write_json_atomic(folder / "status.json", {"stage": stage, "message": message})
    return 0 if stage == "COMPLETED" else 1
