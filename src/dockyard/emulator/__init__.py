"""The local SageMaker: a server that speaks the SageMaker API and the SageMaker runtime API on one port,
and runs the endpoints it is asked for as containers on the local Docker engine.

- ``aws/``: the wire protocols, derived from botocore's service models (parse, validate, serialize).
- ``sagemaker/``: the control plane (operations, SQLite store) and the reconciler that runs fleets.
- ``runtime/``: InvokeEndpoint: routing to a healthy instance of the right variant, and relaying.
"""
