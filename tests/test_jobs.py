"""Jobs: the whole path on the local executor (train -> branches -> evaluate -> results -> leaderboard and
Arena), status/logs/cancel across processes, and the real Jobs API at its HTTP boundary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import SimpleNamespace

import pytest

from codegen_lab import jobs
from codegen_lab.hub import Hub
from codegen_lab.paths import REPO_ROOT
from space.arena import Arena
from space.results_store import ResultsStore
from tests.helpers import loopback_hub, sample, write_results
from training.launch import main as launch_main
from training.launch import split_accumulation, training_command

SMOKE = REPO_ROOT / "training" / "recipes" / "smoke.yaml"
TOKEN = "hf_secret_token_123"


def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def local_jobs(tmp_path, monkeypatch, local_hub) -> Path:
    """The local executor in a folder of its own; a models.yaml whose `repos` is the run's repo."""
    monkeypatch.setenv(jobs.JOBS_ENV, str(tmp_path / "jobs"))
    models = tmp_path / "models.yaml"
    models.write_text("models: []\nrepos: [local/jobs-smoke]\n")
    monkeypatch.setenv("CODEGEN_LAB_MODELS", str(models))
    return tmp_path / "jobs"


def specs(choices) -> list[str]:
    return [spec for _, spec in choices]


def test_training_then_evaluation_jobs_land_branches_and_leaderboard_rows(tiny_model_dir, local_jobs):
    train = run(
        "-m", "training.launch", "--config", str(SMOKE), "--flavor", "cpu-basic",
        "--hub_model_id", "local/jobs-smoke", "--model_name_or_path", str(tiny_model_dir),
        "--max_steps", "2", "--save_steps", "1", "--logging_steps", "1", "--eval_strategy", "no",
        "--evaluate_on_save", "false", "--eval_test_split", "false", "--max_length", "1024",
        "--bf16", "false", "--loss_guard_max_loss", "100",
    )  # fmt: skip
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    assert "file://" in train.stdout and "tokens/s" in train.stdout  # the job's id/URL, then its logs
    assert ": COMPLETED" in train.stdout.rstrip().splitlines()[-1]
    hub = Hub.from_env()
    assert hub.list_branches("local/jobs-smoke") == ["main", "step-000001", "step-000002"]
    assert "adapter_model.safetensors" in hub.list_files("local/jobs-smoke", "main")
    (job,) = local_jobs.iterdir()  # it ran on a copy of the code from the hub, not in this checkout
    assert (job / "work" / "outputs" / "smoke" / "checkpoint-step-2-epoch-1").is_dir()

    # The Space sees both checkpoints at once in the Arena's lists; no results yet, so no leaderboard row.
    left, right = Arena(SimpleNamespace(base=str(tiny_model_dir))).refresh_models("__base__", "__base__")
    branches = [s for s in specs(left.choices) if s.startswith("local/jobs-smoke@")]
    assert branches == ["local/jobs-smoke@step-000001", "local/jobs-smoke@step-000002"]
    store = ResultsStore([], models_config=Path(os.environ["CODEGEN_LAB_MODELS"]))
    assert store.rows() == [] and store.errors == []

    evaluate = run(
        "-m", "evaluation", "run", "--base_model", str(tiny_model_dir),
        "--adapter", *branches, "--output_dir", "outputs/eval", "--limit", "1",
        "--test_scope", "public-only", "--max_new_tokens", "8", "--on_job", "cpu-basic",
    )  # fmt: skip
    assert evaluate.returncode == 0, evaluate.stdout[-3000:] + evaluate.stderr[-3000:]
    assert "results pushed to" in evaluate.stdout
    assert "results/jobs-smoke_step-000002.json" in hub.list_files("local/jobs-smoke", "step-000002")
    rows = store.refresh()
    assert sorted((row.name, row.step, row.source) for row in rows) == [
        ("jobs-smoke@step-000001", 1, "Hub"),
        ("jobs-smoke@step-000002", 2, "Hub"),
    ]
    assert all(row.n_problems == 1 for row in rows)


def test_local_jobs_status_logs_and_cancel_work_from_other_processes(local_jobs):
    client = jobs.client_from_env()
    branch = jobs.code_for_job(client, jobs.resolve_commit(), "local/code")
    assert "training/sft.py" in Hub.from_env().list_files("local/code", branch)
    sleeper = "import os, time; print('env', os.environ['STAGE'], flush=True); time.sleep(300)"
    job = client.run(jobs.JobSpec(["python", "-c", sleeper], "local/code", branch, env={"STAGE": "one"}))
    assert job.stage in ("SCHEDULING", "RUNNING") and job.url.startswith("file://")
    logs = client.logs(job.id, follow=True)
    assert next(logs).startswith("$ python -c")
    assert next(logs) == "env one"  # the spec's env reached the command

    status = run("-m", "training.launch", "status", job.id)
    assert status.returncode == 0 and f"Job {job.id}: RUNNING" in status.stdout
    cancel = run("-m", "training.launch", "cancel", job.id)
    assert cancel.returncode == 0 and "Cancel requested" in cancel.stdout
    assert list(logs)[-1] == "Job CANCELED"  # follow ends with the job
    assert client.status(job.id).stage == "CANCELED"
    printed = run("-m", "training.launch", "logs", job.id)
    assert printed.stdout.splitlines()[1:] == ["env one", "Job CANCELED"]

    missing = run("-m", "training.launch", "status", "local-nope")
    assert missing.returncode == 2 and "no job 'local-nope'" in missing.stderr
    assert "Traceback" not in missing.stderr and len(missing.stderr.strip().splitlines()) == 1


def test_the_multi_gpu_rule_keeps_the_effective_batch():
    assert split_accumulation(16, 1, "a10g-small") == 16
    assert split_accumulation(16, 4, "l4x4") == 4
    with pytest.raises(ValueError, match="l40sx8 has 8 GPUs, but gradient_accumulation_steps 12"):
        split_accumulation(12, 8, "l40sx8")
    single = training_command("training/recipes/deep.yaml", ["--lora_r", "8"], "me/deep", 1, None)
    assert single[:5] == ["python", "-m", "training.sft", "--config", "training/recipes/deep.yaml"]
    assert "--gradient_accumulation_steps" not in single and single[-2:] == ["--local_hub", ""]
    cpu = jobs.bootstrap_script(jobs.JobSpec(single, "me/code", "code-1"), gpus=0)
    assert f"export PIP_EXTRA_INDEX_URL={jobs.CPU_TORCH_INDEX}" in cpu  # no CUDA wheel on a CPU flavor
    assert cpu.index("hf download") < cpu.index("make install") < cpu.index("exec python -m training.sft")


def test_evaluation_on_a_job_refuses_local_adapters(tmp_path, capsys, tiny_adapters):
    from evaluation.cli import main

    args = ["run", "--base_model", "x", "--output_dir", str(tmp_path), "--on_job", "cpu-basic"]
    assert main([*args, "--adapter", str(tiny_adapters["deep"])]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --adapter deep") and "not a Hub adapter" in error
    assert main(args) == 2 and "need --adapter repo_id@revision" in capsys.readouterr().err


# -- the real Jobs API at its HTTP boundary ----------------------------------------------------------
HARDWARE = [
    {"name": "cpu-basic", "prettyName": "CPU Basic", "cpu": "2 vCPU", "ram": "16 GB", "accelerator": None},
    {
        "name": "l4x4",
        "prettyName": "4x Nvidia L4",
        "cpu": "48 vCPU",
        "ram": "186 GB",
        "accelerator": {
            "type": "gpu",
            "model": "L4",
            "quantity": "4",
            "vram": "96 GB",
            "manufacturer": "Nvidia",
        },
    },
]
JOB = {"id": "job123", "owner": {"id": "u1", "name": "me", "type": "user"}, "status": {"stage": "RUNNING"}}


class _RecordingJobsApi(BaseHTTPRequestHandler):
    """Answers like the Hub's Jobs and repo API would, and records every request it gets."""

    status = 200
    requests: list[tuple[str, str, str | None, bytes]] = []

    def _handle(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.requests.append((self.command, self.path, self.headers.get("Authorization"), body))
        path, status = self.path.split("?")[0], self.status
        payload: object = {"url": f"http://{self.headers['Host']}/me/code", "error": "nope"}
        if path == "/api/whoami-v2":
            payload = {"name": "me", "type": "user"}
        elif path == "/api/jobs/hardware":
            payload = [
                h | {"unitCostMicroUSD": 1, "unitCostUSD": 1e-6, "unitLabel": "minute"} for h in HARDWARE
            ]
        elif path.startswith("/api/jobs/me/job123"):
            payload = JOB
        elif path == "/api/jobs/me":
            payload = JOB | {"status": {"stage": "SCHEDULING"}}
        elif path.startswith("/api/jobs/me/"):
            status = 404
        elif "/tree/" in path:  # the code branch is complete already: nothing to upload
            payload = [{"type": "file", "path": jobs.CODE_MARKER, "oid": "0" * 40, "size": 41}]
        data = json.dumps(payload if status == 200 else {"error": "nope"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_jobs_api(monkeypatch):
    monkeypatch.delenv(jobs.JOBS_ENV, raising=False)
    with loopback_hub(monkeypatch, _RecordingJobsApi, requests=[], status=200) as (handler, url):
        monkeypatch.setenv("HF_ENDPOINT", url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        yield handler, url


def test_launch_sends_the_training_job_to_the_jobs_api(fake_jobs_api, capsys):
    handler, url = fake_jobs_api
    argv = ["--config", "training/recipes/deep.yaml", "--flavor", "l4x4", "--hub_model_id", "me/deep-lora"]
    assert launch_main([*argv, "--max_steps", "50", "--detach"]) == 0
    assert f"Job job123 on l4x4: {url}/jobs/me/job123" in capsys.readouterr().out
    calls = [(method, path.split("?")[0]) for method, path, _, _ in handler.requests]
    assert calls[0] == ("GET", "/api/jobs/hardware") and calls[-1] == ("POST", "/api/jobs/me")
    assert ("POST", "/api/repos/create") in calls  # the code repo, then its code-<sha> branch is found
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth, _ in handler.requests)

    payload = json.loads(handler.requests[-1][3])
    assert payload["dockerImage"] == jobs.DEFAULT_IMAGE and payload["flavor"] == "l4x4"
    assert payload["environment"] == {"PYTHONUNBUFFERED": "1"} and payload["timeoutSeconds"] == 8 * 3600
    assert payload["secrets"] == {"HF_TOKEN": TOKEN}  # the only place the token goes
    assert TOKEN not in json.dumps({k: v for k, v in payload.items() if k != "secrets"})
    assert payload["labels"] == {"name": "train-deep-lora", "codegen-lab": "train"}
    bash, flag, script = payload["command"]
    commit = jobs.resolve_commit()
    assert (bash, flag) == ("bash", "-c")
    assert f"hf download me/codegen-lora-lab-code --revision code-{commit[:12]} --local-dir /code" in script
    assert "make install" in script and "PIP_EXTRA_INDEX_URL" not in script  # a GPU flavor: CUDA torch
    assert script.splitlines()[-1] == (
        "exec accelerate launch --config_file training/accelerate/multi_gpu.yaml --num_processes 4 "
        "-m training.sft --config training/recipes/deep.yaml --max_steps 50 --push_to_hub true "
        "--hub_model_id me/deep-lora --local_hub '' --gradient_accumulation_steps 4"
    )  # the recipe's 16 accumulation steps over 4 GPUs: still 1 x 16 per optimizer step


def test_job_status_logs_and_cancel_on_the_jobs_api(fake_jobs_api, capsys):
    handler, url = fake_jobs_api
    assert launch_main(["status", "job123"]) == 0
    assert f"Job job123: RUNNING  {url}/jobs/me/job123" in capsys.readouterr().out
    assert launch_main(["cancel", "job123"]) == 0
    assert ("POST", "/api/jobs/me/job123/cancel") in [r[:2] for r in handler.requests]
    assert launch_main(["status", "nope"]) == 2
    assert "there is no job 'nope' in namespace 'me'" in capsys.readouterr().err


def test_jobs_api_errors_are_one_sentence(fake_jobs_api):
    handler, url = fake_jobs_api
    with pytest.raises(jobs.JobError) as err:
        jobs.HfJobs(endpoint=url, token=TOKEN).gpus("a100-huge")
    assert "Unknown flavor 'a100-huge'" in str(err.value) and "cpu-basic, l4x4" in str(err.value)
    assert "hf jobs hardware" in str(err.value)

    handler.status = 401
    with pytest.raises(jobs.JobError) as err:
        jobs.HfJobs(endpoint=url, token="hf_wrong").run(jobs.JobSpec(["true"], "me/code", "code-1"))
    assert "refused the token (HTTP 401)" in str(err.value) and "HF_TOKEN" in str(err.value)
    assert "hf_wrong" not in str(err.value)

    with pytest.raises(jobs.JobError) as err:
        jobs.HfJobs(endpoint="http://127.0.0.1:9", token=TOKEN).status("job123")
    assert "cannot be reached" in str(err.value) and "CODEGEN_LAB_JOBS=local" in str(err.value)


def test_a_local_hub_is_refused_for_a_job_on_hugging_face(local_hub, capsys):
    argv = ["--config", "training/recipes/smoke.yaml", "--flavor", "cpu-basic", "--hub_model_id", "me/x"]
    hub_free = jobs.HfJobs(endpoint="http://127.0.0.1:9", token=TOKEN)
    with pytest.raises(jobs.JobError, match="points to a local hub"):
        jobs.code_for_job(hub_free, jobs.resolve_commit(), "me/code")
    argv[1] = "nowhere.yaml"
    assert launch_main(argv) == 2
    assert "nowhere.yaml is not a committed file" in capsys.readouterr().err


# -- the Space watching runs land --------------------------------------------------------------------
def push_checkpoint(hub: Hub, tmp_path: Path, repo: str, step: int, solved: dict[str, bool]) -> None:
    """A step-* branch as a training job leaves it, with the results file an evaluation job adds."""
    branch = f"step-{step:06d}"
    hub.create_repo(repo)
    hub.create_branch(repo, branch)
    name = f"{repo.split('/')[1]}@{branch}"
    samples = {qid: sample(ok) for qid, ok in solved.items()}
    path = write_results(tmp_path / branch, name, samples, run=repo.split("/")[1], step=step, arm="deep")
    hub.upload_file(repo, path, f"results/{path.name}", revision=branch)


def test_the_space_picks_up_new_branches_on_refresh_and_on_its_timer(tmp_path, monkeypatch):
    import gradio as gr

    from space.arena import build_arena_tab
    from space.leaderboard import LeaderboardHandlers, build_leaderboard_tab
    from space.ui import REFRESH_ENV, refresh_seconds

    models = tmp_path / "models.yaml"
    models.write_text("repos: [local/deep-watch]\n")
    monkeypatch.setenv("CODEGEN_LAB_MODELS", str(models))
    hub = Hub.from_env()
    push_checkpoint(hub, tmp_path, "local/deep-watch", 100, {"abc365_a": False})
    arena = Arena(SimpleNamespace(base="tiny"))
    handlers = LeaderboardHandlers(ResultsStore([], models_config=models))
    frame = handlers.view(["deep"], "all", "")[0]
    assert list(frame["Model"]) == ["deep-watch@step-000100"]
    left, _ = arena.refresh_models("local/deep-watch@step-000100", "__base__")
    assert [s for s in specs(left.choices) if "@" in s] == ["local/deep-watch@step-000100"]

    push_checkpoint(hub, tmp_path, "local/deep-watch", 200, {"abc365_a": True})  # a new checkpoint lands
    assert len(handlers.view(["deep"], "all", "")[0]) == 1  # cached until a refresh
    frame, steps, _, _, row_a, _, _ = handlers.refresh(["deep"], "all", "", "deep-watch@step-000100")
    assert list(frame["Model"]) == ["deep-watch@step-000200", "deep-watch@step-000100"]
    assert row_a.value == "deep-watch@step-000100"  # the user's pick stays
    assert list(steps.axes[0].get_lines()[0].get_xdata()) == [100, 200]  # the Pass@1-vs-step line grows
    left, right = arena.refresh_models("local/deep-watch@step-000100", "__base__")
    assert [s for s in specs(left.choices) if "@" in s][-1] == "local/deep-watch@step-000200"
    assert (left.value, right.value) == ("local/deep-watch@step-000100", "__base__")

    monkeypatch.setenv(REFRESH_ENV, "30")
    assert refresh_seconds() == 30.0
    with gr.Blocks() as demo:
        timer = gr.Timer(refresh_seconds())
        ready = SimpleNamespace(
            base="tiny", lock=threading.Lock(), warm_up=list, status=lambda: (True, "Ready.")
        )
        build_arena_tab(ready, timer)  # the tab's layout and timers: no model behind it
        build_leaderboard_tab(handlers.store, timer=timer)
    ticks = [d for d in demo.get_config_file()["dependencies"] if (timer._id, "tick") in d["targets"]]
    assert len(ticks) == 2  # the Arena's model lists and the leaderboard
    monkeypatch.setenv(REFRESH_ENV, "soon")
    with pytest.raises(ValueError, match="CODEGEN_LAB_REFRESH_S should be a number of seconds"):
        refresh_seconds()
