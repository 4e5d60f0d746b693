"""Push each checkpoint's adapter folder to its own Hub branch in the background, without ever stopping training.

One worker thread pushes in submission order (so ``main`` is updated after the branches). A failed push is
retried with exponential backoff, then reported (log + ``failures``); the local checkpoint is never touched.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback

from codegen_lab.hub import Hub
from codegen_lab.naming import branch_name, parse_checkpoint_dirname
from codegen_lab.run_folder import TRAINER_STATE
from training.callbacks import checkpoint_path

logger = logging.getLogger(__name__)
# Besides codegen_lab.hub.CHECKPOINT_IGNORE (optimizer, scheduler, RNG, scaler): the Trainer's own
# bookkeeping stays local too; only adapter, tokenizer/template, card and metrics are published.
PUSH_IGNORE = [TRAINER_STATE]


@dataclass
class PushFailure:
    revision: str
    folder: str
    attempts: int
    error: str


class HubPusher:
    """Background uploads of folders to revisions of one model repo."""

    def __init__(self, repo_id: str, hub: Hub | None = None, retries: int = 3, backoff: float = 5.0):
        self.repo_id, self.retries, self.backoff = repo_id, retries, backoff
        self.hub = hub or Hub.from_env()
        self.failures: list[PushFailure] = []
        self.pushed: list[str] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-push")
        self._futures: list[Future] = []

    def submit(self, folder: Path, revision: str, extra_files: dict[str, Path] | None = None) -> Future:
        """Queue ``folder`` (plus ``extra_files`` {path in repo: local file}) for ``revision``; returns at once."""
        future = self._executor.submit(self._push_with_retries, Path(folder), revision, extra_files or {})
        self._futures.append(future)
        return future

    def wait(self) -> list[PushFailure]:
        """Block until every queued push has finished or failed for good."""
        for future in self._futures:
            future.result()
        self._executor.shutdown(wait=True)
        return self.failures

    def _push_with_retries(self, folder: Path, revision: str, extra_files: dict[str, Path]) -> bool:
        for attempt in range(1, self.retries + 1):
            try:
                self._push(folder, revision, extra_files)
            except Exception as err:  # noqa: BLE001 - a push must never take training down with it
                logger.warning(
                    "Hub push of %s to %s@%s failed (attempt %d/%d): %s",
                    folder.name,
                    self.repo_id,
                    revision,
                    attempt,
                    self.retries,
                    err,
                )
                if attempt == self.retries:
                    self.failures.append(
                        PushFailure(revision, str(folder), attempt, f"{type(err).__name__}: {err}")
                    )
                    logger.error(
                        "Gave up pushing %s to %s@%s; the local copy is intact, push it later with the same "
                        "command after fixing the cause.",
                        folder,
                        self.repo_id,
                        revision,
                    )
                    return False
                time.sleep(self.backoff * 2 ** (attempt - 1))
            else:
                self.pushed.append(revision)
                logger.info("Pushed %s to %s", folder.name, self.hub.describe(self.repo_id, revision))
                return True
        return False

    def _push(self, folder: Path, revision: str, extra_files: dict[str, Path]) -> None:
        self.hub.create_repo(self.repo_id)
        if revision != "main":
            self.hub.create_branch(self.repo_id, revision)
        self.hub.upload_folder(
            self.repo_id,
            folder,
            revision=revision,
            commit_message=f"Upload {folder.name}",
            ignore_patterns=PUSH_IGNORE,
        )
        for path_in_repo, path in extra_files.items():
            self.hub.upload_file(self.repo_id, Path(path), path_in_repo, revision=revision)


def checkpoint_branch(checkpoint: Path) -> str:
    """``checkpoint-step-300-epoch-1`` -> ``step-000300``."""
    return branch_name(parse_checkpoint_dirname(checkpoint.name)[0])


class HubPush(TrainerCallback):
    """On every save, queue the new checkpoint for its ``step-{S:06d}`` branch (after its card and metrics)."""

    def __init__(self, pusher: HubPusher):
        self.pusher = pusher

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            checkpoint = checkpoint_path(args.output_dir, state.global_step, state.epoch)
            self.pusher.submit(checkpoint, checkpoint_branch(checkpoint))
