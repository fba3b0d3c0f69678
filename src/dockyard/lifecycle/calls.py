"""Every AWS API call of the deploy commands, made (or, in a dry run, held back) and recorded here.

This is the one boundary where botocore's exceptions become dockyard errors: one line naming the
service and the operation, e.g. "SageMaker refused CreateEndpoint: ValidationException: Could not find
model ...". In a dry run, calls that change something are validated by botocore and recorded, not
sent; calls that only read are sent, since the plan depends on what exists.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.exceptions as boto_errors
from botocore.validate import validate_parameters

from dockyard.errors import DockyardError, UsageError
from dockyard.lifecycle.target import CREDENTIALS_HINT, NO_REGION, Target

# Error codes that mean "these credentials are not valid", whichever service answers.
REJECTED_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "AuthFailure",
    }
)
# Error codes that mean "valid credentials, but not allowed to do this".
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
SERVICE_NAMES = {
    "sagemaker": "SageMaker",
    "sagemaker-runtime": "SageMaker Runtime",
    "s3": "S3",
    "ecr": "ECR",
    "sts": "STS",
    "logs": "CloudWatch Logs",
}
# Operations that change nothing (an invocation changes no resource); the rest are held back in a dry run.
_READ_ONLY = re.compile(r"^(describe|list|get|head|filter|invoke)_")
_NOT_FOUND = re.compile(r"Could not find|does not exist|not found|NoSuchKey|Not Found", re.IGNORECASE)
_XML_CODE = re.compile(r"<Code>([^<]+)</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")


class AwsError(DockyardError):
    """An AWS (or emulator) API call failed; ``code`` is the service's error code."""

    def __init__(self, message: str, code: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Call:
    service: str  # boto3's name: sagemaker, s3, ...
    method: str  # boto3's method: create_model
    operation: str  # the API's name: CreateModel
    params: dict[str, Any]
    sent: bool  # False: held back by a dry run

    @property
    def mutating(self) -> bool:
        return not _READ_ONLY.match(self.method)

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "params": self.params,
            "sent": self.sent,
        }

    def python(self) -> str:
        """The call as boto3 code: ``sagemaker.create_model(ModelName='iris-1a2b', ...)``."""
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{self.service.replace('-', '_')}.{self.method}({arguments})"


@dataclass
class Aws:
    """A target's boto3 clients behind one ``call`` method."""

    target: Target
    dry_run: bool = False
    calls: list[Call] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a dry run would do besides API calls
    # Progress of the long transfers: image push events (build.push.LayerProgress) and model upload
    # (bytes sent, total).
    on_push: Callable[[Any], None] | None = None
    on_upload: Callable[[int, int], None] | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _account: str | None = field(default=None, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            with aws_errors(service, "(creating its client)"):
                self._clients[service] = self.target.client(service)
        return self._clients[service]

    def call(self, service: str, method: str, /, **params: Any) -> Any:
        """``client.<method>(**params)``, recorded; held back in a dry run when it changes something."""
        return self.call_recorded(service, method, params, **params)

    def call_recorded(self, service: str, method: str, record: dict[str, Any], /, **params: Any) -> Any:
        """:meth:`call`, recording ``record`` instead of the params (e.g. a Body's size, not its bytes)."""
        client = self.client(service)
        operation = client.meta.method_to_api_mapping[method]
        recorded = Call(service, method, operation, record, sent=True)
        if self.dry_run and recorded.mutating:
            model = client.meta.service_model.operation_model(operation)
            with aws_errors(service, operation):
                validate_parameters(params, model.input_shape)
            self.calls.append(Call(service, method, operation, record, sent=False))
            return {}
        self.calls.append(recorded)
        with aws_errors(service, operation, self.target):
            return getattr(client, method)(**params)

    def pages(self, service: str, method: str, /, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a listing, through boto3's paginator (recorded once, as its first call)."""
        client = self.client(service)
        operation = client.meta.method_to_api_mapping[method]
        self.calls.append(Call(service, method, operation, params, sent=True))
        with aws_errors(service, operation, self.target):
            yield from client.get_paginator(method).paginate(**params)

    def wait(self, service: str, waiter: str, /, *, delay: float, timeout: float, **params: Any) -> None:
        """boto3's waiter ``waiter``, polling every ``delay`` seconds for at most ``timeout``.

        A waiter that gives up (its failure state, or too many attempts) raises :class:`WaitError`."""
        client = self.client(service)
        handle = client.get_waiter(waiter)
        operation = handle.config.operation
        self.calls.append(Call(service, f"get_waiter({waiter!r}).wait", operation, params, sent=True))
        attempts = max(1, int(timeout / delay) + 1)
        config = {"Delay": delay, "MaxAttempts": attempts}
        with aws_errors(service, operation, self.target):
            try:
                handle.wait(**params, WaiterConfig=config)
            except boto_errors.WaiterError as exc:  # a BotoCoreError: translated here, not by aws_errors
                reason = str(exc.kwargs.get("reason", exc))
                raise WaitError(
                    reason, dict(exc.last_response or {}), "Max attempts exceeded" in reason
                ) from None

    def upload(self, path: Path, bucket: str, key: str, *, content_type: str) -> None:
        """Upload the file at ``path`` with boto3's managed transfer (multipart above its threshold,
        so beyond a single PUT's 5 GB), reporting progress to ``on_upload``."""
        size = path.stat().st_size
        record = {"Bucket": bucket, "Key": key, "Fileobj": f"<{size} bytes of {path.name}>"}
        if self.dry_run:
            self.calls.append(Call("s3", "upload_fileobj", "PutObject", record, sent=False))
            return
        self.calls.append(Call("s3", "upload_fileobj", "PutObject", record, sent=True))
        client = self.client("s3")
        with aws_errors("s3", "PutObject", self.target), path.open("rb") as file:
            client.upload_fileobj(
                file,
                bucket,
                key,
                ExtraArgs={"ContentType": content_type},
                Callback=None if self.on_upload is None else _Progress(size, self.on_upload),
            )

    def account(self) -> str:
        """The caller's AWS account (sts:GetCallerIdentity, asked once)."""
        if self._account is None:
            self._account = str(self.call("sts", "get_caller_identity")["Account"])
        return self._account

    def find(self, service: str, method: str, /, **params: Any) -> Any | None:
        """A describe call's answer, or None when the resource does not exist."""
        try:
            return self.call(service, method, **params)
        except AwsError as exc:
            if is_not_found(exc):
                return None
            raise

    @property
    def mutations(self) -> list[Call]:
        return [call for call in self.calls if call.mutating]


class WaitError(DockyardError):
    """A boto3 waiter stopped without reaching its success state."""

    def __init__(self, reason: str, last_response: dict[str, Any] | None, timed_out: bool) -> None:
        super().__init__(reason)
        self.last_response = last_response or {}
        self.timed_out = timed_out


class _Progress:
    """boto3's transfer callback (bytes since the last call, from the transfer's threads) as
    ``report(sent, total)``."""

    def __init__(self, total: int, report: Callable[[int, int], None]) -> None:
        self.total, self.report, self.sent = total, report, 0
        self._lock = threading.Lock()

    def __call__(self, amount: int) -> None:
        with self._lock:
            self.sent = min(self.sent + amount, self.total)
            self.report(self.sent, self.total)


def is_not_found(error: AwsError) -> bool:
    # SageMaker answers ValidationException for a missing resource, S3 a bare 404 on HEAD.
    return error.status == 404 or (
        error.code
        in (
            "ValidationException",
            "ResourceNotFound",
            "NoSuchKey",
            "NoSuchBucket",
            "RepositoryNotFoundException",
            "404",
        )
        and bool(_NOT_FOUND.search(error.message))
    )


@contextmanager
def aws_errors(service: str, operation: str, target: Target | None = None) -> Iterator[None]:
    """Translate botocore's exceptions raised while calling ``service``'s ``operation``."""
    name = SERVICE_NAMES.get(service, service)
    try:
        yield
    except boto_errors.ClientError as exc:
        raise _client_error(name, service, operation, exc) from None
    except boto_errors.ParamValidationError as exc:
        report = str(exc.kwargs.get("report", exc)).strip().replace("\n", "; ")
        raise UsageError(f"{operation} would be refused: {report}") from None
    except (boto_errors.NoCredentialsError, boto_errors.PartialCredentialsError):
        raise UsageError(
            f"calling {name} {operation}: no AWS credentials were found; {CREDENTIALS_HINT}"
        ) from None
    except (
        boto_errors.SSOError,
        boto_errors.TokenRetrievalError,
        boto_errors.CredentialRetrievalError,
    ) as exc:
        raise UsageError(
            f"calling {name} {operation}: the AWS credentials could not be loaded ({exc})"
        ) from None
    except boto_errors.NoRegionError:
        raise UsageError(NO_REGION) from None
    except boto_errors.InvalidRegionError as exc:
        raise UsageError(
            f"{exc.kwargs.get('region_name')!r} is not an AWS region name; e.g. --region us-east-1"
        ) from None
    except boto_errors.ConnectionError as exc:
        endpoint = exc.kwargs.get("endpoint_url", "AWS")
        hint = (
            "is the emulator running? `dockyard emulator status` tells"
            if target is not None and target.is_local
            else "check the network and --region"
        )
        raise AwsError(f"cannot reach {name} at {endpoint} to call {operation}; {hint}") from None
    except boto_errors.BotoCoreError as exc:
        raise AwsError(f"calling {name} {operation} failed: {exc}") from None


def _client_error(name: str, service: str, operation: str, exc: boto_errors.ClientError) -> AwsError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")).strip()
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if message.startswith("<"):
        # An XML error document where botocore expected JSON (a proxy, or an emulator's IAM layer):
        # its own code and message are still the best explanation; else only the HTTP status is.
        inner_code, inner_message = _XML_CODE.search(message), _XML_MESSAGE.search(message)
        code = inner_code.group(1) if inner_code else code
        message = html.unescape(inner_message.group(1)) if inner_message else f"HTTP {status}"
    if code in REJECTED_CODES:
        return AwsError(
            f"{name} rejected the credentials for {operation} ({code}: {message}); {CREDENTIALS_HINT}",
            code,
            status,
        )
    if code in DENIED_CODES or (status == 403 and not message):
        iam_prefix = "sagemaker" if service.startswith("sagemaker") else service
        return AwsError(
            f"{name} refused {operation}: access denied; the credentials in use lack the IAM permission "
            f"{iam_prefix}:{operation}" + (f" ({message})" if message else ""),
            code,
            status,
        )
    text = (
        f"{name} refused {operation}: {code}: {message}" if message else f"{name} refused {operation}: {code}"
    )
    return AwsError(text, code, status)
