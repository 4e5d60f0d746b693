"""``python -m evaluation run ... --on_job FLAVOR``: the same benchmark on a Hugging Face Job, against Hub adapters.

The job runs ``python -m evaluation run`` with the same options plus ``--push_results true``: each adapter's
results file then goes to ``results/<slug>.json`` on that adapter's ``repo@branch``, where the Space's
leaderboard reads it (space/hub_results.py). The code travels as for training (codegen_lab.jobs.publish_code).

    python -m evaluation run --base_model Qwen/Qwen2.5-Coder-1.5B-Instruct \\
        --adapter you/deep-lora@step-000800 you/deep-lora@step-000900 --output_dir outputs/eval --on_job a10g-small
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from codegen_lab.naming import slugify
from codegen_lab.paths import REPO_ROOT

JOB_ONLY = ("on_job", "detach", "push_results", "adapter")  # not forwarded as given (adapters: by name)


def hub_adapters(adapters: dict[str, str]) -> dict[str, tuple[str, str]]:
    """{name: (repo, revision)} of adapters given as ``repo_id@revision``; results can only go to those."""
    if not adapters:
        raise ValueError(
            "--on_job and --push_results need --adapter repo_id@revision (results go to its branch)."
        )
    found = {}
    for name, spec in adapters.items():
        repo, _, revision = spec.partition("@")
        if Path(spec).expanduser().exists() or repo.count("/") != 1:
            raise ValueError(
                f"--adapter {name}={spec} is not a Hub adapter (repo_id@revision); a job evaluates Hub adapters "
                "and pushes each results file to that repo's branch."
            )
        found[name] = (repo, revision or "main")
    return found


def push_results(paths: dict[str, Path], adapters: dict[str, str]) -> None:
    """Each adapter's results file to ``results/<file>`` of its ``repo@revision`` (the base's stays local)."""
    from codegen_lab.hub import Hub

    hub, targets = Hub.from_env(), hub_adapters(adapters)
    for name, path in paths.items():
        if name not in targets:
            print(f"{name}: not an adapter; its results stay in {path}")
            continue
        repo, revision = targets[name]
        hub.upload_file(repo, Path(path), f"results/{Path(path).name}", revision=revision)
        print(f"{name}: results pushed to {hub.describe(repo, revision)} as results/{Path(path).name}")


def _values(value) -> list[str]:
    if isinstance(value, bool):
        return [str(value).lower()]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING


def job_paths(args, local: bool) -> None:
    """A job on Hugging Face has this project and the Hub, not this machine's other files."""
    for name in ("base_model", "benchmark"):
        value = getattr(args, name)
        path = Path(value).expanduser().resolve() if value else None
        if not local and path is not None and path.exists():
            if not path.is_relative_to(REPO_ROOT):
                raise ValueError(
                    f"--{name} {value} is a local path a job cannot read; name a Hub id instead."
                )
            setattr(args, name, path.relative_to(REPO_ROOT).as_posix())


def evaluation_command(args, config, adapters: dict[str, str]) -> list[str]:
    """``python -m evaluation run`` with every option that differs from its default, results pushed."""
    command = ["python", "-m", "evaluation", "run"]
    for options in (args, config):
        for f in dataclasses.fields(options):
            value = getattr(options, f.name)
            if f.name not in JOB_ONLY and value is not None and value != _default(f):
                command += [f"--{f.name}", *_values(value)]
    return [*command, "--adapter", *(f"{n}={s}" for n, s in adapters.items()), "--push_results", "true"]


def launch_eval_job(args, config, adapters: dict[str, str]) -> int:
    from codegen_lab import jobs

    targets = hub_adapters(adapters)
    client = jobs.client_from_env()
    job_paths(args, client.is_local)
    client.gpus(args.on_job)  # checks the flavor; generation uses one device
    commit = jobs.resolve_commit()
    code_repo = f"{next(iter(targets.values()))[0].split('/')[0]}/codegen-lora-lab-code"
    spec = jobs.JobSpec(
        command=evaluation_command(args, config, adapters),
        code_repo=code_repo,
        code_revision=jobs.code_for_job(client, commit, code_repo),
        env={"PYTHONUNBUFFERED": "1"},
        flavor=args.on_job,
        labels={"name": f"eval-{slugify(next(iter(adapters)))}", "codegen-lab": "eval"},
    )
    print(f"Evaluating {', '.join(adapters)} at {commit[:12]} on {args.on_job}")
    return jobs.submit(client, spec, args.detach)
