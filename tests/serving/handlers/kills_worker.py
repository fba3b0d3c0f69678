"""Kills its own worker process in the middle of a request (like a segfault or an OOM kill)."""

import os
import signal


def model_fn(model_dir):
    return None


def transform_fn(model, data, content_type, accept):
    if data == "exit":
        os._exit(7)
    if data == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    return "alive"
