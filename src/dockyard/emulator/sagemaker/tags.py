"""AddTags, ListTags, DeleteTags on any resource of the control plane, by ARN."""

from __future__ import annotations

from typing import Any

from dockyard.emulator.context import Caller
from dockyard.emulator.errors import ValidationException
from dockyard.emulator.sagemaker import converters
from dockyard.emulator.sagemaker.listing import page_of
from dockyard.emulator.sagemaker.store import Store

MAX_TAGS = 50  # per resource (TagList's max)


def tags_of(params: dict[str, Any]) -> list[tuple[str, str]]:
    """The Tags member of a Create* request as (key, value) pairs."""
    return [(tag["Key"], tag["Value"]) for tag in params.get("Tags") or []]


class TagOps:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add_tags(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._resource(params["ResourceArn"])
        tags = tags_of(params)
        keys = {key for key, _ in self.store.tags(arn)} | {key for key, _ in tags}
        if len(keys) > MAX_TAGS:
            raise ValidationException(
                f"Resource {arn} would have {len(keys)} tags; a resource can have at most {MAX_TAGS}."
            )
        self.store.add_tags(arn, tags)
        return {"Tags": converters.tag_list(tags)}

    def list_tags(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._resource(params["ResourceArn"])
        page = page_of(self.store.tags(arn), params)
        return {"Tags": converters.tag_list(page.items), "NextToken": page.next_token}

    def delete_tags(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._resource(params["ResourceArn"])
        self.store.delete_tags(arn, list(params["TagKeys"]))
        return {}

    def _resource(self, arn: str) -> str:
        if not self.store.exists(arn.lower()):  # ARNs hold lower-cased names
            raise ValidationException(f"Resource {arn} does not exist.")
        return arn.lower()
