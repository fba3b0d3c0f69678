"""Where a model's two artifacts go: ``model.tar.gz`` to S3 and the image under its ECR URI.

The same on both targets (the emulator serves S3 and ECR on its own port). Both are addressed by
content, so that their references are known before anything is uploaded (a dry run prints the real
ones) and a second upload of the same content is skipped:
- model data: ``s3://<bucket>/dockyard/<project>/<sha256[:16]>/model.tar.gz`` in the bucket given or
  ``dockyard-<account>-<region>``, created (public access blocked, as AWS recommends) when missing.
- image: ``<account>.dkr.ecr.<region>.amazonaws.com/<project>:<image id[:12]>``; aws, pushed to ECR;
  local, tagged on the engine the emulator runs containers on (and pushed to ``--registry`` if given).
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.archive import PackResult
from dockyard.errors import ContainerError, DockyardError, UsageError
from dockyard.lifecycle.calls import Aws, AwsError


@dataclass(frozen=True)
class ImageRef:
    local: str  # the local image as given (tag or id)
    id: str  # sha256:...
    reference: str  # what CreateModel's Image names: <ECR repository URI>:<tag>

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]

    @property
    def repository(self) -> str:
        """The ECR repository's name (``<project>``)."""
        return self.reference.split("/", 1)[1].rsplit(":", 1)[0]


def default_bucket(aws: Aws) -> str:
    return f"dockyard-{aws.account()}-{aws.target.region}"


# --- model data -----------------------------------------------------------------------------------


def model_data_url(aws: Aws, archive: PackResult, project: str, bucket: str | None) -> str:
    return f"s3://{bucket or default_bucket(aws)}/dockyard/{project}/{archive.sha256[:16]}/model.tar.gz"


def store_model_data(aws: Aws, archive: PackResult, url: str) -> None:
    """Put ``archive`` at ``url`` (from :func:`model_data_url`) unless it is there already."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    _ensure_bucket(aws, bucket)
    if aws.find("s3", "head_object", Bucket=bucket, Key=key) is None:
        aws.upload(archive.path, bucket, key, content_type="application/gzip")


def _ensure_bucket(aws: Aws, bucket: str) -> None:
    try:
        found = aws.find("s3", "head_bucket", Bucket=bucket)
    except AwsError as exc:
        if exc.status == 403:
            raise DockyardError(
                f"the S3 bucket {bucket} exists but these credentials cannot use it (another account's, or "
                "s3:ListBucket is not granted); pass another one with --bucket"
            ) from None
        raise
    if found is not None:
        return
    region = aws.target.region
    # us-east-1 is S3's default location and is refused as an explicit LocationConstraint.
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    aws.call("s3", "create_bucket", Bucket=bucket, **location)
    aws.call(
        "s3",
        "put_public_access_block",
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


# --- image ----------------------------------------------------------------------------------------


def local_image_id(image: str) -> str:
    from dockyard.containers.engine import connect, docker_errors

    client = connect()
    try:
        with docker_errors(f"looking up the image {image}"):
            return str(client.images.get(image).id)
    except ContainerError:  # how docker_errors reports a missing image
        raise UsageError(
            f"there is no local image {image!r}; build it first (`dockyard build`) or check the name "
            "with `docker images`"
        ) from None
    finally:
        client.close()


def image_ref(aws: Aws, image: str, repository: str) -> ImageRef:
    """Where ``image`` will be: the reference is known before anything is pushed."""
    from dockyard.registry.ecr import repository_uri

    image_id = local_image_id(image)
    tag = image_id.removeprefix("sha256:")[:12]
    return ImageRef(image, image_id, f"{repository_uri(aws.account(), aws.target.region, repository)}:{tag}")


def publish_image(aws: Aws, ref: ImageRef, registry: str | None) -> None:
    """Make ``ref.reference`` exist: the ECR repository, then a push (aws) or an engine tag (local)."""
    from dockyard.registry.push import push_to_ecr

    push_to_ecr(
        ref.local,
        aws,
        repository=f"{ref.repository}:{ref.short_id}",
        registry_override=registry,
        on_progress=aws.on_push,
    )
