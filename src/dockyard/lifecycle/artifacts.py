"""Where a model's two artifacts go for a target: ``model.tar.gz`` and the image.

Both are addressed by content, so that their references are known before anything is uploaded (a dry
run prints the real ones) and a second upload of the same content is skipped:
- model data: local, ``<state_dir>/model-data/<project>/<sha256[:16]>/model.tar.gz`` as a ``file://``
  URL (the emulator's documented deviation); aws, ``s3://<bucket>/dockyard/<project>/<sha256[:16]>/
  model.tar.gz`` in the bucket given or ``dockyard-<account>-<region>``, created when missing.
- image: tagged ``<repository>:<image id[:12]>``; local, the tag on the same engine the emulator runs
  containers on (or pushed to ``--registry``); aws, pushed to ECR.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dockyard.archive import PackResult
from dockyard.errors import ContainerError, DockyardError, UsageError
from dockyard.lifecycle.calls import Aws, AwsError

MODEL_DATA_DIR = "model-data"


@dataclass(frozen=True)
class ModelData:
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ImageRef:
    local: str  # the local image as given (tag or id)
    id: str  # sha256:...
    reference: str  # what CreateModel's Image names

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]


def default_bucket(aws: Aws) -> str:
    return f"dockyard-{aws.account()}-{aws.target.region}"


# --- model data -----------------------------------------------------------------------------------


def model_data_url(aws: Aws, archive: PackResult, project: str, bucket: str | None) -> str:
    digest = archive.sha256[:16]
    if aws.target.is_local:
        return _local_path(aws, project, digest).as_uri()
    return f"s3://{bucket or default_bucket(aws)}/{_key(project, digest)}"


def store_model_data(aws: Aws, archive: PackResult, url: str) -> ModelData:
    """Put ``archive`` at ``url`` (from :func:`model_data_url`) unless it is there already."""
    if url.startswith("file://"):
        destination = Path(url.removeprefix("file://"))
        if aws.dry_run:
            aws.notes.append(f"copy {archive.path.name} ({archive.size} bytes) to {destination}")
        elif not destination.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            partial = destination.with_name(f".{destination.name}.{os.getpid()}")
            shutil.copyfile(archive.path, partial)
            partial.replace(destination)
        return ModelData(url, archive.sha256, archive.size)
    bucket, _, key = url.removeprefix("s3://").partition("/")
    _ensure_bucket(aws, bucket)
    if aws.find("s3", "head_object", Bucket=bucket, Key=key) is None:
        with archive.path.open("rb") as raw:
            body = raw if aws.on_upload is None else _Counted(raw, archive.size, aws.on_upload)
            record = {"Bucket": bucket, "Key": key, "Body": f"<{archive.size} bytes of model.tar.gz>"}
            aws.call_recorded(
                "s3", "put_object", record, Bucket=bucket, Key=key, Body=body, ContentType="application/gzip"
            )
    return ModelData(url, archive.sha256, archive.size)


class _Counted:
    """A file being uploaded that reports how much of it has been read (botocore may read it twice:
    a checksum, then the upload; a seek back to the start restarts the count)."""

    def __init__(self, raw: BinaryIO, total: int, report: Callable[[int, int], None]) -> None:
        self.raw, self.total, self.report, self.sent = raw, total, report, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.sent = min(self.sent + len(chunk), self.total)
        self.report(self.sent, self.total)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self.raw.seek(offset, whence)
        self.sent = position
        return position

    def tell(self) -> int:
        return self.raw.tell()


def _local_path(aws: Aws, project: str, digest: str) -> Path:
    state_dir = aws.target.state_dir
    if state_dir is None:
        from dockyard.emulator.settings import default_state_dir

        state_dir = default_state_dir()
    return state_dir / MODEL_DATA_DIR / project / digest / "model.tar.gz"


def _key(project: str, digest: str) -> str:
    return f"dockyard/{project}/{digest}/model.tar.gz"


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


def image_ref(aws: Aws, image: str, repository: str, registry: str | None) -> ImageRef:
    """Where ``image`` will be for the target: the reference is known before anything is pushed."""
    image_id = local_image_id(image)
    tag = image_id.removeprefix("sha256:")[:12]
    if aws.target.is_local:
        where = f"{registry}/{repository}" if registry else repository
    else:
        where = f"{aws.account()}.dkr.ecr.{aws.target.region}.amazonaws.com/{repository}"
    return ImageRef(image, image_id, f"{where}:{tag}")


def publish_image(aws: Aws, ref: ImageRef, registry: str | None) -> None:
    """Make ``ref.reference`` exist: a local tag, a push to ``registry``, or a push to ECR."""
    if aws.dry_run:
        aws.notes.append(
            f"{'tag' if aws.target.is_local and not registry else 'push'} {ref.local} as {ref.reference}"
        )
        return
    if aws.target.is_local and registry is None:
        from dockyard.containers.engine import connect, docker_errors
        from dockyard.image.builder import split_tag

        repository, tag = split_tag(ref.reference)
        client = connect()
        try:
            with docker_errors(f"tagging {ref.local} as {ref.reference}"):
                client.api.tag(ref.id, repository, tag)
        finally:
            client.close()
        return
    from dockyard.registry.push import push_image, push_to_ecr

    if aws.target.is_local:
        push_image(ref.id, ref.reference, on_progress=aws.on_push)
        return
    repository = ref.reference.split("/", 1)[1]
    with _profile(aws.target.profile):
        push_to_ecr(
            ref.id,
            region=aws.target.region,
            repository=repository,
            endpoint_url=aws.target.endpoint_url,
            on_progress=aws.on_push,
        )


@contextmanager
def _profile(profile: str | None) -> Iterator[None]:
    # registry/ecr.py makes its own boto3 session, which finds the profile through AWS_PROFILE.
    if profile is None:
        yield
        return
    before = os.environ.get("AWS_PROFILE")
    os.environ["AWS_PROFILE"] = profile
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("AWS_PROFILE", None)
        else:
            os.environ["AWS_PROFILE"] = before
