"""Endpoints: list (live), create from a config, the detail page, update, weights and capacities, delete.

The detail page's status section is a fragment the page polls; the actions post through htmx: on
success the page reloads, on a refusal SageMaker's error shows in the page's error area.
"""

from __future__ import annotations

from typing import Any

from dockyard.emulator.console.control import Control
from dockyard.emulator.console.forms import ENDPOINT_FIELDS, FormErrors, endpoint_params, weights_params
from dockyard.emulator.console.http import Request, Response, redirect, refused_status, url_part
from dockyard.emulator.console.pages.fleet import FleetViews
from dockyard.emulator.console.pages.playground import SAMPLES, PlaygroundPages
from dockyard.emulator.console.views import Views
from dockyard.emulator.errors import ServiceError

NAME = r"(?P<name>[^/]+)"


class EndpointPages:
    def __init__(
        self, views: Views, control: Control, fleet: FleetViews, playground: PlaygroundPages
    ) -> None:
        self.views = views
        self.control = control
        self.fleet = fleet
        self.playground = playground

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/endpoints", self.list),
            ("GET", r"/endpoints/rows", self.rows),
            ("GET", r"/endpoints/new", self.new),
            ("POST", r"/endpoints", self.create),
            ("GET", rf"/endpoints/{NAME}", self.detail),
            ("GET", rf"/endpoints/{NAME}/status", self.status),
            ("POST", rf"/endpoints/{NAME}/update", self.update),
            ("POST", rf"/endpoints/{NAME}/weights", self.weights),
            ("POST", rf"/endpoints/{NAME}/delete", self.delete),
        ]

    async def _endpoints(self, request: Request) -> list[dict[str, Any]]:
        return await self.control.list_all(
            self.views.region(request),
            "ListEndpoints",
            "Endpoints",
            {"SortBy": "CreationTime", "SortOrder": "Descending"},
        )

    async def list(self, request: Request) -> Response:
        endpoints = await self._endpoints(request)
        return self.views.render(request, "endpoints.html", active="endpoints", endpoints=endpoints)

    async def rows(self, request: Request) -> Response:
        return self.views.render(request, "_endpoint_rows.html", endpoints=await self._endpoints(request))

    async def new(self, request: Request) -> Response:
        params = {"EndpointConfigName": request.query.get("config", "")}
        return await self._form(request, params, FormErrors())

    async def create(self, request: Request) -> Response:
        params = endpoint_params(request)
        try:
            await self.control.call(self.views.region(request), "CreateEndpoint", params)
        except ServiceError as error:
            return await self._form(
                request, params, FormErrors.of(error, ENDPOINT_FIELDS), refused_status(request)
            )
        return redirect(request, f"/console/endpoints/{url_part(params['EndpointName'])}")

    async def detail(self, request: Request, name: str) -> Response:
        region = self.views.region(request)
        state = await self.fleet.state(region, name)
        configs = await self.control.list_all(
            region,
            "ListEndpointConfigs",
            "EndpointConfigs",
            {"SortBy": "CreationTime", "SortOrder": "Descending"},
        )
        tags = await self.control.call(region, "ListTags", {"ResourceArn": state.endpoint["EndpointArn"]})
        return self.views.render(
            request,
            "endpoint.html",
            active="endpoints",
            state=state,
            endpoint=state.endpoint,
            configs=[config["EndpointConfigName"] for config in configs],
            tags=tags.get("Tags", []),
            samples=SAMPLES,
            prefill=self.playground.prefill(state.endpoint["EndpointName"]),
        )

    async def status(self, request: Request, name: str) -> Response:
        state = await self.fleet.state(self.views.region(request), name)
        return self.views.render(request, "_endpoint_status.html", state=state, endpoint=state.endpoint)

    async def update(self, request: Request, name: str) -> Response:
        params = {"EndpointName": name, "EndpointConfigName": request.field("config")}
        return await self._act(request, name, "UpdateEndpoint", params)

    async def weights(self, request: Request, name: str) -> Response:
        return await self._act(
            request, name, "UpdateEndpointWeightsAndCapacities", weights_params(request, name)
        )

    async def delete(self, request: Request, name: str) -> Response:
        await self.control.call(self.views.region(request), "DeleteEndpoint", {"EndpointName": name})
        return redirect(request, "/console/endpoints")

    async def _act(self, request: Request, name: str, operation: str, params: dict[str, Any]) -> Response:
        # A refusal (ServiceError) is shown in the page's error area by the app, as SageMaker words it.
        await self.control.call(self.views.region(request), operation, params)
        return redirect(request, f"/console/endpoints/{url_part(name)}")

    async def _form(
        self, request: Request, params: dict[str, Any], errors: FormErrors, status: int = 200
    ) -> Response:
        configs = await self.control.list_all(
            self.views.region(request),
            "ListEndpointConfigs",
            "EndpointConfigs",
            {"SortBy": "CreationTime", "SortOrder": "Descending"},
        )
        return self.views.render(
            request,
            "endpoint_new.html",
            status=status,
            active="endpoints",
            name=params.get("EndpointName", ""),
            config=params.get("EndpointConfigName", ""),
            tags=[(tag["Key"], tag["Value"]) for tag in params.get("Tags", [])],
            configs=[config["EndpointConfigName"] for config in configs],
            errors=errors,
        )
