"""python -m space.deploy: the committed tree only, the card for the Space's settings, variables, the token
secret, hardware; the local hub for real, the real Hub at its HTTP boundary (a re-run sends only changes)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlparse

import pytest
from huggingface_hub import SpaceCard

from codegen_lab.hub import Hub, HubError
from codegen_lab.paths import REPO_ROOT
from space.deploy import DeployArguments, DeployError, deploy
from tests.helpers import loopback_hub


def git(repo: Path, *args: str) -> None:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, env=env | {"PATH": "/usr/bin:/bin"}
    )


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A small git checkout: the project's README, an app, a data file; one uncommitted change."""
    repo = tmp_path / "checkout"
    (repo / "space").mkdir(parents=True)
    (repo / "README.md").write_text((REPO_ROOT / "README.md").read_text())
    (repo / "app.py").write_text("print('app')\n")
    (repo / "space" / "data.txt").write_text("v1\n")
    (repo / ".gitignore").write_text("ignored.txt\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    (repo / "app.py").write_text("print('not committed')\n")
    (repo / "untracked.txt").write_text("x")
    (repo / "ignored.txt").write_text("x")
    return repo


def test_local_deploy_uploads_the_committed_tree_and_sets_the_space(checkout, local_hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_local")
    args = DeployArguments(
        space_id="me/lab", hardware="cpu-basic", token_secret=True, source_dir=str(checkout)
    )
    deploy(args)
    hub = Hub.from_env()
    assert hub.list_files("me/lab") == [".gitignore", "README.md", "app.py", "space/data.txt"]
    space = hub.download("me/lab")
    assert (space / "app.py").read_text() == "print('app')\n"  # HEAD, not the working tree
    assert SpaceCard.load(space / "README.md").data.models[0] == "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    settings = json.loads((local_hub / "me" / "lab" / "space-settings.json").read_text())
    assert settings == {
        "variables": {"BASE_MODEL": "Qwen/Qwen2.5-Coder-1.5B-Instruct", "ARENA_ENGINE": "llama.cpp"},
        "secrets": ["HF_TOKEN"],
        "hardware": "cpu-basic",
    }

    git(checkout, "rm", "-q", "space/data.txt")
    git(checkout, "commit", "-qm", "two")
    deploy(DeployArguments(space_id="me/lab", hardware="zero-a10g", source_dir=str(checkout)))
    assert hub.list_files("me/lab") == [".gitignore", "README.md", "app.py"]  # removed on the Space too
    settings = json.loads((local_hub / "me" / "lab" / "space-settings.json").read_text())
    assert settings["variables"]["ARENA_ENGINE"] == "transformers" and settings["hardware"] == "zero-a10g"
    card = SpaceCard.load(hub.download("me/lab") / "README.md").data
    assert "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF" not in card.models  # no GGUF on a transformers Arena


def test_bad_input_is_one_sentence(checkout, tmp_path):
    with pytest.raises(DeployError, match="owner/name"):
        deploy(DeployArguments(space_id="codegen-lora-lab", source_dir=str(checkout)))
    with pytest.raises(DeployError, match="cpu-basic, zero-a10g"):
        deploy(DeployArguments(space_id="me/lab", hardware="a100-large", source_dir=str(checkout)))
    with pytest.raises(DeployError, match="HF_TOKEN"):
        deploy(DeployArguments(space_id="me/lab", token_secret=True, source_dir=str(checkout)))
    with pytest.raises(DeployError, match="not a git checkout"):
        deploy(DeployArguments(space_id="me/lab", source_dir=str(tmp_path)))


def test_cli_prints_the_url_and_refuses_bad_flags(checkout, local_hub):
    run = [sys.executable, "-m", "space.deploy", "--space_id", "me/lab", "--source_dir", str(checkout)]
    done = subprocess.run(run, capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(local_hub / "me" / "lab" / "main")
    bad = subprocess.run([*run, "--hardware", "t4"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith("error: --hardware 't4'")


class _SpaceHub(BaseHTTPRequestHandler):
    """The Hub's Space endpoints as the client uses them; keeps the Space's files, records requests."""

    files: dict[str, bytes] = {}
    requests: list[tuple[str, str, dict | list | None]] = []

    def _reply(self, payload, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        from huggingface_hub.utils.sha import git_hash

        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlparse(self.path).path
        if path.endswith("/commit/main"):
            body = [json.loads(line) for line in raw.decode().splitlines()]
        else:
            body = json.loads(raw) if raw else None
        self.requests.append((self.command, path, body))
        prefix = "/api/spaces/me/lab"
        if path == "/api/repos/create":
            return self._reply({"url": f"http://{self.headers['Host']}/spaces/me/lab", "name": "me/lab"})
        if path == "/api/validate-yaml":  # the client has the Hub check a README's card before committing
            return self._reply({"errors": [], "warnings": []})
        if path == f"{prefix}/preupload/main":
            files = [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                 "oid": git_hash(self.files[f["path"]]) if f["path"] in self.files else None}
                for f in body["files"]
            ]  # fmt: skip
            return self._reply({"files": files})
        if path.startswith(f"{prefix}/tree/main"):
            return self._reply(
                [
                    {"type": "file", "path": p, "oid": git_hash(c), "size": len(c)}
                    for p, c in self.files.items()
                ]
            )
        if path == f"{prefix}/commit/main":
            for line in body:
                if line["key"] == "file":
                    self.files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
                elif line["key"] == "deletedFile":
                    self.files.pop(line["value"]["path"])
            host = self.headers["Host"]
            return self._reply(
                {"commitUrl": f"http://{host}/spaces/me/lab/commit/{'b' * 40}", "commitOid": "b" * 40}
            )
        if path.startswith(f"{prefix}/revision/main"):
            return self._reply({"id": "me/lab", "sha": "b" * 40, "siblings": []})
        if path == f"{prefix}/hardware":
            return self._reply(
                {"stage": "BUILDING", "hardware": {"current": None, "requested": body["flavor"]}}
            )
        if path in (f"{prefix}/variables", f"{prefix}/secrets"):
            return self._reply({})
        print("UNEXPECTED", self.command, self.path, file=sys.stderr)
        self._reply({"error": f"unexpected {self.command} {path}"}, 404)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def space_server(monkeypatch):
    with loopback_hub(monkeypatch, _SpaceHub, requests=[], files={}) as served:
        yield served


def committed(handler) -> list[list[tuple[str, str]]]:
    """Each commit's operations, as (kind, path)."""
    return [
        [(line["key"], line["value"]["path"]) for line in body if line["key"] != "header"]
        for method, path, body in handler.requests
        if path.endswith("/commit/main")
    ]


def test_real_hub_deploy_sends_the_expected_requests_and_only_changes(checkout, space_server):
    handler, url = space_server
    hub = Hub(endpoint=url, token="hf_deploy_token")
    args = DeployArguments(
        space_id="me/lab", hardware="cpu-basic", private=True, token_secret=True, source_dir=str(checkout)
    )
    assert deploy(args, hub) == f"{url}/spaces/me/lab"
    method, path, body = handler.requests[0]
    assert (method, path) == ("POST", "/api/repos/create")
    assert (
        body["type"] == "space"
        and body["sdk"] == "gradio"
        and body["visibility"] == "private"
        and body["name"] == "lab"
    )
    assert sorted(p for _, p in committed(handler)[0]) == [
        ".gitignore",
        "README.md",
        "app.py",
        "space/data.txt",
    ]
    assert handler.files["app.py"] == b"print('app')\n"
    (validated,) = [b for m, p, b in handler.requests if p == "/api/validate-yaml"]
    assert validated["repoType"] == "space" and SpaceCard(validated["content"]).data.sdk == "gradio"
    calls = {(m, p): b for m, p, b in handler.requests}
    variables = [b for m, p, b in handler.requests if p.endswith("/variables")]
    assert variables == [
        {"key": "BASE_MODEL", "value": "Qwen/Qwen2.5-Coder-1.5B-Instruct"},
        {"key": "ARENA_ENGINE", "value": "llama.cpp"},
    ]
    assert calls[("POST", "/api/spaces/me/lab/secrets")] == {"key": "HF_TOKEN", "value": "hf_deploy_token"}
    assert calls[("POST", "/api/spaces/me/lab/hardware")]["flavor"] == "cpu-basic"

    handler.requests.clear()
    deploy(DeployArguments(space_id="me/lab", source_dir=str(checkout)), hub)
    assert committed(handler) == []  # nothing changed: nothing sent
    assert not [p for _, p, _ in handler.requests if p.endswith(("/secrets", "/hardware"))]

    (checkout / "space" / "data.txt").write_text("v2\n")
    git(checkout, "rm", "-q", ".gitignore")
    git(checkout, "add", "space/data.txt")
    git(checkout, "commit", "-qm", "two")
    handler.requests.clear()
    deploy(DeployArguments(space_id="me/lab", source_dir=str(checkout)), hub)
    assert sorted(committed(handler)[0]) == [("deletedFile", ".gitignore"), ("file", "space/data.txt")]
    assert handler.files["space/data.txt"] == b"v2\n"


def test_real_hub_refusing_the_token_is_one_sentence(checkout, space_server):
    handler, url = space_server
    handler._reply_status = 401

    def refuse(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply({"error": "Invalid credentials"}, 401)

    handler.do_POST = refuse
    with pytest.raises(HubError) as err:
        deploy(
            DeployArguments(space_id="me/lab", source_dir=str(checkout)), Hub(endpoint=url, token="hf_bad")
        )
    assert "me/lab" in str(err.value) and "HF_TOKEN" in str(err.value) and "hf_bad" not in str(err.value)
