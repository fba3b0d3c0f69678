"""The console's pages, one module per resource; ``register_all`` puts their routes in the router."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dockyard.emulator.console.control import Control
from dockyard.emulator.console.http import Request, Response
from dockyard.emulator.console.pages.artifacts import ArtifactPages
from dockyard.emulator.console.pages.choices import Choices
from dockyard.emulator.console.pages.configs import ConfigPages
from dockyard.emulator.console.pages.endpoints import EndpointPages
from dockyard.emulator.console.pages.fleet import FleetViews
from dockyard.emulator.console.pages.live import LivePages
from dockyard.emulator.console.pages.models import ModelPages
from dockyard.emulator.console.pages.playground import PlaygroundPages
from dockyard.emulator.console.pages.registry import RegistryPages
from dockyard.emulator.console.pages.storage import StoragePages
from dockyard.emulator.console.views import Views

if TYPE_CHECKING:
    from dockyard.emulator.components import Components
    from dockyard.emulator.console.routes import Router
    from dockyard.emulator.settings import EmulatorSettings


def register_all(
    router: Router,
    views: Views,
    control: Control,
    settings: EmulatorSettings,
    components: Callable[[], Components],
) -> None:
    choices = Choices(components, control)
    playground = PlaygroundPages(views, control)
    pages: list[Any] = [
        ModelPages(views, control, choices),
        ConfigPages(views, control),
        EndpointPages(views, control, FleetViews(control, components), playground),
        LivePages(views, control, components),
        playground,
        RegistryPages(views, control),
        ArtifactPages(views, control, choices, settings.s3_endpoint_url),
        StoragePages(views, control),
        ImagePages(views, choices),
    ]

    async def home(request: Request) -> Response:
        return Response(303).header("location", "/console/endpoints")

    router.add("GET", r"/", home)
    for page in pages:
        for method, pattern, handler in page.routes():
            router.add(method, pattern, handler)


class ImagePages:
    """The engine's local images: what CreateModel can run without a registry."""

    def __init__(self, views: Views, choices: Choices) -> None:
        self.views = views
        self.choices = choices

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("GET", r"/images", self.list)]

    async def list(self, request: Request) -> Response:
        return self.views.render(request, "images.html", active="images", images=await self.choices.images())
