"""Models: list, describe, delete, and SageMaker's Create model form."""

from __future__ import annotations

from typing import Any

from dockyard.emulator.console.control import Control
from dockyard.emulator.console.forms import MODEL_FIELDS, FormErrors, model_params
from dockyard.emulator.console.http import Request, Response, redirect, refused_status, url_part
from dockyard.emulator.console.pages.choices import Choices
from dockyard.emulator.console.views import Views
from dockyard.emulator.errors import ServiceError

NAME = r"(?P<name>[^/]+)"


class ModelPages:
    def __init__(self, views: Views, control: Control, choices: Choices) -> None:
        self.views = views
        self.control = control
        self.choices = choices

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/models", self.list),
            ("GET", r"/models/new", self.new),
            ("POST", r"/models", self.create),
            ("GET", rf"/models/{NAME}", self.detail),
            ("POST", rf"/models/{NAME}/delete", self.delete),
        ]

    async def list(self, request: Request) -> Response:
        region = self.views.region(request)
        models = await self.control.list_all(
            region, "ListModels", "Models", {"SortBy": "CreationTime", "SortOrder": "Descending"}
        )
        return self.views.render(request, "models.html", active="models", models=models)

    async def detail(self, request: Request, name: str) -> Response:
        region = self.views.region(request)
        model = await self.control.call(region, "DescribeModel", {"ModelName": name})
        tags = await self.control.call(region, "ListTags", {"ResourceArn": model["ModelArn"]})
        container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
        return self.views.render(
            request,
            "model.html",
            active="models",
            model=model,
            container=container,
            tags=tags.get("Tags", []),
        )

    async def new(self, request: Request) -> Response:
        return await self._form(request, {}, FormErrors())

    async def create(self, request: Request) -> Response:
        region = self.views.region(request)
        params = model_params(request)
        try:
            await self.control.call(region, "CreateModel", params)
        except ServiceError as error:
            return await self._form(
                request, params, FormErrors.of(error, MODEL_FIELDS), refused_status(request)
            )
        return redirect(request, f"/console/models/{url_part(params['ModelName'])}")

    async def delete(self, request: Request, name: str) -> Response:
        await self.control.call(self.views.region(request), "DeleteModel", {"ModelName": name})
        return redirect(request, "/console/models")

    async def _form(
        self, request: Request, params: dict[str, Any], errors: FormErrors, status: int = 200
    ) -> Response:
        region = self.views.region(request)
        container = params.get("PrimaryContainer", {})
        values = {
            "name": params.get("ModelName", ""),
            "role": params.get("ExecutionRoleArn", request.query.get("role", "")),
            "image": container.get("Image", request.query.get("image", "")),
            "model_data": container.get("ModelDataUrl", request.query.get("model_data", "")),
            "environment": list((container.get("Environment") or {}).items()),
            "tags": [(tag["Key"], tag["Value"]) for tag in params.get("Tags", [])],
        }
        return self.views.render(
            request,
            "model_new.html",
            status=status,
            active="models",
            values=values,
            errors=errors,
            images=await self.choices.images(),
            artifacts=await self.choices.artifacts(region),
            default_role=f"arn:aws:iam::{self.control.account}:role/SageMakerExecutionRole",
        )
