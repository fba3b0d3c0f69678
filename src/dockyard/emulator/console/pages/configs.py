"""Endpoint configurations: list, describe, create (production variants), delete."""

from __future__ import annotations

from typing import Any

from dockyard.emulator.console.control import Control
from dockyard.emulator.console.forms import CONFIG_FIELDS, FormErrors, config_params
from dockyard.emulator.console.http import Request, Response, redirect, refused_status, url_part
from dockyard.emulator.console.views import Views
from dockyard.emulator.errors import ServiceError
from dockyard.instance_types import INSTANCE_TYPES

NAME = r"(?P<name>[^/]+)"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"


class ConfigPages:
    def __init__(self, views: Views, control: Control) -> None:
        self.views = views
        self.control = control

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/endpoint-configs", self.list),
            ("GET", r"/endpoint-configs/new", self.new),
            ("POST", r"/endpoint-configs", self.create),
            ("GET", rf"/endpoint-configs/{NAME}", self.detail),
            ("POST", rf"/endpoint-configs/{NAME}/delete", self.delete),
        ]

    async def list(self, request: Request) -> Response:
        configs = await self.control.list_all(
            self.views.region(request),
            "ListEndpointConfigs",
            "EndpointConfigs",
            {"SortBy": "CreationTime", "SortOrder": "Descending"},
        )
        return self.views.render(request, "configs.html", active="configs", configs=configs)

    async def detail(self, request: Request, name: str) -> Response:
        region = self.views.region(request)
        config = await self.control.call(region, "DescribeEndpointConfig", {"EndpointConfigName": name})
        tags = await self.control.call(region, "ListTags", {"ResourceArn": config["EndpointConfigArn"]})
        return self.views.render(
            request, "config.html", active="configs", config=config, tags=tags.get("Tags", [])
        )

    async def new(self, request: Request) -> Response:
        model = request.query.get("model", "")
        variant = {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1}
        return await self._form(request, {"ProductionVariants": [variant]}, FormErrors())

    async def create(self, request: Request) -> Response:
        params = config_params(request)
        try:
            await self.control.call(self.views.region(request), "CreateEndpointConfig", params)
        except ServiceError as error:
            return await self._form(
                request, params, FormErrors.of(error, CONFIG_FIELDS), refused_status(request)
            )
        return redirect(request, f"/console/endpoint-configs/{url_part(params['EndpointConfigName'])}")

    async def delete(self, request: Request, name: str) -> Response:
        await self.control.call(
            self.views.region(request), "DeleteEndpointConfig", {"EndpointConfigName": name}
        )
        return redirect(request, "/console/endpoint-configs")

    async def _form(
        self, request: Request, params: dict[str, Any], errors: FormErrors, status: int = 200
    ) -> Response:
        models = await self.control.list_all(
            self.views.region(request), "ListModels", "Models", {"SortBy": "Name", "SortOrder": "Ascending"}
        )
        return self.views.render(
            request,
            "config_new.html",
            status=status,
            active="configs",
            name=params.get("EndpointConfigName", ""),
            variants=params.get("ProductionVariants") or [{}],
            tags=[(tag["Key"], tag["Value"]) for tag in params.get("Tags", [])],
            errors=errors,
            models=[model["ModelName"] for model in models],
            instance_types=sorted(INSTANCE_TYPES),
            default_instance_type=DEFAULT_INSTANCE_TYPE,
        )
