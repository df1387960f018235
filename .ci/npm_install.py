"""Install the pinned iam-simulate (conformance/package-lock.json) into one npm prefix, once.

    python .ci/npm_install.py PREFIX

tox envs share one prefix ({toxworkdir}/npm) and may run at once (``tox -p``):
an exclusive lock serialises them, and ``npm ci`` (which deletes node_modules
first) runs only when the prefix does not hold this exact lock file yet, so no
env's install ever pulls node_modules from under another env's running tests.
Point ``IAMCONF_NPM_PREFIX`` at PREFIX afterwards.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "conformance"


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python .ci/npm_install.py PREFIX", file=sys.stderr)
        return 2
    prefix = Path(sys.argv[1]).resolve()
    prefix.mkdir(parents=True, exist_ok=True)
    lock = (SOURCE / "package-lock.json").read_bytes()
    stamp = prefix / ".installed-lock.sha256"
    digest = hashlib.sha256(lock + (SOURCE / "package.json").read_bytes()).hexdigest()
    with (prefix / ".install.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text().strip() == digest and (prefix / "node_modules").is_dir():
            print(f"npm: iam-simulate already installed in {prefix}")
            return 0
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(SOURCE / name, prefix / name)
        stamp.unlink(missing_ok=True)
        npm = shutil.which("npm")
        if npm is None:
            print("npm: not found (Node 20 and npm are needed for the iam-simulate target)", file=sys.stderr)
            return 1
        # --prefer-offline: the lock file pins every package by its integrity hash, so a package already in
        # npm's cache is the right one.  Without it npm asks the registry about each one again, and where node
        # cannot reach it (a TLS-intercepting proxy whose CA, NODE_EXTRA_CA_CERTS, an env does not have) it
        # retried for 142 s of every CI run before it used the cache.  What is not cached is still fetched.
        done = subprocess.run(
            [npm, "ci", "--prefer-offline", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error"],
            check=False,
        )
        if done.returncode != 0:
            return done.returncode
        stamp.write_text(digest + "\n")
        print(f"npm: iam-simulate installed in {prefix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
