"""The console's forms as SageMaker requests, and SageMaker's answers as messages next to the fields.

A form only gathers what the user typed into the request's members (blank fields left out, as the
SageMaker console does); every rule is the API's own: the request goes through the same validation and
provider, and each failure in its ValidationException is shown at the field its path names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.emulator.console.control import field_errors
from dockyard.emulator.console.http import Request
from dockyard.emulator.errors import ServiceError

# The first part of a validation path -> the form field that shows it.
MODEL_FIELDS = {
    "modelName": "name",
    "executionRoleArn": "role",
    "primaryContainer.image": "image",
    "primaryContainer.modelDataUrl": "model_data",
    "primaryContainer.environment": "environment",
    "primaryContainer": "image",
    "tags": "tags",
}
CONFIG_FIELDS = {
    "endpointConfigName": "name",
    "productionVariants": "variants",
    "tags": "tags",
}
ENDPOINT_FIELDS = {
    "endpointName": "name",
    "endpointConfigName": "config",
    "tags": "tags",
}
WEIGHT_FIELDS = {"desiredWeightsAndCapacities": "variants"}


@dataclass
class FormErrors:
    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    code: str = ""

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    @classmethod
    def of(cls, error: ServiceError, mapping: dict[str, str]) -> FormErrors:
        errors = cls(code=error.code)
        for path, message in field_errors(error.message):
            target = _field_for(path, mapping)
            if target is None:
                errors.general.append(message)
            else:
                errors.fields.setdefault(target, []).append(message)
        return errors


def _field_for(path: str, mapping: dict[str, str]) -> str | None:
    best = ""
    for prefix in mapping:
        if (path == prefix or path.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    return mapping[best] if best else None


def pairs(request: Request, key_field: str, value_field: str) -> list[tuple[str, str]]:
    """Key/value rows of a form (environment, tags); rows with both blank are dropped."""
    keys, values = request.fields(key_field), request.fields(value_field)
    return [(k, v) for k, v in zip(keys, values, strict=False) if k or v]


def tags_param(request: Request) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in pairs(request, "tag_key", "tag_value")]


def model_params(request: Request) -> dict[str, Any]:
    container: dict[str, Any] = {}
    if image := request.field("image").strip():
        container["Image"] = image
    if data := request.field("model_data").strip():
        container["ModelDataUrl"] = data
    environment = dict(pairs(request, "env_key", "env_value"))
    if environment:
        container["Environment"] = environment
    params: dict[str, Any] = {"ModelName": request.field("name").strip(), "PrimaryContainer": container}
    if role := request.field("role").strip():
        params["ExecutionRoleArn"] = role
    if tags := tags_param(request):
        params["Tags"] = tags
    return params


def config_params(request: Request) -> dict[str, Any]:
    variants = []
    rows = zip(
        request.fields("variant_name"),
        request.fields("variant_model"),
        request.fields("variant_instance_type"),
        request.fields("variant_count"),
        request.fields("variant_weight"),
        strict=False,
    )
    for name, model, instance_type, count, weight in rows:
        if not (name or model):
            continue
        variant: dict[str, Any] = {"VariantName": name.strip(), "ModelName": model.strip()}
        if instance_type:
            variant["InstanceType"] = instance_type
        variant["InitialInstanceCount"] = _number(count, int)
        variant["InitialVariantWeight"] = _number(weight, float)
        variants.append({k: v for k, v in variant.items() if v is not None})
    params: dict[str, Any] = {
        "EndpointConfigName": request.field("name").strip(),
        "ProductionVariants": variants,
    }
    if tags := tags_param(request):
        params["Tags"] = tags
    return params


def endpoint_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {
        "EndpointName": request.field("name").strip(),
        "EndpointConfigName": request.field("config").strip(),
    }
    if tags := tags_param(request):
        params["Tags"] = tags
    return params


def weights_params(request: Request, endpoint: str) -> dict[str, Any]:
    desired = []
    for name, weight, count in zip(
        request.fields("variant_name"), request.fields("weight"), request.fields("count"), strict=False
    ):
        item: dict[str, Any] = {"VariantName": name}
        if (value := _number(weight, float)) is not None:
            item["DesiredWeight"] = value
        if (amount := _number(count, int)) is not None:
            item["DesiredInstanceCount"] = amount
        desired.append(item)
    return {"EndpointName": endpoint, "DesiredWeightsAndCapacities": desired}


def _number(text: str, kind: type[int] | type[float]) -> int | float | None:
    """A number field (the browser's number input); blank or not a number: left out, and the API then
    says the member is required or missing."""
    text = text.strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        return None
