"""Toolkit-style handler for multi-model serving: each model directory names itself in name.txt."""

import json
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "name.txt")) as file:
        return file.read().strip()


def transform_fn(model, data, content_type, accept, context):
    body = data if isinstance(data, str) else data.decode("latin-1")
    return json.dumps({"model": model, "data": body, "pid": os.getpid()}), "application/json"
