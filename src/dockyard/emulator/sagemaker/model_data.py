"""Model data for the fleet: fetched once, unpacked once per content digest, mounted read-only.

A model's data is ``ModelDataUrl`` (one ``model.tar.gz``) or ``ModelDataSource.S3DataSource`` (an
uncompressed prefix, or one archive). ``s3://`` is read from the emulator's own S3, straight from the
state directory, or, when an S3 endpoint is configured (``DOCKYARD_S3_ENDPOINT_URL``), with boto3 there;
``file://`` is read from this machine (a documented deviation of the local target, as SageMaker's own
local mode allows). Archives are unpacked with :func:`dockyard.archive.unpack` (which refuses
unsafe archives) into ``<state>/models/<sha256>/``: the same bytes are unpacked once, whatever their URL,
and the directory survives emulator restarts so that adopted containers keep their mount. Directories no
container mounts any more are removed by :mod:`collector`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from dockyard.archive import unpack
from dockyard.emulator.s3.errors import S3Error
from dockyard.emulator.s3.local_objects import LocalObjects
from dockyard.emulator.sagemaker.deployment import ContainerSpec
from dockyard.emulator.security.paths import PathNotAllowed, checked_host_path, copy_checked_tree
from dockyard.emulator.target_models import MissingTargetModel
from dockyard.errors import DockyardError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CONTAINER_NAME = "container_1"  # how SageMaker names a model's first container in its messages
_CHUNK = 1 << 20


class ModelDataError(Exception):
    """The model data could not be fetched or unpacked; ``reason`` is SageMaker's FailureReason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def download_failed(url: str, detail: str) -> ModelDataError:
    return ModelDataError(
        f'Failed to download model data for container "{CONTAINER_NAME}" from URL: "{url}". '
        "Please ensure that there is an object located at the URL and that the role passed to "
        f"CreateModel has permissions to download the object. ({detail})"
    )


def extract_failed(url: str, detail: str) -> ModelDataError:
    return ModelDataError(
        f'Failed to extract model data archive for container "{CONTAINER_NAME}" from URL "{url}". '
        f"Please ensure that the object located at the URL is a valid tar.gz archive. ({detail})"
    )


class ModelDataCache:
    """Turns a :class:`ContainerSpec`'s model data into a local directory (thread-safe)."""

    def __init__(
        self, state_dir: Path, s3_endpoint_url: str | None = None, roots: tuple[Path, ...] = ()
    ) -> None:
        self.state_dir = state_dir
        self.models = state_dir / "models"
        self.roots = (state_dir, *roots)  # where file:// model data may be read from
        self.downloads = state_dir / "downloads"
        self.s3_endpoint_url = s3_endpoint_url
        self.lock = threading.Lock()  # one unpack into (or removal from) models/ at a time
        self._used: dict[str, float] = {}  # model directory -> when prepare() last returned it
        self._local_lock = threading.Lock()
        self._local: LocalObjects | None = None

    def used_since(self, directory: Path) -> float | None:
        """When ``prepare`` last handed out ``directory`` (monotonic seconds); hold ``lock``."""
        return self._used.get(directory.name)

    def _hand_out(self, target: Path) -> Path:
        self._used[target.name] = time.monotonic()
        return target

    def prepare(self, container: ContainerSpec, region: str) -> Path | None:
        """The unpacked model directory for ``container``; None when it has no model data (or when its
        models are fetched one by one as they are invoked: multi-model)."""
        if container.multi_model:
            return None
        if container.model_data_url:
            return self._archive(container.model_data_url, region)
        if container.model_data_prefix:
            if container.model_data_compressed:
                return self._archive(container.model_data_prefix, region)
            return self._prefix(container.model_data_prefix, region)
        return None

    def target_model(self, prefix: str, target: str, region: str) -> Path:
        """The unpacked directory of a multi-model endpoint's ``TargetModel`` under ``prefix``."""
        url = prefix.rstrip("/") + "/" + target
        try:
            return self._archive(url, region)
        except ModelDataError as exc:
            parsed = urlparse(url)
            raise MissingTargetModel(
                f"Failed to download model data(bucket: {parsed.netloc}, key: {parsed.path.lstrip('/')}). "
                "Please ensure that there is an object located at the URL and that the role passed to "
                "CreateModel has permissions to download the object."
                + ("" if "download model data" in exc.reason else f" ({exc.reason})")
            ) from None

    # ---- one model.tar.gz ----------------------------------------------------------------------

    def _archive(self, url: str, region: str) -> Path:
        self.downloads.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.downloads) as tmp:
            archive = Path(tmp) / "model.tar.gz"
            try:
                digest = self._fetch(url, archive, region)
            except OSError as exc:  # the state directory is full, or not writable
                raise download_failed(url, f"cannot write it to {self.downloads}: {exc.strerror}") from None
            target = self.models / digest
            with self.lock:
                if target.is_dir():
                    return self._hand_out(target)
                self.models.mkdir(parents=True, exist_ok=True)
                try:
                    unpack(archive, target)
                except DockyardError as exc:
                    raise extract_failed(url, exc.message) from None
                return self._hand_out(target)

    def _fetch(self, url: str, destination: Path, region: str) -> str:
        """Copy the object at ``url`` to ``destination``; its sha256."""
        parsed = urlparse(url)
        digest = hashlib.sha256()
        with destination.open("wb") as out:
            if parsed.scheme == "file":
                source = self._host_path(url, parsed.path)
                if not source.is_file():
                    raise download_failed(url, f"{source} is not a file on this machine")
                with source.open("rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            elif parsed.scheme == "s3":
                for chunk in self._s3_object(url, parsed.netloc, parsed.path.lstrip("/"), region):
                    digest.update(chunk)
                    out.write(chunk)
            else:
                raise download_failed(url, "the local target reads s3:// and file:// URLs only")
        return digest.hexdigest()

    def _host_path(self, url: str, path: str) -> Path:
        """The file:// URL's path, resolved, when it lies under an allowed root (else the download's
        FailureReason says which setting allows it)."""
        try:
            return checked_host_path(Path(unquote(path)), self.roots)
        except PathNotAllowed as refused:
            raise download_failed(url, refused.message) from None

    # ---- an uncompressed prefix ----------------------------------------------------------------

    def _prefix(self, url: str, region: str) -> Path:
        parsed = urlparse(url)
        self.downloads.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.downloads) as tmp:
            tree = Path(tmp) / "model"
            if parsed.scheme == "file":
                source = self._host_path(url, parsed.path)
                if not source.is_dir():
                    raise download_failed(url, f"{source} is not a directory on this machine")
                try:
                    copy_checked_tree(source, tree, self.roots)
                except PathNotAllowed as refused:
                    raise download_failed(url, refused.message) from None
            elif parsed.scheme == "s3":
                self._copy_prefix(url, parsed.netloc, parsed.path.lstrip("/"), tree, region)
            else:
                raise download_failed(url, "the local target reads s3:// and file:// URLs only")
            target = self.models / _tree_digest(tree)
            with self.lock:
                if not target.is_dir():
                    self.models.mkdir(parents=True, exist_ok=True)
                    tree.rename(target)
                return self._hand_out(target)

    def _copy_prefix(self, url: str, bucket: str, prefix: str, tree: Path, region: str) -> None:
        keys = [key for key in self._s3_keys(url, bucket, prefix, region) if not key.endswith("/")]
        if not keys:
            raise download_failed(url, "no object has this prefix")
        base = prefix if prefix.endswith("/") or not prefix else f"{prefix}/"
        for key in keys:
            relative = key[len(base) :] if key.startswith(base) else Path(key).name
            path = (tree / relative).resolve()
            if not path.is_relative_to(tree.resolve()):
                raise download_failed(url, f"the key {key} would be written outside /opt/ml/model")
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as out:
                for chunk in self._s3_object(url, bucket, key, region):
                    out.write(chunk)

    # ---- S3: the emulator's own, or the configured endpoint's ----------------------------------

    def _local_objects(self) -> LocalObjects:
        with self._local_lock:
            if self._local is None:
                self._local = LocalObjects(self.state_dir)
            return self._local

    def _s3_keys(self, url: str, bucket: str, prefix: str, region: str) -> list[str]:
        if not self.s3_endpoint_url:
            try:
                return self._local_objects().keys(bucket, prefix)
            except S3Error as exc:
                raise download_failed(url, _local_detail(exc, "ListObjectsV2")) from None
        keys: list[str] = []
        try:
            paginator = self._s3(region).get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except Exception as exc:  # botocore's errors: the service's own sentence is the detail
            raise download_failed(url, _detail(exc)) from None
        return keys

    def _s3_object(self, url: str, bucket: str, key: str, region: str) -> Iterator[bytes]:
        if not self.s3_endpoint_url:
            try:
                return self._local_objects().read(bucket, key)
            except S3Error as exc:
                raise download_failed(url, _local_detail(exc, "GetObject")) from None
        try:
            body = self._s3(region).get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as exc:  # botocore's errors: the service's own sentence is the detail
            raise download_failed(url, _detail(exc)) from None
        chunks: Iterator[bytes] = body.iter_chunks(_CHUNK)
        return chunks

    def _s3(self, region: str) -> S3Client:
        import boto3

        session = boto3.session.Session()
        options: dict[str, Any] = {"region_name": region}
        if self.s3_endpoint_url:
            options["endpoint_url"] = self.s3_endpoint_url
            if session.get_credentials() is None:  # a local S3 stand-in takes any credentials
                options.update(aws_access_key_id="dockyard", aws_secret_access_key="dockyard")
        return session.client("s3", **options)


def _tree_digest(tree: Path) -> str:
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(tree):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            digest.update(str(path.relative_to(tree)).encode() + b"\0")
            with path.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
            digest.update(b"\0")
    return digest.hexdigest()


def _local_detail(exc: S3Error, operation: str) -> str:
    """The sentence boto3 would have given for the same error of the same S3."""
    return f"An error occurred ({exc.code}) when calling the {operation} operation: {exc.message}"


def _detail(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
