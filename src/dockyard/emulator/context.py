"""Who is asking (the account and region a request is for, and its id), and what a resource is keyed by."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class ResourceKey:
    """A resource of one account in one region: SageMaker names are unique only within both, so every
    table of the emulator (store, fleets, routes, container labels, log directories) keys on all three."""

    account: str
    region: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.account}, {self.region})"


@dataclass(frozen=True)
class Caller:
    """Who is asking, per request: the account and region (from the request's signature) and its id."""

    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    request_id: str = ""
    # The SigV4 access key the request was signed with ("" when unsigned): STS answers who it is.
    access_key: str = ""

    def key(self, name: str) -> ResourceKey:
        return ResourceKey(self.account, self.region, name)

    def arn(self, resource_type: str, name: str) -> str:
        """``arn:aws:sagemaker:<region>:<account>:<type>/<name>``; SageMaker lower-cases the name."""
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{resource_type}/{name.lower()}"
