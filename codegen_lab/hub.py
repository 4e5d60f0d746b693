"""Every Hub call the project makes, in one place.

The same methods work against the real Hugging Face Hub or, offline and in tests, against a local
directory laid out like it: ``<root>/<repo_id>/<revision>/<files>``. Set ``CODEGEN_LAB_HUB`` to a
folder to use the local layout; leave it unset (or ``hf``) for the real Hub.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codegen_lab.atomic import copy_file_atomic, copy_tree_atomic, write_bytes_atomic

HUB_ENV = "CODEGEN_LAB_HUB"
# Trainer state that never belongs in a published adapter.
CHECKPOINT_IGNORE = [
    "optimizer.pt",
    "scheduler.pt",
    "rng_state*.pth",
    "scaler.pt",
    "training_args.bin",
    "global_step*",
    "*.tmp",
]


class HubError(RuntimeError):
    """One readable sentence about what failed on the Hub and what to do about it."""


@dataclass
class Hub:
    """A Hub client: ``root`` set means the local Hub-shaped folder, ``None`` the real Hub."""

    root: Path | None = None
    endpoint: str | None = None
    token: str | None = None

    @classmethod
    def from_env(cls) -> Hub:
        setting = os.environ.get(HUB_ENV, "hf")
        if setting in ("", "hf"):
            return cls(endpoint=os.environ.get("HF_ENDPOINT"), token=os.environ.get("HF_TOKEN"))
        return cls(root=Path(setting).expanduser())

    @property
    def is_local(self) -> bool:
        return self.root is not None

    def describe(self, repo_id: str, revision: str = "main") -> str:
        """Where a repo revision lives, for messages and cards."""
        if self.root is not None:
            return str(self.root / repo_id / revision)
        return f"https://huggingface.co/{repo_id}/tree/{revision}"

    # -- repos and branches -------------------------------------------------------------------
    def create_repo(self, repo_id: str, repo_type: str = "model", private: bool = False) -> None:
        if self.root is not None:
            self._revision_dir(repo_id, "main")
            return
        with self._call(repo_id, "create the repo"):
            self._api().create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)

    def create_branch(self, repo_id: str, branch: str, repo_type: str = "model") -> None:
        """Branch off ``main`` (created empty if the repo has no files yet); existing is fine."""
        if self.root is not None:
            target = self._local(repo_id, branch)
            if not target.exists():
                source = self._local(repo_id, "main")
                if not source.exists():
                    raise self._missing(repo_id, "main")
                copy_tree_atomic(source, target)
            return
        with self._call(repo_id, f"create branch {branch!r}"):
            self._api().create_branch(repo_id, branch=branch, repo_type=repo_type, exist_ok=True)

    def list_branches(self, repo_id: str, repo_type: str = "model") -> list[str]:
        if self.root is not None:
            repo = self.root / repo_id
            if not repo.is_dir():
                raise self._missing(repo_id)
            return sorted(str(p.parent.relative_to(repo)) for p in repo.rglob(".revision"))
        with self._call(repo_id, "list branches"):
            refs = self._api().list_repo_refs(repo_id, repo_type=repo_type)
        return sorted(ref.name for ref in refs.branches)

    # -- uploads ------------------------------------------------------------------------------
    def upload_folder(
        self,
        repo_id: str,
        folder: str | Path,
        revision: str = "main",
        repo_type: str = "model",
        commit_message: str = "Upload folder",
        ignore_patterns: list[str] | None = None,
        delete_missing: bool = False,
    ) -> None:
        """Add or replace the folder's files on ``revision``; trainer state is never sent.

        ``delete_missing`` removes the repo's files that the folder does not have (a Space's tree). Files
        whose bytes the revision already has are not sent again (the Hub client compares their ids).
        """
        ignore = CHECKPOINT_IGNORE + list(ignore_patterns or [])
        folder = Path(folder)
        if not folder.is_dir():
            raise HubError(f"Cannot upload {folder} to {repo_id}: it is not a folder.")
        if self.root is not None:
            target = self._revision_dir(repo_id, revision)
            for path in sorted(folder.rglob("*")):
                rel = path.relative_to(folder).as_posix()
                if path.is_file() and not _ignored(rel, ignore):
                    copy_file_atomic(path, target / rel)
            for path in sorted(target.rglob("*")) if delete_missing else []:
                rel = path.relative_to(target).as_posix()
                if path.is_file() and rel != ".revision" and not (folder / rel).is_file():
                    path.unlink()
            return
        with self._call(repo_id, f"upload {folder} to {revision!r}"):
            self._api().upload_folder(
                repo_id=repo_id,
                folder_path=folder,
                revision=revision,
                repo_type=repo_type,
                commit_message=commit_message,
                ignore_patterns=ignore,
                delete_patterns=["*"] if delete_missing else None,
            )

    def upload_file(
        self,
        repo_id: str,
        content: str | bytes | Path,
        path_in_repo: str,
        revision: str = "main",
        repo_type: str = "model",
        commit_message: str | None = None,
    ) -> None:
        """Upload one file given as a path or as its text/bytes."""
        data = content.read_bytes() if isinstance(content, Path) else content
        data = data.encode() if isinstance(data, str) else data
        if self.root is not None:
            write_bytes_atomic(self._revision_dir(repo_id, revision) / path_in_repo, data)
            return
        with self._call(repo_id, f"upload {path_in_repo} to {revision!r}"):
            self._api().upload_file(
                path_or_fileobj=data,
                path_in_repo=path_in_repo,
                repo_id=repo_id,
                revision=revision,
                repo_type=repo_type,
                commit_message=commit_message or f"Upload {path_in_repo}",
            )

    # -- downloads ----------------------------------------------------------------------------
    def download(
        self,
        repo_id: str,
        revision: str = "main",
        repo_type: str = "model",
        allow_patterns: list[str] | None = None,
    ) -> Path:
        """A local folder holding the revision's files."""
        if self.root is not None:
            path = self._local(repo_id, revision)
            if not path.is_dir():
                raise self._missing(repo_id, revision)
            return path
        from huggingface_hub import snapshot_download

        with self._call(repo_id, f"download revision {revision!r}"):
            return Path(
                snapshot_download(
                    repo_id,
                    revision=revision,
                    repo_type=repo_type,
                    allow_patterns=allow_patterns,
                    token=self.token,
                    endpoint=self.endpoint,
                )
            )

    def download_file(self, repo_id: str, filename: str, revision: str = "main") -> Path:
        """One file of a revision, downloaded into the Hub cache once (a GGUF of a Hub model)."""
        if self.root is not None:
            path = self.download(repo_id, revision) / filename
            if not path.is_file():
                raise HubError(f"{filename} is not in {repo_id}@{revision} (local hub {self.root}).")
            return path
        from huggingface_hub import hf_hub_download

        with self._call(repo_id, f"download {filename} at {revision!r}"):
            return Path(
                hf_hub_download(
                    repo_id, filename, revision=revision, token=self.token, endpoint=self.endpoint
                )
            )

    def list_files(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> list[str]:
        if self.root is not None:
            path = self.download(repo_id, revision)
            return sorted(
                p.relative_to(path).as_posix()
                for p in path.rglob("*")
                if p.is_file() and p.name != ".revision"
            )
        with self._call(repo_id, f"list files of {revision!r}"):
            return sorted(self._api().list_repo_files(repo_id, revision=revision, repo_type=repo_type))

    def read_json(
        self, repo_id: str, filename: str, revision: str = "main", repo_type: str = "model"
    ) -> dict:
        """One JSON file of a revision (a results file, a config)."""
        if self.root is not None:
            path = self.download(repo_id, revision) / filename
            if not path.is_file():
                raise HubError(f"{filename} is not in {repo_id}@{revision} (local hub {self.root}).")
            return json.loads(path.read_text())
        from huggingface_hub import hf_hub_download

        with self._call(repo_id, f"read {filename} at {revision!r}"):
            path = hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                repo_type=repo_type,
                token=self.token,
                endpoint=self.endpoint,
            )
        return json.loads(Path(path).read_text())

    # -- Spaces -------------------------------------------------------------------------------
    def create_space(self, space_id: str, private: bool = False) -> str:
        """Create the Gradio Space (an existing one is kept as it is); returns its URL."""
        if self.root is not None:
            self._revision_dir(space_id, "main")
            return self.describe(space_id)
        with self._call(space_id, "create the Space"):
            self._api().create_repo(
                space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True
            )
        return f"{(self.endpoint or 'https://huggingface.co').rstrip('/')}/spaces/{space_id}"

    def configure_space(
        self, space_id: str, variables: dict[str, str], secrets: dict[str, str], hardware: str | None
    ) -> None:
        """Set the Space's variables and secrets, and request ``hardware`` (None: leave it as it is).

        The local hub keeps them in ``<repo>/space-settings.json``, secrets by name only.
        """
        if self.root is not None:
            settings = {"variables": variables, "secrets": sorted(secrets), "hardware": hardware}
            write_bytes_atomic(self._local(space_id, "space-settings.json"), json.dumps(settings).encode())
            return
        api = self._api()
        with self._call(space_id, "configure the Space"):
            for key, value in variables.items():
                api.add_space_variable(space_id, key, value)
            for key, value in secrets.items():
                api.add_space_secret(space_id, key, value)
            if hardware is not None:
                api.request_space_hardware(space_id, hardware)

    def user_token(self) -> str | None:
        """The token this client sends: HF_TOKEN, else the one `hf auth login` stored."""
        from huggingface_hub import get_token

        return self.token or get_token()

    # -- helpers ------------------------------------------------------------------------------
    def _api(self):
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.endpoint, token=self.token, library_name="codegen-lora-lab")

    def _local(self, repo_id: str, revision: str) -> Path:
        if repo_id.count("/") > 1 or ".." in repo_id.split("/") or ".." in revision.split("/"):
            raise HubError(f"{repo_id!r}@{revision!r} is not a valid repo id and revision.")
        return self.root / repo_id / revision

    def _revision_dir(self, repo_id: str, revision: str) -> Path:
        """The folder of a revision, made on first write (the Hub creates ``main`` with the repo)."""
        path = self._local(repo_id, revision)
        if not path.is_dir():
            if revision != "main":
                raise self._missing(repo_id, revision)
            path.mkdir(parents=True)
        (path / ".revision").touch()
        return path

    def _missing(self, repo_id: str, revision: str | None = None) -> HubError:
        what = f"revision {revision!r} of {repo_id!r}" if revision else f"repo {repo_id!r}"
        return HubError(f"The local hub at {self.root} has no {what}; create it first or check the name.")

    @contextlib.contextmanager
    def _call(self, repo_id: str, action: str) -> Iterator[None]:
        """Turn the Hub client's exceptions into one sentence naming the repo and the fix."""
        from huggingface_hub import errors

        try:
            yield
        except errors.RevisionNotFoundError as err:
            raise HubError(f"Could not {action} on {repo_id}: that revision does not exist.") from err
        except errors.RepositoryNotFoundError as err:
            raise HubError(
                f"Could not {action} on {repo_id}: the repo does not exist or your token cannot see it. "
                "Check the repo id, or log in with `hf auth login` / set HF_TOKEN."
            ) from err
        except errors.HfHubHTTPError as err:
            status = err.response.status_code if err.response is not None else None
            if status in (401, 403):
                raise HubError(
                    f"Could not {action} on {repo_id}: the Hub refused the token (HTTP {status}). "
                    "Set HF_TOKEN to a token with write access, or run `hf auth login`."
                ) from err
            raise HubError(f"Could not {action} on {repo_id}: the Hub answered HTTP {status}.") from err
        except (errors.OfflineModeIsEnabled, errors.LocalEntryNotFoundError, OSError) as err:
            raise HubError(
                f"Could not {action} on {repo_id}: the Hugging Face Hub cannot be reached. Check your "
                f"network, or work offline with {HUB_ENV}=/path/to/local-hub."
            ) from err
        except Exception as err:  # httpx transport errors do not share a base with the above
            if type(err).__module__.startswith("httpx"):
                raise HubError(
                    f"Could not {action} on {repo_id}: the Hugging Face Hub cannot be reached "
                    f"({type(err).__name__}). Check your network, or set {HUB_ENV}=/path/to/local-hub."
                ) from err
            raise


def _ignored(rel_path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(rel_path, p) or fnmatch.fnmatch(Path(rel_path).name, p) for p in patterns)
