"""``dockyard init``: the files of a new project, rendered as text and then written.

Rendering and writing are apart: :func:`plan` decides every file's content (pure, testable);
:func:`write` puts them on disk, refusing to overwrite anything unless forced, and writing nothing
when it refuses. The project file is rendered from the same values the tests compare it with, so
what ``init`` writes is what ``load_config`` reads back.
"""

from dockyard.scaffold.kits import HANDLER_FILE, KITS, MODEL_DIR, SAMPLE_FILE, Kit
from dockyard.scaffold.project import Scaffold, init_project, plan, project_name, resolve_flavor, write

__all__ = [
    "HANDLER_FILE",
    "KITS",
    "MODEL_DIR",
    "SAMPLE_FILE",
    "Kit",
    "Scaffold",
    "init_project",
    "plan",
    "project_name",
    "resolve_flavor",
    "write",
]
