"""Rendering: the Jinja2 environment (autoescape always on), what every page gets, and the region.

Every string the console shows passes through Jinja2's escaping (names, tags, environment, model
output, log lines); no template marks anything ``|safe``. Live data reaches the browser as JSON and is
put into the page as text nodes by ``console.js``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2

from dockyard.emulator.console.control import Control
from dockyard.emulator.console.http import Request, Response, html
from dockyard.emulator.context import DEFAULT_REGION

TEMPLATES = Path(__file__).parent / "templates"
REGION_COOKIE = "dockyard_region"
NAV = (
    ("models", "Models", "/console/models"),
    ("configs", "Endpoint configurations", "/console/endpoint-configs"),
    ("endpoints", "Endpoints", "/console/endpoints"),
    ("registry", "Model registry", "/console/model-packages"),
    ("artifacts", "Model artifacts", "/console/artifacts"),
    ("buckets", "S3 buckets", "/console/buckets"),
    ("repositories", "ECR repositories", "/console/repositories"),
    ("images", "Local images", "/console/images"),
)


class Views:
    def __init__(self, control: Control) -> None:
        self.control = control
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=True,  # every template, whatever its extension
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = when
        self.env.filters["size"] = size
        self.env.globals["nav"] = NAV

    def region(self, request: Request) -> str:
        chosen = request.query.get("region") or request.cookies.get(REGION_COOKIE) or DEFAULT_REGION
        return chosen if _region_like(chosen) else DEFAULT_REGION

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        body = self.env.get_template(template).render(
            csrf_token=request.csrf_token,
            region=self.region(request),
            account=self.control.account,
            # The security middleware has checked the Host header: it names this emulator.
            origin=f"http://{request.headers.get('host', '127.0.0.1')}",
            **context,
        )
        response = html(body, status)
        if request.query.get("region") and _region_like(request.query["region"]):
            response.header(
                "set-cookie", f"{REGION_COOKIE}={request.query['region']}; Path=/console; SameSite=Strict"
            )
        return response

    def error_page(self, request: Request, status: int, code: str, message: str) -> Response:
        if request.htmx:
            # Shown in the page's error area instead of the fragment htmx asked for (htmx swaps 2xx only).
            response = self.render(request, "_error.html", code=code, message=message)
            return response.header("HX-Retarget", "#errors").header("HX-Reswap", "innerHTML")
        return self.render(request, "error.html", status=status, code=code, message=message, active="")


def when(value: Any) -> str:
    """An API timestamp (epoch seconds as JSON APIs send it, or a datetime) as UTC text."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    else:
        moment = dt.datetime.fromtimestamp(float(value), dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def size(value: Any) -> str:
    amount = float(value or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"


def _region_like(value: str) -> bool:
    parts = value.split("-")
    return 2 <= len(parts) <= 5 and all(
        (part.isalnum() and part.islower()) or part.isdigit() for part in parts
    )
