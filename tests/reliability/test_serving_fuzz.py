"""The inference server's codecs under fuzzing: every body, content type and Accept gets a well-formed
answer, never a 500 and never a hang.

A real `serve` process holds a real scikit-learn model (four features). Hypothesis sends raw bytes under
each content type, JSON documents of any shape, CSV tables of numbers and words (nan and inf included)
and NPY/NPZ files of any dtype and shape, with a random Accept. A caller's mistake must be a 4xx with
dockyard's JSON error shape; only a request the model can answer may be a 200.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

CLIENT_ERRORS = {400, 406, 413, 415}
CONTENT_TYPES = [
    "application/json",
    "application/jsonlines",
    "text/csv",
    "application/x-npy",
    "application/x-npz",
    "application/octet-stream",
    "text/plain",
    "image/png",
]
ACCEPTS = ["application/json", "text/csv", "application/x-npy", "application/jsonlines", "*/*", "image/gif"]

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)
csv_cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.sampled_from(["nan", "inf", "-inf", "", "x", '"q"', "1e309"]),
)


@st.composite
def csv_bodies(draw: st.DrawFn) -> bytes:
    width = draw(st.integers(1, 7))
    rows = draw(st.lists(st.lists(csv_cells, min_size=width, max_size=width), min_size=1, max_size=5))
    return "\n".join(",".join(row) for row in rows).encode()


arrays = hnp.arrays(
    dtype=st.one_of(
        hnp.integer_dtypes(), hnp.floating_dtypes(), hnp.boolean_dtypes(), hnp.unicode_string_dtypes()
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=5),
)


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _npz(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.savez(out, array)
    return out.getvalue()


# Requests the model can answer (rows of its four features), so that every run reaches the model: the
# other strategies hit four finite features by chance only (2 of 400 examples), and one suite run drew none.
valid_rows = hnp.arrays(
    dtype=np.float64,
    shape=st.tuples(st.integers(1, 5), st.just(4)),
    elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)
valid_requests = st.one_of(
    valid_rows.map(lambda rows: ("application/json", json.dumps(rows.tolist()).encode())),
    valid_rows.map(
        lambda rows: ("text/csv", "\n".join(",".join(map(repr, row)) for row in rows.tolist()).encode())
    ),
    valid_rows.map(lambda rows: ("application/x-npy", _npy(rows))),
)

requests = st.one_of(
    valid_requests,
    st.tuples(st.sampled_from(CONTENT_TYPES), st.binary(max_size=300)),
    st.tuples(st.just("application/json"), json_values.map(lambda value: json.dumps(value).encode())),
    st.tuples(
        st.just("application/json"),
        json_values.map(lambda value: json.dumps({"instances": value}).encode()),
    ),
    st.tuples(st.just("text/csv"), csv_bodies()),
    st.tuples(st.just("application/x-npy"), arrays.map(_npy)),
    st.tuples(st.just("application/x-npz"), arrays.map(_npz)),
    # NPY files cut short or with their header bytes changed.
    st.tuples(
        st.just("application/x-npy"),
        st.tuples(arrays.map(_npy), st.integers(0, 200), st.binary(min_size=1, max_size=8)).map(
            lambda parts: parts[0][: parts[1]] + parts[2] + parts[0][parts[1] + len(parts[2]) :]
        ),
    ),
)


@pytest.fixture
def iris_server(tmp_path: Path, start_server: Callable[..., Any]) -> Any:
    features, labels = load_iris(return_X_y=True)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    joblib.dump(LogisticRegression(max_iter=300).fit(features, labels), model_dir / "model.joblib")
    return start_server("--model-dir", str(model_dir), "--workers", "1", "--timeout", "10")


def test_every_fuzzed_request_gets_a_well_formed_answer(iris_server: Any) -> None:
    seen: dict[int, int] = {}
    client = httpx.Client(base_url=iris_server.url, timeout=15)

    @settings(
        max_examples=400,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests, accept=st.sampled_from(ACCEPTS))
    def probe(request: tuple[str, bytes], accept: str) -> None:
        content_type, body = request
        answer = client.post(
            "/invocations", content=body, headers={"Content-Type": content_type, "Accept": accept}
        )
        seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
        assert answer.status_code == 200 or answer.status_code in CLIENT_ERRORS, (
            answer.status_code,
            content_type,
            body[:200],
            answer.text[:300],
        )
        if answer.status_code != 200:
            error = answer.json()
            assert set(error) >= {"error", "message"}, error
            assert error["message"], error

    try:
        probe()
    finally:
        client.close()
    # The fuzzing reached both the model and the refusals.
    assert seen.get(200, 0) > 0, seen
    assert sum(count for status, count in seen.items() if status in CLIENT_ERRORS) > 0, seen
    assert iris_server.ping() == 200
