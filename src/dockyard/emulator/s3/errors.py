"""S3's errors: each carries its wire code and HTTP status; extra keyword fields become XML elements."""

from __future__ import annotations

from dockyard.emulator.aws.xml_values import MalformedInput, MalformedXML
from dockyard.emulator.errors import ServiceError

__all__ = ["MalformedInput", "MalformedXML"]


class S3Error(ServiceError):
    code = "InternalError"
    status = 500


class NoSuchBucket(S3Error):
    code = "NoSuchBucket"
    status = 404

    def __init__(self, bucket: str) -> None:
        super().__init__("The specified bucket does not exist", BucketName=bucket)


class NoSuchKey(S3Error):
    code = "NoSuchKey"
    status = 404

    def __init__(self, key: str) -> None:
        super().__init__("The specified key does not exist.", Key=key)


class NoSuchUpload(S3Error):
    code = "NoSuchUpload"
    status = 404

    def __init__(self, upload_id: str) -> None:
        super().__init__(
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have "
            "been aborted or completed.",
            UploadId=upload_id,
        )


class BucketAlreadyOwnedByYou(S3Error):
    code = "BucketAlreadyOwnedByYou"
    status = 409

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "Your previous request to create the named bucket succeeded and you already own it.",
            BucketName=bucket,
        )


class BucketNotEmpty(S3Error):
    code = "BucketNotEmpty"
    status = 409

    def __init__(self, bucket: str) -> None:
        super().__init__("The bucket you tried to delete is not empty", BucketName=bucket)


class InvalidBucketName(S3Error):
    code = "InvalidBucketName"
    status = 400

    def __init__(self, bucket: str, why: str) -> None:
        super().__init__(f"The specified bucket is not valid: {why}", BucketName=bucket)


class InvalidPart(S3Error):
    code = "InvalidPart"
    status = 400


class InvalidPartOrder(S3Error):
    code = "InvalidPartOrder"
    status = 400


class EntityTooSmall(S3Error):
    code = "EntityTooSmall"
    status = 400


class EntityTooLarge(S3Error):
    code = "EntityTooLarge"
    status = 400


class InvalidRange(S3Error):
    code = "InvalidRange"
    status = 416


class BadDigest(S3Error):
    code = "BadDigest"
    status = 400


class InvalidDigest(S3Error):
    code = "InvalidDigest"
    status = 400


class ContentSha256Mismatch(S3Error):
    code = "XAmzContentSHA256Mismatch"
    status = 400


class IncompleteBody(S3Error):
    code = "IncompleteBody"
    status = 400


class MaxMessageLengthExceeded(S3Error):
    code = "MaxMessageLengthExceeded"
    status = 400


class KeyTooLongError(S3Error):
    code = "KeyTooLongError"
    status = 400


class MetadataTooLarge(S3Error):
    code = "MetadataTooLarge"
    status = 400


class InvalidRequest(S3Error):
    code = "InvalidRequest"
    status = 400


class InvalidArgument(S3Error):
    code = "InvalidArgument"
    status = 400


class InvalidTag(S3Error):
    code = "InvalidTag"
    status = 400


class NoSuchTagSet(S3Error):
    code = "NoSuchTagSet"
    status = 404

    def __init__(self, bucket: str) -> None:
        super().__init__("The TagSet does not exist", BucketName=bucket)


class NoSuchPublicAccessBlockConfiguration(S3Error):
    code = "NoSuchPublicAccessBlockConfiguration"
    status = 404

    def __init__(self, bucket: str) -> None:
        super().__init__("The public access block configuration was not found", BucketName=bucket)


class NotImplementedOperation(S3Error):
    """An S3 operation the local target does not serve: named, so the user knows what is missing."""

    code = "NotImplemented"
    status = 501


class MethodNotAllowed(S3Error):
    code = "MethodNotAllowed"
    status = 405


class InternalError(S3Error):
    code = "InternalError"
    status = 500
