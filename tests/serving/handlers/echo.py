"""Toolkit-style handler that reports what reached it: body, types, and the request context."""

import json


def model_fn(model_dir):
    return {"model_dir": model_dir}


def transform_fn(model, data, content_type, accept, context):
    if context.custom_attributes:
        context.response_custom_attributes = "echo=" + context.custom_attributes
    seen = {
        "data": data if isinstance(data, str) else data.decode("latin-1"),
        "content_type": content_type,
        "accept": accept,
        "custom_attributes": context.custom_attributes,
        "inference_id": context.inference_id,
        "target_model": context.target_model,
        "unknown_header": context.headers.get("x-something-unknown"),
    }
    return json.dumps(seen), "application/json"
