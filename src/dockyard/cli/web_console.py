"""``dockyard console``: open the local SageMaker's web console (served by the running emulator)."""

from __future__ import annotations

from pathlib import Path

import typer

from dockyard.cli.common import console, reports_errors

CONSOLE_PATH = "/console/"
STATE_DIR_OPTION = typer.Option(
    None, "--state-dir", help="The emulator's state directory (default ~/.dockyard).", show_default=False
)


def console_url(emulator_url: str) -> str:
    return emulator_url.rstrip("/") + CONSOLE_PATH


def register(app: typer.Typer) -> None:
    app.command("console")(open_console)


@reports_errors
def open_console(
    state_dir: Path | None = STATE_DIR_OPTION,
    print_only: bool = typer.Option(False, "--print", help="Print the link; do not open a browser."),
) -> None:
    """Open the web console of the running emulator in a browser (or print its login link)."""
    from dockyard.emulator.process import status
    from dockyard.emulator.security import local_credentials
    from dockyard.errors import DockyardError

    found = status(state_dir)
    if found is None:
        raise DockyardError(
            "no emulator is running, so there is no console to open; start one with "
            "`dockyard emulator up --detach`"
        )
    # The link logs the browser in (a token derived from the emulator's secret; the page then keeps a
    # session cookie), as Jupyter's does.
    url = f"{console_url(found.url)}?token={local_credentials(found.state_dir).console_token}"
    console.print(url, highlight=False, soft_wrap=True)
    if not print_only:
        import webbrowser

        if not webbrowser.open(url):
            console.print("(no browser found here: open the URL above)", highlight=False)
