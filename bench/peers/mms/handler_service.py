"""The handler service Multi Model Server runs: the toolkit's DefaultHandlerService with our handler."""

from __future__ import annotations

from sagemaker_inference.default_handler_service import DefaultHandlerService
from sagemaker_inference.transformer import Transformer
from sklearn_handler import SklearnJsonHandler


class HandlerService(DefaultHandlerService):
    """Routes every request through the toolkit's Transformer to `SklearnJsonHandler`."""

    def __init__(self) -> None:
        super().__init__(transformer=Transformer(default_inference_handler=SklearnJsonHandler()))
