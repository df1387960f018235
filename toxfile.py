"""tox's inline plugin for this project (tox loads ``toxfile.py`` beside ``tox.ini``): the CPython 3.11 that
tox builds its environments on.

``tox.ini``'s ``basepython`` reads ``IAMCONF_PYTHON``.  When the caller has not set it, this sets it, before
tox reads its configuration, to the fastest CPython 3.11 build the machine has (``tools/pick_python.py``
says how it is chosen and what the build does to the figures), so that ``tox`` run as the README says and
``.ci/run`` build on the same interpreter.  Where no interpreter fits, nothing is set (``python3.11`` from
PATH, as tox would find it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tox.plugin import impl

PICKER = Path(__file__).resolve().parent / "tools" / "pick_python.py"


@impl
def tox_add_core_config(core_conf: Any, state: Any) -> None:
    if os.environ.get("IAMCONF_PYTHON"):
        return
    try:
        done = subprocess.run([sys.executable, str(PICKER)], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return
    chosen = done.stdout.strip()
    if done.returncode == 0 and chosen:
        os.environ["IAMCONF_PYTHON"] = chosen
        print(f"tox: 3.11 environments on {chosen} (tools/pick_python.py; IAMCONF_PYTHON to choose)", file=sys.stderr)
