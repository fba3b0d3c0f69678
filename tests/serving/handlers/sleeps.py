"""Sleeps for the number of seconds in the body.

'block N' blocks SIGALRM first, like C code that never returns to the interpreter.
"""

import signal
import time


def model_fn(model_dir):
    return None


def transform_fn(model, data, content_type, accept):
    if data.startswith("block"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(float(data.split()[1]))
    else:
        time.sleep(float(data))
    return "done"
