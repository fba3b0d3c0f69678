"""Who is asking: the account and region a request is for, and its id."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class RequestContext:
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    request_id: str = ""
    # The SigV4 access key the request was signed with ("" when unsigned): STS answers who it is.
    access_key: str = ""

    def arn(self, resource_type: str, name: str) -> str:
        """``arn:aws:sagemaker:<region>:<account>:<type>/<name>``; SageMaker lower-cases the name."""
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{resource_type}/{name.lower()}"
