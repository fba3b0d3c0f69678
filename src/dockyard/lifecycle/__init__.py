"""The client side of the deploy lifecycle: register, deploy, invoke, list/describe/delete, logs.

One code path for both targets: ``local`` (dockyard's emulator) and ``aws`` (SageMaker) differ only in
the endpoint URL, the credentials, where model data is stored and where images are pushed
(:mod:`dockyard.lifecycle.target`). Every AWS API call goes through :class:`dockyard.lifecycle.calls.Aws`,
which records it, holds it back in a dry run when it would change something, and is the one place
where botocore's exceptions become dockyard errors.
"""
