"""Shared data for the flavor tests: a tiny, well-separated binary classification problem."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

Array = npt.NDArray[Any]


@pytest.fixture(scope="session")
def tabular() -> tuple[Array, Array]:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(60, 4))
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0).astype(np.int64)
    return features, labels
