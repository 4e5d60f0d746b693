"""Train on Hugging Face Jobs: the same recipe and overrides as ``python -m training.sft``, plus where to run.

    python -m training.launch --config training/recipes/deep.yaml --flavor a10g-small --hub_model_id you/deep-lora
    python -m training.launch --config training/recipes/deep.yaml --flavor l4x4 --hub_model_id you/deep-lora --detach
    python -m training.launch status JOB_ID  |  logs JOB_ID [--follow]  |  cancel JOB_ID

The job runs ``python -m training.sft --config RECIPE [overrides] --push_to_hub true --hub_model_id REPO``, so
every checkpoint lands on branch ``step-{S:06d}`` and the best on ``main`` while it trains; the token goes as
the job secret ``HF_TOKEN`` (codegen_lab.jobs). ``--hub_model_id`` is required here: a recipe's own value
(e.g. the smoke recipe's ``local/smoke``) names a local example, not your repo.

How the job gets this project: the commit's tree (``git archive``: committed files only, ``--code_revision``,
default HEAD) is uploaded once through codegen_lab.hub to branch ``code-<sha12>`` of a private Hub repo
(``--code_repo``, default ``<namespace>/codegen-lora-lab-code``); the container ``hf download``s that branch
and runs ``make install``. It pins the exact commit, works for a private or unpushed checkout, needs nothing but
the Hub the run pushes to anyway, and offline the same upload goes to the local Hub folder that the local
executor reads. (A git clone would need a public remote holding the commit; a repo volume is read-only and
ties the code to the Jobs volume feature, when ``hf download`` works in any container.)

Multi-GPU: a flavor with N > 1 GPUs (the count from ``list_jobs_hardware``) runs ``accelerate launch
--num_processes N`` with ``gradient_accumulation_steps`` divided by N, so per-device batch x accumulation x N
stays the recipe's effective batch (the study's 1 x 16); an accumulation not divisible by N is refused.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

ACCELERATE_CONFIG = "training/accelerate/multi_gpu.yaml"


@dataclass
class LaunchArguments:
    hub_model_id: str = field(metadata={"help": "the run's model repo (user/repo): step-* branches and main"})
    flavor: str = field(default="a10g-small", metadata={"help": "Jobs hardware (`hf jobs hardware`)"})
    detach: bool = field(default=False, metadata={"help": "print the job id and return; do not stream logs"})
    code_revision: str = field(default="HEAD", metadata={"help": "the commit the job runs"})
    code_repo: str | None = field(
        default=None, metadata={"help": "Hub repo for the code (default <namespace>/codegen-lora-lab-code)"}
    )
    job_timeout: str = field(default="8h", metadata={"help": "the job's limit: seconds, or 30m, 8h, 1d"})
    image: str | None = field(default=None, metadata={"help": "Docker image (default python:3.11-bookworm)"})
    gradient_accumulation_steps: int | None = field(
        default=None,
        metadata={"help": "overrides the recipe's; divided by the GPU count on multi-GPU flavors"},
    )


def parse(argv: list[str]) -> tuple[LaunchArguments, str, list[str]]:
    """(launch arguments, the recipe path, the overrides for training.sft, passed on as given)."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(LaunchArguments, prog="python -m training.launch", allow_abbrev=False)
    parser.description = "Train on Hugging Face Jobs; any other flag goes to training.sft as given."
    args, overrides = parser.parse_args_into_dataclasses(list(argv), return_remaining_strings=True)
    if "--config" not in overrides[:-1]:
        raise ValueError("--config RECIPE.yaml is required (the recipe python -m training.sft takes).")
    at = overrides.index("--config")
    config = overrides[at + 1]
    del overrides[at : at + 2]
    if args.hub_model_id.count("/") != 1:
        raise ValueError(f"--hub_model_id {args.hub_model_id!r} should be user/repo.")
    return args, config, overrides


def split_accumulation(accumulation: int, gpus: int, flavor: str) -> int:
    """The per-process accumulation that keeps the effective batch on ``gpus`` data-parallel processes."""
    if gpus <= 1:
        return accumulation
    if accumulation % gpus:
        raise ValueError(
            f"--flavor {flavor} has {gpus} GPUs, but gradient_accumulation_steps {accumulation} cannot be split "
            f"{gpus} ways to keep the effective batch; pick a flavor whose GPU count divides {accumulation}."
        )
    return accumulation // gpus


def training_command(
    recipe: str, overrides: list[str], hub_model_id: str, gpus: int, accumulation: int | None
) -> list[str]:
    """What the job runs from the project's root: training.sft, through accelerate on several GPUs."""
    sft = [*overrides, "--push_to_hub", "true", "--hub_model_id", hub_model_id, "--local_hub", ""]
    if accumulation is not None:
        sft += ["--gradient_accumulation_steps", str(accumulation)]
    if gpus > 1:
        launcher = ["accelerate", "launch", "--config_file", ACCELERATE_CONFIG, "--num_processes", str(gpus)]
        return [*launcher, "-m", "training.sft", "--config", recipe, *sft]
    return ["python", "-m", "training.sft", "--config", recipe, *sft]


def launch(args: LaunchArguments, config: str, overrides: list[str]) -> int:
    import yaml

    from codegen_lab import jobs

    client = jobs.client_from_env()
    commit = jobs.resolve_commit(args.code_revision)
    recipe, text = jobs.committed_file(commit, config)
    gpus = client.gpus(args.flavor)
    accumulation = args.gradient_accumulation_steps
    if gpus > 1:
        given = accumulation or (yaml.safe_load(text) or {}).get("gradient_accumulation_steps", 1)
        accumulation = split_accumulation(int(given), gpus, args.flavor)
    code_repo = args.code_repo or f"{args.hub_model_id.split('/')[0]}/codegen-lora-lab-code"
    spec = jobs.JobSpec(
        command=training_command(recipe, overrides, args.hub_model_id, gpus, accumulation),
        code_repo=code_repo,
        code_revision=jobs.code_for_job(client, commit, code_repo),
        image=args.image or jobs.DEFAULT_IMAGE,
        env={"PYTHONUNBUFFERED": "1"},
        flavor=args.flavor,
        timeout=args.job_timeout,
        labels={"name": f"train-{args.hub_model_id.split('/')[1]}", "codegen-lab": "train"},
    )
    print(f"Training {recipe} at {commit[:12]} on {args.flavor} -> {args.hub_model_id}")
    return jobs.submit(client, spec, args.detach)


def main(argv: list[str] | None = None) -> int:
    from codegen_lab.hub import HubError  # JobError is one
    from codegen_lab.jobs import OPS, ops_main

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return ops_main(argv) if argv and argv[0] in OPS else launch(*parse(argv))
    except (HubError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "Stopped following; the job keeps running (python -m training.launch cancel JOB_ID).",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
