"""Create or update this project's Space on the Hub in one command.

    python -m space.deploy --space_id you/codegen-lora-lab [--hardware cpu-basic|zero-a10g] [--private] \\
        [--token_secret]

Uploads the committed tree (``git archive HEAD``: never uncommitted or ignored files) with the README's
Space card regenerated for the Space's settings (``space.space_card``), removes files the tree no longer
has, sets the variables the app reads (``BASE_MODEL``, ``ARENA_ENGINE``), your token as the ``HF_TOKEN``
secret with ``--token_secret`` (for private adapter repos), requests the hardware, and prints the URL.
Running it again sends only the files that changed: the Hub client skips those the Space already has.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from codegen_lab.hub import Hub, HubError
from codegen_lab.paths import REPO_ROOT
from space.space_card import SPACE_VARIABLES, card_metadata, render_readme

HARDWARE = ("cpu-basic", "zero-a10g")


@dataclass
class DeployArguments:
    space_id: str = field(metadata={"help": "the Space to create or update, `you/codegen-lora-lab`"})
    hardware: str | None = field(
        default=None, metadata={"help": "request this hardware (cpu-basic or zero-a10g); default: leave it"}
    )
    private: bool = field(
        default=False, metadata={"help": "create the Space private (an existing one keeps its visibility)"}
    )
    token_secret: bool = field(
        default=False,
        metadata={"help": "store your token as the Space's HF_TOKEN secret (private adapter repos)"},
    )
    base_model: str = field(
        default=SPACE_VARIABLES["BASE_MODEL"], metadata={"help": "the Space's BASE_MODEL"}
    )
    arena_engine: str | None = field(
        default=None,
        metadata={"help": "the Space's ARENA_ENGINE; default llama.cpp, transformers on zero-a10g (a GPU)"},
    )
    source_dir: str = field(
        default=str(REPO_ROOT), metadata={"help": "the git checkout whose HEAD is uploaded"}
    )


class DeployError(ValueError):
    """A deploy that cannot start, in one sentence."""


def space_variables(args: DeployArguments) -> dict[str, str]:
    if args.hardware is not None and args.hardware not in HARDWARE:
        raise DeployError(f"--hardware {args.hardware!r}: choose one of {', '.join(HARDWARE)}.")
    engine = args.arena_engine or ("transformers" if args.hardware == "zero-a10g" else "llama.cpp")
    if engine not in ("llama.cpp", "transformers"):
        raise DeployError(f"--arena_engine {engine!r}: choose llama.cpp or transformers.")
    return {"BASE_MODEL": args.base_model, "ARENA_ENGINE": engine}


def export_committed_tree(source: Path, target: Path) -> list[str]:
    """Extract ``source``'s HEAD into ``target``; the committed files' paths."""
    git = ["git", "-C", str(source)]
    done = subprocess.run([*git, "archive", "--format=tar", "HEAD"], capture_output=True)
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise DeployError(f"{source} is not a git checkout with a commit to upload ({reason[0]}).")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(target, filter="data")
        names = sorted(m.name for m in archive.getmembers() if m.isfile())
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    )
    if dirty.stdout.strip():
        print(
            f"note: {source} has uncommitted changes; only the committed tree (HEAD) is uploaded.",
            file=sys.stderr,
        )
    return names


def deploy(args: DeployArguments, hub: Hub | None = None) -> str:
    """Create or update the Space; returns its URL."""
    if args.space_id.count("/") != 1:
        raise DeployError(f"--space_id {args.space_id!r} should be `owner/name`, like you/codegen-lora-lab.")
    variables = space_variables(args)
    hub = hub or Hub.from_env()
    secrets = {}
    if args.token_secret:
        token = hub.user_token()
        if not token:
            raise DeployError(
                "--token_secret stores your token on the Space: set HF_TOKEN or run `hf auth login`."
            )
        secrets["HF_TOKEN"] = token
    with tempfile.TemporaryDirectory(prefix="space-deploy-") as tree:
        tree = Path(tree)
        files = export_committed_tree(Path(args.source_dir), tree)
        readme = tree / "README.md"
        if readme.is_file():
            readme.write_text(render_readme(readme.read_text(), card_metadata(variables)))
        url = hub.create_space(args.space_id, private=args.private)
        hub.upload_folder(
            args.space_id,
            tree,
            repo_type="space",
            commit_message="Deploy with python -m space.deploy",
            delete_missing=True,
        )
    hub.configure_space(args.space_id, variables, secrets, args.hardware)
    print(f"Deployed {len(files)} committed files to {args.space_id}: {url}", file=sys.stderr)
    return url


def main() -> None:
    from transformers import HfArgumentParser

    (args,) = HfArgumentParser(DeployArguments).parse_args_into_dataclasses()
    try:
        print(deploy(args))
    except (DeployError, HubError) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
