"""The client side of the deploy lifecycle: register, deploy, invoke, list/describe/delete, logs.

One code path for both targets: ``local`` (dockyard's emulator, which also serves S3, ECR, STS and
CloudWatch Logs) and ``aws`` (SageMaker) differ only in the endpoint URL and the credentials
(:mod:`dockyard.lifecycle.target`); model data goes to S3 and images under ECR URIs on both. Every AWS
API call goes through :class:`dockyard.lifecycle.calls.Aws`, which records it, holds it back in a dry
run when it would change something, and is the one place where botocore's exceptions become dockyard
errors.
"""
