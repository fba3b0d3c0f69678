"""What AWS's answers mean, shared by the two places that translate botocore's errors into dockyard's:
ECR pushes (registry/ecr.py) and the deploy lifecycle (lifecycle/calls.py)."""

from __future__ import annotations

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
NO_REGION = (
    "no AWS region is configured; pass --region (e.g. --region us-east-1), set AWS_REGION, "
    "or set `region` in ~/.aws/config"
)
