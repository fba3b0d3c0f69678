"""ECR's error codes, as botocore's ``ecr`` model names them."""

from __future__ import annotations

from dockyard.emulator.errors import ServiceError


class InvalidParameterException(ServiceError):
    code = "InvalidParameterException"
    status = 400


class RepositoryNotFoundException(ServiceError):
    code = "RepositoryNotFoundException"
    status = 400


class RepositoryAlreadyExistsException(ServiceError):
    code = "RepositoryAlreadyExistsException"
    status = 400


class RepositoryNotEmptyException(ServiceError):
    code = "RepositoryNotEmptyException"
    status = 400


class ImageNotFoundException(ServiceError):
    code = "ImageNotFoundException"
    status = 400


class ServerException(ServiceError):
    code = "ServerException"
    status = 500


def repository_not_found(name: str, registry: str) -> RepositoryNotFoundException:
    return RepositoryNotFoundException(
        f"The repository with name '{name}' does not exist in the registry with id '{registry}'"
    )
