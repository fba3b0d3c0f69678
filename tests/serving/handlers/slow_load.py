"""Takes a while to load, so /ping can be seen answering 503 first."""

import os
import time


def model_fn(model_dir):
    time.sleep(float(os.environ.get("SLOW_LOAD_SECONDS", "2")))
    return "loaded"


def transform_fn(model, data, content_type, accept):
    return model
