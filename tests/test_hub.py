"""The Hub module: the local layout for real, the real-Hub path at its HTTP boundary."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest

from codegen_lab.hub import Hub, HubError
from tests.helpers import loopback_hub


def test_local_hub_round_trips_a_folder_on_a_branch(tmp_path, local_hub):
    hub = Hub.from_env()
    assert hub.root == local_hub
    checkpoint = tmp_path / "checkpoint-step-100-epoch-1"
    (checkpoint / "sub").mkdir(parents=True)
    (checkpoint / "adapter_config.json").write_text('{"r": 8}')
    (checkpoint / "sub" / "notes.txt").write_text("hello")
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin"):
        (checkpoint / name).write_bytes(b"state")

    hub.create_repo("me/run")
    hub.upload_file("me/run", "# card", "README.md")
    hub.create_branch("me/run", "step-000100")
    hub.upload_folder("me/run", checkpoint, revision="step-000100")
    hub.upload_file("me/run", json.dumps({"pass@1": 0.5}), "metrics.json", revision="step-000100")

    assert hub.list_branches("me/run") == ["main", "step-000100"]
    assert hub.list_files("me/run", "step-000100") == [
        "README.md",
        "adapter_config.json",
        "metrics.json",
        "sub/notes.txt",
    ]
    assert hub.list_files("me/run") == ["README.md"]
    assert hub.read_json("me/run", "metrics.json", revision="step-000100") == {"pass@1": 0.5}
    folder = hub.download("me/run", "step-000100")
    assert (folder / "sub" / "notes.txt").read_text() == "hello"
    assert not list(folder.rglob("*.tmp"))


def test_local_hub_names_the_missing_repo_and_revision(local_hub):
    hub = Hub.from_env()
    with pytest.raises(HubError, match="me/none"):
        hub.download("me/none")
    hub.create_repo("me/run")
    with pytest.raises(HubError, match="step-000999"):
        hub.download("me/run", "step-000999")
    with pytest.raises(HubError, match="step-000001"):
        hub.upload_file("me/run", "x", "a.txt", revision="step-000001")


class _RecordingHub(BaseHTTPRequestHandler):
    """Answers like the Hub's REST API would, and records every request it gets."""

    status = 200
    requests: list[tuple[str, str, str | None, bytes]] = []

    def _handle(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.requests.append((self.command, self.path, self.headers.get("Authorization"), body))
        payload = {"url": f"http://{self.headers['Host']}/me/run", "name": "me/run", "error": "nope"}
        if self.path.endswith("/refs"):
            payload = {
                "branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": "a" * 40}],
                "converts": [],
                "tags": [],
            }
        data = json.dumps(payload).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_hub_server(monkeypatch):
    with loopback_hub(monkeypatch, _RecordingHub, requests=[], status=200) as served:
        yield served


def test_real_hub_path_sends_the_expected_requests(fake_hub_server):
    handler, url = fake_hub_server
    hub = Hub(endpoint=url, token="hf_secret_token")
    assert not hub.is_local
    hub.create_repo("me/run")
    hub.create_branch("me/run", "step-000100")
    assert hub.list_branches("me/run") == ["main"]
    (method, path, auth, body), *rest = handler.requests
    assert (method, path, auth) == ("POST", "/api/repos/create", "Bearer hf_secret_token")
    assert json.loads(body)["name"] == "run"
    assert rest[0][:2] == ("POST", "/api/models/me/run/branch/step-000100")
    assert rest[1][:2] == ("GET", "/api/models/me/run/refs")


def test_refused_token_gives_one_clear_message(fake_hub_server):
    handler, url = fake_hub_server
    handler.status = 401
    with pytest.raises(HubError) as err:
        Hub(endpoint=url, token="hf_wrong").create_branch("me/run", "step-000100")
    message = str(err.value)
    assert "me/run" in message and "HF_TOKEN" in message and "hf_wrong" not in message


def test_unreachable_hub_gives_one_clear_message(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    hub = Hub(endpoint="http://127.0.0.1:9", token=None)
    with pytest.raises(HubError) as err:
        hub.create_repo("me/run")
    assert "me/run" in str(err.value) and "cannot be reached" in str(err.value)
    assert "CODEGEN_LAB_HUB" in str(err.value)
