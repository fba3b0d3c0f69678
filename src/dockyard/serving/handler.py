"""Loading the user's handler and turning it into one request pipeline: decode → predict → encode.

Three ways to say how a model is served, tried in this order:

1. a **class** with ``load(model_dir)`` and ``predict(inputs, context)`` (``--handler file.py:Name``,
   or the only such class in the module);
2. **SageMaker inference-toolkit functions** ``model_fn``, ``input_fn``, ``predict_fn``, ``output_fn``
   or ``transform_fn`` (``--handler``, ``SAGEMAKER_PROGRAM``, or ``MODEL_DIR/code/inference.py``);
   each may take a trailing ``context`` argument (a :class:`RequestContext`);
3. a **built-in flavor** (scikit-learn, XGBoost, LightGBM, ONNX, TorchScript) when there is no handler.

The three stages are kept apart so that adaptive batching can wrap ``predict`` alone. Signatures are
inspected once at load time; nothing is inspected per request.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from dockyard.serving import codecs, media, model_input
from dockyard.serving.context import RequestContext
from dockyard.serving.errors import BadRequest, HandlerError, ModelLoadError, NotAcceptable
from dockyard.serving.settings import ServerSettings

TOOLKIT_FUNCTIONS = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")
TEXT_TYPES = frozenset({"application/json", "text/csv", "application/jsonlines", "application/x-jsonlines"})


@dataclass(slots=True)
class BatchContext:
    """The context ``predict`` receives when adaptive batching merged several requests."""

    requests: list[RequestContext]


Decode = Callable[[bytes, RequestContext], Any]
Predict = Callable[[Any, Any], Any]  # (inputs, RequestContext | BatchContext)
Encode = Callable[[Any, RequestContext], tuple[bytes, str]]


def default_decode(body: bytes, context: RequestContext) -> Any:
    """The built-in codecs, then an array (or dict of arrays) as the built-in flavors expect."""
    value = codecs.decode(body, context.content_type)
    context.envelope = model_input.wrapped(value)
    return model_input.to_array(value)


def default_encode(outputs: Any, context: RequestContext) -> tuple[bytes, str]:
    value = {"predictions": outputs} if context.envelope else outputs
    try:
        return codecs.encode(value, context.accept), context.accept
    except HandlerError as exc:
        # The answer exists but not in the asked type (a {"predictions": ...} object as CSV): the
        # caller's Accept is the problem when JSON would carry it.
        if media.parse_media_type(context.accept).type == codecs.JSON:
            raise
        try:
            codecs.encode(value, codecs.JSON)
        except HandlerError:
            raise exc from None
        raise NotAcceptable(f"{exc.message}; ask for {codecs.JSON} (Accept) to get this answer") from None


def _not_loaded(*args: Any) -> Any:
    raise RuntimeError("the pipeline is used before load()")


class Pipeline:
    """One loaded model and the three stages every request goes through.

    ``decode`` and ``encode`` run once per request; ``predict`` runs once per request, or once per
    batch when batching is on and ``batchable`` is true. ``negotiates`` tells the server to resolve
    Accept against the codecs' types before running the model (406 early). The stages are plain
    attributes, bound once by ``load`` to the user's functions or to the defaults.
    """

    batchable = True
    negotiates = True

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.decode: Decode = default_decode
        self.predict: Predict = _not_loaded
        self.encode: Encode = default_encode

    def load(self) -> None:
        raise NotImplementedError


class FlavorPipeline(Pipeline):
    """No handler: a built-in flavor loads and predicts; codecs decode and encode."""

    def load(self) -> None:
        from dockyard.serving.flavors import load_flavor

        self.model = load_flavor(self.settings.model_dir, self.settings.flavor, self.settings.flavor_options)
        self.predict = self.model.predict


class ClassPipeline(Pipeline):
    """A user class: ``load(model_dir)`` once, ``predict(inputs, context)`` per request (or batch).

    Optional methods ``decode(body, content_type, context)`` and ``encode(outputs, accept, context)``
    replace the built-in codecs; ``encode`` may return bytes or ``(bytes, content_type)``.
    """

    def __init__(self, settings: ServerSettings, cls: type) -> None:
        super().__init__(settings)
        self.cls = cls
        self.negotiates = not callable(getattr(cls, "encode", None))
        if not settings.batching:
            self.decode = _decode_as_sent

    def load(self) -> None:
        self.instance = self.cls()
        self.instance.load(str(self.settings.model_dir))
        self.predict = self.instance.predict
        custom_decode = getattr(self.instance, "decode", None)
        if callable(custom_decode):
            self.decode = lambda body, context: custom_decode(body, context.content_type, context)
        custom_encode = getattr(self.instance, "encode", None)
        if callable(custom_encode):
            self.encode = lambda outputs, context: _as_response(
                custom_encode(outputs, context.accept, context), context.accept
            )


def _decode_as_sent(body: bytes, context: RequestContext) -> Any:
    # Class handlers get the decoded value as it was sent (JSON stays Python objects), except under
    # batching, where inputs must be arrays so that the rows of several requests can be stacked.
    value = codecs.decode(body, context.content_type)
    context.envelope = model_input.wrapped(value)
    return value


class ToolkitPipeline(Pipeline):
    """SageMaker inference-toolkit functions; missing ones fall back to dockyard's defaults."""

    def __init__(self, settings: ServerSettings, module: ModuleType) -> None:
        super().__init__(settings)
        found = {
            name: getattr(module, name) for name in TOOLKIT_FUNCTIONS if callable(getattr(module, name, None))
        }
        if "transform_fn" in found and found.keys() & {"input_fn", "predict_fn", "output_fn"}:
            others = ", ".join(sorted(found.keys() & {"input_fn", "predict_fn", "output_fn"}))
            raise HandlerError(
                f"{module.__name__} defines transform_fn together with {others}: define transform_fn alone, "
                "or input_fn/predict_fn/output_fn without it"
            )
        self.functions = {name: _with_optional_context(name, fn) for name, fn in found.items()}
        self.negotiates = "output_fn" not in found and "transform_fn" not in found
        self.batchable = "transform_fn" not in found

    def load(self) -> None:
        functions = self.functions
        model_fn = functions.get("model_fn")
        if model_fn is not None:
            model = model_fn(str(self.settings.model_dir), None)
        else:
            from dockyard.serving.flavors import load_flavor

            model = load_flavor(self.settings.model_dir, self.settings.flavor, self.settings.flavor_options)
        self.model = model
        transform_fn = functions.get("transform_fn")
        if transform_fn is not None:
            # transform_fn does everything; the stages around it only pass the body and the answer on.
            self.decode = lambda body, context: _toolkit_body(body, context.content_type)
            self.predict = lambda data, context: transform_fn(
                model, data, context.content_type, context.accept, context
            )
            self.encode = lambda outputs, context: _as_response(outputs, context.accept)
            return
        input_fn = functions.get("input_fn")
        if input_fn is not None:
            self.decode = lambda body, context: input_fn(
                _toolkit_body(body, context.content_type), context.content_type, context
            )
        predict_fn = functions.get("predict_fn")
        if predict_fn is not None:
            self.predict = lambda inputs, context: predict_fn(inputs, model, context)
        else:
            model_predict = model.predict
            self.predict = lambda inputs, context: model_predict(inputs)
        output_fn = functions.get("output_fn")
        if output_fn is not None:
            self.encode = lambda outputs, context: _as_response(
                output_fn(outputs, context.accept, context), context.accept
            )


def _toolkit_body(body: bytes, content_type: str) -> bytes | str:
    """The toolkit hands JSON and CSV bodies to user code as text; do the same for compatibility."""
    if media.parse_media_type(content_type).type in TEXT_TYPES:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{content_type}: body is not valid UTF-8 at byte {exc.start}") from None
    return body


def _as_response(result: Any, accept: str) -> tuple[bytes, str]:
    """Handlers may return bytes, str, or ``(body, content_type)``; the content type defaults to Accept."""
    content_type = accept
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
        result, content_type = result
    if isinstance(result, str):
        return result.encode("utf-8"), content_type
    if isinstance(result, bytes | bytearray | memoryview):
        return bytes(result), content_type
    raise HandlerError(
        f"the handler returned {type(result).__name__}; return bytes, str, or (body, content_type) from "
        "output_fn/transform_fn/encode"
    )


def _with_optional_context(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adapt a toolkit function to always be called with a trailing context argument.

    The toolkit signatures are model_fn(model_dir), input_fn(data, content_type),
    predict_fn(data, model), output_fn(prediction, accept), transform_fn(model, data, content_type, accept);
    one more positional parameter (or one named ``context``) means the function wants the context.
    """
    base = {"model_fn": 1, "input_fn": 2, "predict_fn": 2, "output_fn": 2, "transform_fn": 4}[name]
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return lambda *args: fn(*args[:base])
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    if variadic or len(positional) > base or any(p.name == "context" for p in parameters):
        return fn
    if len(positional) < base:
        raise HandlerError(
            f"{name} takes {len(positional)} positional argument(s); the toolkit passes {base}"
        )
    return lambda *args: fn(*args[:base])


def _import_handler(spec: str, settings: ServerSettings) -> tuple[ModuleType, str | None]:
    """Import ``spec`` (a file path or module name, optionally ``:Name``) and return (module, name)."""
    target, _, attribute = spec.partition(":")
    path = Path(target)
    if path.suffix == ".py" and not path.is_file():
        # SAGEMAKER_PROGRAM names a file inside MODEL_DIR/code.
        candidate = settings.model_dir / "code" / target
        if candidate.is_file():
            path = candidate
    try:
        if path.suffix == ".py":
            if not path.is_file():
                raise ModelLoadError(f"handler file {target} does not exist")
            module = _import_file(path.resolve())
        else:
            module = importlib.import_module(target)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"importing handler {target} failed: {type(exc).__name__}: {exc}") from exc
    return module, attribute or None


def _import_file(path: Path) -> ModuleType:
    # The handler's own folder goes on sys.path so that it can import its sibling modules.
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem if path.stem not in sys.modules else f"dockyard_handler_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import handler file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _predictor_classes(module: ModuleType) -> list[type]:
    return [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and value.__module__ == module.__name__
        and callable(getattr(value, "load", None))
        and callable(getattr(value, "predict", None))
    ]


def build_pipeline(settings: ServerSettings) -> Pipeline:
    """Choose and construct the pipeline for ``settings``; nothing is loaded yet (see ``Pipeline.load``)."""
    spec = settings.handler
    if spec is None and (settings.model_dir / "code" / "inference.py").is_file():
        spec = str(settings.model_dir / "code" / "inference.py")
    if spec is None:
        return FlavorPipeline(settings)
    module, attribute = _import_handler(spec, settings)
    if attribute is not None:
        cls = getattr(module, attribute, None)
        if not inspect.isclass(cls) or not callable(getattr(cls, "predict", None)):
            raise ModelLoadError(f"{spec}: {attribute} is not a class with load() and predict() methods")
        return ClassPipeline(settings, cls)
    classes = _predictor_classes(module)
    has_functions = any(callable(getattr(module, name, None)) for name in TOOLKIT_FUNCTIONS)
    if len(classes) == 1 and not has_functions:
        return ClassPipeline(settings, classes[0])
    if has_functions:
        return ToolkitPipeline(settings, module)
    if len(classes) > 1:
        names = ", ".join(sorted(cls.__name__ for cls in classes))
        raise ModelLoadError(f"{spec} has several predictor classes ({names}); choose one with {spec}:Name")
    raise ModelLoadError(
        f"{spec} defines neither a class with load() and predict() nor any of {', '.join(TOOLKIT_FUNCTIONS)}"
    )
