#!/usr/bin/env bash
# Prepare the serving benchmark's peers (idempotent):
#   - Debian's wrk, nginx and docker-compose, installed only when missing;
#   - one virtual environment per peer under bench/.peers/, with the versions the benchmark was
#     verified with; a venv is rebuilt only when its pinned requirement list changes.
# dockyard itself runs from the project's .venv (scripts/venv.sh).
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3

# The model is saved by one scikit-learn and loaded by all: keep these equal to the project's .venv.
common="scikit-learn==1.9.1 joblib==1.6.0 numpy==2.4.6 scipy==1.17.1"
# The XGBoost and ONNX rows: the same libraries as the project's .venv, so every server loads the same files.
models="xgboost==3.2.0 onnxruntime==1.32.0"
declare -A peers=(
    [mlflow]="mlflow==3.17.2 mlflow-skinny==3.17.2 fastapi==0.165.0 uvicorn==0.54.0 onnx==1.23.2 $models $common"
    [mms]="sagemaker-inference==1.10.1 multi-model-server==1.1.11 $models $common"
    [byoc]="flask==3.1.3 gunicorn==27.0.1 $models $common"
    [asgi]="uvicorn==0.54.0 uvloop==0.23.0 httptools==0.9.0"
    # The deploy benchmark's peer: the SageMaker Python SDK's local mode, on the v2 line (sagemaker<3).
    [sagemaker-sdk]="sagemaker==2.257.7"
)

install_debian_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
    command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
    # The SDK's local mode drives its containers through docker-compose (v1 is Debian's).
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing from Debian: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

make_peer() {
    local name=$1 requirements=$2
    local venv=.peers/$name stamp=.peers/$name/.bench-installed
    if [ "$(cat "$stamp" 2>/dev/null)" = "$requirements" ]; then
        echo "peer $name: up to date"
        return
    fi
    echo "peer $name: installing $requirements"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # shellcheck disable=SC2086  # the requirement list is meant to split into words
    timeout 1200 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $requirements
    echo "$requirements" >"$stamp"
}

install_debian_tools
mkdir -p .peers results
for name in "${!peers[@]}"; do
    make_peer "$name" "${peers[$name]}"
done
echo "peers ready under bench/.peers/; run: .venv/bin/python bench/serving.py (or bench/emulator_deploy.py)"
