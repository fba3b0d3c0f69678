"""`dockyard check` for images labelled ``com.amazonaws.sagemaker.capabilities.multi-models=true``.

SageMaker never sends such a container ``/invocations``: it loads models with ``POST /models``
(``{"model_name", "url"}``), lists, describes and unloads them under ``/models``, and invokes one with
``POST /models/{name}/invoke``. The check loads the model given to ``dockyard check`` (it is at
``/opt/ml/model`` in the check container) under a fresh name and walks that API, expecting the
statuses SageMaker's container contract names: 409 for a second load of a loaded name, 404 for a
name that is not loaded.
"""

from __future__ import annotations

import secrets

import httpx

MULTI_MODELS_LABEL = "com.amazonaws.sagemaker.capabilities.multi-models"
MODEL_URL = "/opt/ml/model"

TITLES: dict[str, str] = {
    "mm-load": "loads a model (POST /models)",
    "mm-conflict": "answers 409 to loading a loaded name",
    "mm-list": "lists loaded models (GET /models)",
    "mm-describe": "describes a model (GET /models/{name})",
    "mm-invoke": "invokes a model (POST /models/{name}/invoke)",
    "mm-unload": "unloads a model (DELETE /models/{name})",
    "mm-missing": "answers 404 for a model not loaded",
}

PASS, FAIL, SKIP = "pass", "fail", "skip"  # the values of dockyard.image.check.Status
Result = tuple[str, str, str]  # check name, status, message


def _status(outcome: httpx.Response | str) -> str:
    if isinstance(outcome, str):
        return outcome
    text = outcome.text.strip().replace("\n", " ")
    return f"{outcome.status_code}" + (f": {text[:200]}" if text else "")


def _call(http: httpx.Client, method: str, path: str, **kwargs: object) -> httpx.Response | str:
    try:
        return http.request(method, path, **kwargs)  # type: ignore[arg-type]
    except httpx.TransportError as exc:
        return f"the connection failed ({type(exc).__name__}: {exc or 'closed'})"


def check_multi_model_api(http: httpx.Client, sample: tuple[bytes, str] | None) -> list[Result]:
    """Walk the multi-model API on a started container: one result per check in ``TITLES``."""
    results: list[Result] = []

    def record(step: str, status: str, message: str) -> None:
        results.append((step, status, message))

    name = f"dockyard-check-{secrets.token_hex(3)}"
    load = {"model_name": name, "url": MODEL_URL}
    loaded = _call(http, "POST", "/models", json=load)
    if isinstance(loaded, str) or loaded.status_code != 200:
        record("mm-load", FAIL, f"POST /models {load} answered {_status(loaded)}")
        for step in ("mm-conflict", "mm-list", "mm-describe", "mm-invoke", "mm-unload"):
            record(step, SKIP, "not run: the model did not load")
    else:
        record("mm-load", PASS, f"200 loading {MODEL_URL} as {name}")
        again = _call(http, "POST", "/models", json=load)
        ok = not isinstance(again, str) and again.status_code == 409
        record("mm-conflict", PASS if ok else FAIL, f"a second load answered {_status(again)}")
        results += _list_and_describe(http, name)
        if sample is None:
            reason = "not run: no sample request (pass --sample FILE, or set sample_request in dockyard.toml)"
            record("mm-invoke", SKIP, reason)
        else:
            body, content_type = sample
            answer = _call(
                http, "POST", f"/models/{name}/invoke", content=body, headers={"Content-Type": content_type}
            )
            ok = not isinstance(answer, str) and answer.is_success
            record("mm-invoke", PASS if ok else FAIL, f"the sample answered {_status(answer)}")
        unloaded = _call(http, "DELETE", f"/models/{name}")
        after = _call(http, "GET", f"/models/{name}")
        ok = not isinstance(unloaded, str) and unloaded.status_code == 200
        ok = ok and not isinstance(after, str) and after.status_code == 404
        message = f"DELETE answered {_status(unloaded)}; GET afterwards answered {_status(after)}"
        record("mm-unload", PASS if ok else FAIL, message)
    missing = _call(http, "POST", f"/models/{name}-absent/invoke", content=b"{}")
    ok = not isinstance(missing, str) and missing.status_code == 404
    record("mm-missing", PASS if ok else FAIL, f"invoking a name never loaded answered {_status(missing)}")
    return results


def _list_and_describe(http: httpx.Client, name: str) -> list[Result]:
    results: list[Result] = []
    listed = _call(http, "GET", "/models")
    names: list[object] = []
    if not isinstance(listed, str) and listed.status_code == 200:
        try:
            names = [model.get("modelName") for model in listed.json().get("models", [])]
        except (ValueError, AttributeError):
            names = []
    if name in names:
        results.append(("mm-list", PASS, f"{name} is among the {len(names)} model(s) listed"))
    else:
        results.append(
            ("mm-list", FAIL, f'GET /models did not list {name} under "models": {_status(listed)}')
        )
    described = _call(http, "GET", f"/models/{name}")
    try:
        ok = not isinstance(described, str) and described.json().get("modelName") == name
    except (ValueError, AttributeError):
        ok = False
    results.append(("mm-describe", PASS if ok else FAIL, f"GET /models/{name} answered {_status(described)}"))
    return results
