"""The local SageMaker: a server that speaks the SageMaker API and the SageMaker runtime API on one port,
and runs the endpoints it is asked for as containers on the local Docker engine.

- ``aws/``: the wire protocols, derived from botocore's service models (parse, validate, serialize).
- ``sagemaker/``: the control plane (operations, SQLite store) and the reconciler that runs fleets.
- ``runtime/``: InvokeEndpoint: routing to a healthy instance of the right variant, and relaying.
- ``context.py`` (who asks; :class:`ResourceKey`, the (account, region, name) every table keys on) and
  ``routing.py`` (the routing table): what ``sagemaker/`` and ``runtime/`` share. Neither of the two
  imports the other; ``components.Components`` builds the parts and hands each what it uses, so data
  flows one way::

      control ---> SageMakerProvider --deploy/remove/view--> Reconciler --reports--> FleetReports
                     |   ^                                     |                         |
                     v   | endpoint_status                     | sets routes             v
                   Store |                                     v                       Store
      runtime ---> Runtime ----------- reads --------------> Router
                     '--- report_unreachable (a callable) ---> Reconciler
"""
