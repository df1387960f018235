"""Build (once) LocalStack's own Python 3.13 environment, ``tox -e localstack-runtime``, for ``tox -e localstack``.

Python 3.13 is installed through pyenv beside the default 3.11 and its shim answers only when the version is
named, which tox's interpreter discovery does not do; so this finds the interpreter (``IAMCONF_PYTHON313``,
else ``pyenv prefix 3.13``, else ``python3.13`` on PATH) and hands its path to the nested tox, whose
``basepython`` reads it.  tox reuses the environment when it exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python313() -> str | None:
    given = os.environ.get("IAMCONF_PYTHON313")
    if given:
        return given
    pyenv = shutil.which("pyenv")
    if pyenv:
        found = subprocess.run([pyenv, "prefix", "3.13"], capture_output=True, text=True)
        for line in found.stdout.split(":"):
            candidate = Path(line.strip()) / "bin" / "python3.13"
            if found.returncode == 0 and candidate.is_file():
                return str(candidate)
    return shutil.which("python3.13")


def main() -> int:
    python = python313()
    if python is None:
        print("localstack-runtime: no Python 3.13 found (set IAMCONF_PYTHON313)", file=sys.stderr)
        return 2
    env = {**os.environ, "IAMCONF_PYTHON313": python}
    command = [sys.executable, "-m", "tox", "-c", str(ROOT), "run", "-e", "localstack-runtime", "-qq"]
    return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
