"""Sleeps for the number of seconds in the body.

'block N' blocks SIGALRM first, like C code that never returns to the interpreter; 'spin N' keeps the
CPU busy in Python for N seconds instead of sleeping.
"""

import signal
import time


def model_fn(model_dir):
    return None


def transform_fn(model, data, content_type, accept):
    if data.startswith("block"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(float(data.split()[1]))
    elif data.startswith("spin"):
        until = time.monotonic() + float(data.split()[1])
        while time.monotonic() < until:
            sum(range(1000))
    else:
        time.sleep(float(data))
    return "done"
