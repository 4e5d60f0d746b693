"""The project's code at one commit, published once as a branch ``code-<sha12>`` that a job downloads."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from codegen_lab.hub import Hub, HubError
from codegen_lab.jobs.spec import JobError
from codegen_lab.paths import REPO_ROOT

CODE_MARKER = "CODE_COMMIT"  # uploaded last: a code branch without it is incomplete
CODE_IGNORE = ["demo/adapters/*"]  # the demo weights are for the Space, not for jobs


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
