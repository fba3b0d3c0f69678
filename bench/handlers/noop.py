"""A do-nothing handler in the SageMaker inference-toolkit style, to measure dockyard's own overhead.

`model_fn` loads nothing and `transform_fn` answers a constant, so a benchmark of this handler
measures only the server: HTTP parsing, dispatch to a worker and the response.
"""

from __future__ import annotations

from typing import Any

CONSTANT_BODY = b"[0]"


def model_fn(model_dir: str) -> None:
    """Load nothing: the no-op handler has no model."""
    del model_dir


def transform_fn(model: Any, body: bytes, content_type: str, accept: str) -> bytes:
    """Answer the same JSON body to every request."""
    del model, body, content_type, accept
    return CONSTANT_BODY
