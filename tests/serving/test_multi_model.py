"""Multi-model serving: SageMaker's /models API on the real server process, over real HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import HANDLERS

pytestmark = pytest.mark.slow

PER_MODEL = str(HANDLERS / "per_model.py")


def _invoke(url: str, name: str) -> httpx.Response:
    return httpx.post(f"{url}/models/{name}/invoke", content=b"[1]", timeout=30)


def _model(root: Path, name: str) -> str:
    directory = root / name / "model"
    directory.mkdir(parents=True)
    (directory / "name.txt").write_text(name)
    return str(directory)


def test_load_list_describe_invoke_and_unload(start_server, tmp_path: Path) -> None:
    server = start_server("--handler", PER_MODEL, "--workers", "2", env={"SAGEMAKER_MULTI_MODEL": "true"})
    http = server.client
    assert http.get("/models").json() == {"models": []}
    for name in ("alpha", "beta"):
        loaded = http.post("/models", json={"model_name": name, "url": _model(tmp_path, name)})
        assert loaded.status_code == 200, loaded.text
    again = http.post("/models", json={"model_name": "alpha", "url": str(tmp_path / "alpha" / "model")})
    assert again.status_code == 409
    assert again.json() == {"error": "Conflict", "message": "model alpha is already loaded"}
    listed = http.get("/models").json()["models"]
    assert [model["modelName"] for model in listed] == ["alpha", "beta"]
    assert http.get("/models/beta").json() == {
        "modelName": "beta",
        "modelUrl": str(tmp_path / "beta" / "model"),
    }
    page = http.get("/models", params={"limit": "1"}).json()
    assert page == {"models": listed[:1], "nextPageToken": "1"}
    assert http.get("/models", params={"limit": "1", "next_page_token": "1"}).json() == {"models": listed[1:]}
    # Both workers answer for both models: the one that did not take the load loads its own copy.
    # Concurrent fresh connections, so that both workers' accepts get a turn.
    pids: set[int] = set()
    with ThreadPoolExecutor(8) as pool:
        for _ in range(20):
            for name, answer in pool.map(
                lambda name: (name, _invoke(server.url, name)), ["alpha", "beta"] * 8
            ):
                assert answer.status_code == 200, answer.text
                assert answer.json()["model"] == name
                pids.add(answer.json()["pid"])
            if len(pids) == 2:
                break
    assert len(pids) == 2
    assert http.delete("/models/alpha").status_code == 200
    for _ in range(4):  # whichever worker answers, the model is gone
        gone = http.post("/models/alpha/invoke", content=b"[1]", headers={"Connection": "close"})
        assert gone.status_code == 404
        assert gone.json() == {"error": "NotFound", "message": "model alpha is not loaded"}
    assert http.get("/models/alpha").status_code == 404
    missing = http.delete("/models/alpha")
    assert missing.status_code == 404
    assert missing.json()["message"] == "model alpha is not loaded"
    assert http.get("/ping").status_code == 200


def test_bad_load_requests_say_what_is_wrong(start_server, tmp_path: Path) -> None:
    server = start_server("--handler", PER_MODEL, "--workers", "1", env={"SAGEMAKER_MULTI_MODEL": "true"})
    http = server.client
    not_json = http.post("/models", content=b"{")
    assert not_json.status_code == 400
    assert not_json.json()["message"].startswith("the body must be JSON")
    no_name = http.post("/models", json={"url": "/x"})
    assert no_name.status_code == 400
    assert no_name.json()["message"] == "model_name must be a non-empty string of at most 1024 characters"
    no_dir = http.post("/models", json={"model_name": "m", "url": str(tmp_path / "absent")})
    assert no_dir.status_code == 400
    assert (
        no_dir.json()["message"]
        == f"cannot load model m: {tmp_path / 'absent'} is not a directory in this container"
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    failed = http.post("/models", json={"model_name": "broken", "url": str(broken)})
    assert failed.status_code == 500
    assert failed.json()["error"] == "ModelLoadError"
    assert failed.json()["message"].startswith("cannot load model broken: FileNotFoundError")
    assert http.get("/models").json() == {"models": []}  # a failed load registers nothing
    assert http.post("/invocations", content=b"[1]").status_code == 404
    assert http.put("/models").status_code == 405


def test_single_model_server_has_no_models_routes(start_server) -> None:
    server = start_server("--handler", str(HANDLERS / "echo.py"), "--workers", "1")
    answer = server.client.get("/models")
    assert answer.status_code == 404
    assert "multi-model serving is off" in answer.json()["message"]
    assert server.client.post("/invocations", content=b"[1]").status_code == 200
