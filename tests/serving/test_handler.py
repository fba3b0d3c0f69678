"""Handler loading and the pipelines built from it, exercised in-process."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from dockyard.serving.context import RequestContext
from dockyard.serving.errors import HandlerError, ModelLoadError
from dockyard.serving.handler import ClassPipeline, Pipeline, ToolkitPipeline, build_pipeline
from dockyard.serving.settings import ServerSettings


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def _context(
    content_type: str = "application/json", accept: str = "application/json", **headers: str
) -> RequestContext:
    return RequestContext.from_headers("r-1", headers, content_type, accept)


def _invoke(pipeline: Pipeline, body: bytes, context: RequestContext) -> tuple[bytes, str]:
    return pipeline.encode(pipeline.predict(pipeline.decode(body, context), context), context)


def _loaded(tmp_path: Path, source: str, **settings: object) -> Pipeline:
    handler = _write(tmp_path, "handler_under_test.py", source)
    pipeline = build_pipeline(ServerSettings(model_dir=tmp_path, handler=str(handler), **settings))  # type: ignore[arg-type]
    pipeline.load()
    return pipeline


def test_toolkit_functions_with_and_without_context(tmp_path: Path) -> None:
    pipeline = _loaded(
        tmp_path,
        """
        import json
        def model_fn(model_dir):
            return {"dir": model_dir, "bias": 10}
        def input_fn(data, content_type, context):
            assert isinstance(data, str)  # JSON arrives as text, as in the SageMaker toolkit
            context.response_custom_attributes = "seen=" + (context.custom_attributes or "")
            return json.loads(data)
        def predict_fn(data, model):
            return [x + model["bias"] for x in data]
        def output_fn(prediction, accept):
            return json.dumps(prediction)
        """,
    )
    assert isinstance(pipeline, ToolkitPipeline)
    assert not pipeline.negotiates
    context = _context(**{"x-amzn-sagemaker-custom-attributes": "a=1"})
    assert _invoke(pipeline, b"[1, 2]", context) == (b"[11, 12]", "application/json")
    assert context.response_custom_attributes == "seen=a=1"


def test_toolkit_defaults_fill_missing_functions(tmp_path: Path) -> None:
    pipeline = _loaded(
        tmp_path,
        """
        class Model:
            def predict(self, rows):
                return rows.sum(axis=1)
        def model_fn(model_dir):
            return Model()
        """,
    )
    assert pipeline.negotiates
    body, content_type = _invoke(pipeline, b'{"instances": [[1, 2], [3, 4]]}', _context())
    assert content_type == "application/json"
    assert body == b'{"predictions":[3,7]}'  # integer input stays integer
    body, content_type = _invoke(pipeline, b"1,2\n3,4\n", _context("text/csv", "text/csv"))
    assert (body.split(), content_type) == ([b"3.0", b"7.0"], "text/csv")  # CSV decodes to float


def test_output_fn_may_choose_the_content_type(tmp_path: Path) -> None:
    pipeline = _loaded(
        tmp_path,
        """
        def model_fn(model_dir):
            return None
        def transform_fn(model, data, content_type, accept):
            return b"\\x00\\x01", "application/x-custom"
        """,
    )
    assert not pipeline.batchable
    assert _invoke(pipeline, b"abc", _context("application/octet-stream")) == (
        b"\x00\x01",
        "application/x-custom",
    )


def test_handler_returning_an_object_is_a_handler_error(tmp_path: Path) -> None:
    pipeline = _loaded(
        tmp_path,
        """
        def model_fn(model_dir):
            return None
        def transform_fn(model, data, content_type, accept):
            return {"not": "bytes"}
        """,
    )
    with pytest.raises(HandlerError, match=r"returned dict; return bytes, str, or \(body, content_type\)"):
        _invoke(pipeline, b"{}", _context())


def test_transform_fn_mixed_with_other_functions_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HandlerError, match="defines transform_fn together with input_fn, predict_fn"):
        _loaded(
            tmp_path,
            """
            def transform_fn(model, data, content_type, accept): ...
            def input_fn(data, content_type): ...
            def predict_fn(data, model): ...
            """,
        )


def test_toolkit_function_with_too_few_arguments_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HandlerError, match="predict_fn takes 1 positional argument"):
        _loaded(tmp_path, "def model_fn(d):\n    return 1\ndef predict_fn(data):\n    return data\n")


def test_class_handler_found_alone_or_by_name(tmp_path: Path) -> None:
    source = """
    class Scaler:
        def load(self, model_dir):
            self.factor = 3
        def predict(self, inputs, context):
            return [[v * self.factor for v in row] for row in inputs["instances"]]
    """
    pipeline = _loaded(tmp_path, source)
    assert isinstance(pipeline, ClassPipeline)
    # Without batching the class sees the JSON value as sent.
    assert _invoke(pipeline, b'{"instances": [[1, 2]]}', _context())[0] == b'{"predictions":[[3,6]]}'


def test_class_with_its_own_codecs(tmp_path: Path) -> None:
    pipeline = _loaded(
        tmp_path,
        """
        class Upper:
            def load(self, model_dir): ...
            def decode(self, body, content_type, context):
                return body.decode()
            def predict(self, text, context):
                return text.upper()
            def encode(self, result, accept, context):
                return result, "text/plain"
        """,
    )
    assert not pipeline.negotiates
    assert _invoke(pipeline, b"hello", _context("text/plain", "*/*")) == (b"HELLO", "text/plain")


def test_several_classes_need_a_name(tmp_path: Path) -> None:
    source = """
    class A:
        def load(self, d): ...
        def predict(self, x, c): ...
    class B(A): ...
    """
    handler = _write(tmp_path, "two.py", source)
    with pytest.raises(
        ModelLoadError, match=r"several predictor classes \(A, B\); choose one with .*two.py:Name"
    ):
        build_pipeline(ServerSettings(model_dir=tmp_path, handler=str(handler)))
    chosen = build_pipeline(ServerSettings(model_dir=tmp_path, handler=f"{handler}:B"))
    assert isinstance(chosen, ClassPipeline)
    assert chosen.cls.__name__ == "B"
    with pytest.raises(ModelLoadError, match="C is not a class with load"):
        build_pipeline(ServerSettings(model_dir=tmp_path, handler=f"{handler}:C"))


def test_sagemaker_program_is_found_in_the_model_code_dir(tmp_path: Path) -> None:
    _write(tmp_path, "code/helper_mod.py", "VALUE = 5\n")
    _write(
        tmp_path,
        "code/serve_me.py",
        """
        from helper_mod import VALUE  # siblings in code/ are importable
        def model_fn(model_dir):
            return VALUE
        def transform_fn(model, data, content_type, accept):
            return str(model)
        """,
    )
    pipeline = build_pipeline(ServerSettings(model_dir=tmp_path, handler="serve_me.py"))
    pipeline.load()
    assert _invoke(pipeline, b"x", _context())[0] == b"5"


def test_code_inference_py_is_the_default_handler(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "code/inference.py",
        "def model_fn(d):\n    return 1\ndef transform_fn(m, d, c, a):\n    return 'ok'\n",
    )
    assert isinstance(build_pipeline(ServerSettings(model_dir=tmp_path)), ToolkitPipeline)


@pytest.mark.parametrize(
    ("source", "handler", "message"),
    [
        (None, "nowhere.py", "handler file nowhere.py does not exist"),
        (
            "raise RuntimeError('boom at import')",
            None,
            "importing handler .* failed: RuntimeError: boom at import",
        ),
        ("x = 1\n", None, "defines neither a class with load\\(\\) and predict\\(\\) nor any of model_fn"),
        (None, "no_such_module_xyz", "importing handler no_such_module_xyz failed: ModuleNotFoundError"),
    ],
)
def test_handler_errors(tmp_path: Path, source: str | None, handler: str | None, message: str) -> None:
    if source is not None:
        handler = str(_write(tmp_path, "broken_handler.py", source))
    with pytest.raises(ModelLoadError, match=message):
        build_pipeline(ServerSettings(model_dir=tmp_path, handler=handler))


def test_batching_gives_class_handlers_arrays(tmp_path: Path) -> None:
    pipeline = _loaded(
        tmp_path,
        """
        class Echo:
            def load(self, d): ...
            def predict(self, x, c):
                return x
        """,
        max_batch_size=8,
    )
    decoded = pipeline.decode(b"[[1, 2]]", _context())
    assert isinstance(decoded, np.ndarray)
    assert decoded.shape == (1, 2)
