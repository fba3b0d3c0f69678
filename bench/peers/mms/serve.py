"""Start the sagemaker-inference toolkit's model server (Multi Model Server) for the benchmark.

Run with the `mms` peer venv's Python, from a scratch directory, with:
  SAGEMAKER_BASE_DIR      a directory whose `model/` holds model.joblib
  SAGEMAKER_BIND_TO_PORT  the port (MMS refuses ports >= 32767)
  SAGEMAKER_MODEL_SERVER_WORKERS  workers per model (default_workers_per_model)
  TMPDIR, TEMP            a scratch directory (MMS keeps its pid file and sockets there)

It calls the toolkit's own `start_model_server`, with two changes made from outside so that a
benchmark leaves the machine as it found it: the generated properties file goes to the scratch
directory instead of /etc/sagemaker-mms.properties, and MMS binds 127.0.0.1 instead of 0.0.0.0.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from sagemaker_inference import model_server

HANDLER_SERVICE = "handler_service"


def _loopback_config(generate: Any) -> Any:
    def generate_on_loopback(env: Any, handler_service: str | None = None) -> str:
        text: str = generate(env, handler_service)
        return text.replace("http://0.0.0.0:", "http://127.0.0.1:")

    return generate_on_loopback


def main() -> None:
    here = Path(__file__).resolve().parent
    scratch = Path(os.environ["TMPDIR"])
    os.environ["PYTHONPATH"] = f"{here}:{os.environ.get('PYTHONPATH', '')}"
    sys.path.insert(0, str(here))
    model_server.MMS_CONFIG_FILE = str(scratch / "sagemaker-mms.properties")
    model_server._generate_mms_config_properties = _loopback_config(
        model_server._generate_mms_config_properties
    )
    model_server.start_model_server(handler_service=HANDLER_SERVICE)


if __name__ == "__main__":
    main()
