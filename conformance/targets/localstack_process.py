"""LocalStack for the suite: a process it starts and stops, or an instance named by ``LOCALSTACK_ENDPOINT``.

The free edition (``localstack-core`` from PyPI) runs on the host only under
Python 3.13, so it lives in its own environment (``tox -e localstack`` builds
``localstack-runtime`` once and passes its interpreter as
``IAMCONF_LOCALSTACK_PYTHON``).  Settings, measured on these machines
(see the README's LocalStack section):

- ``OVERRIDE_IN_DOCKER=0``: the host looks like a container;
- ``GATEWAY_SERVER=hypercorn`` and ``GATEWAY_LISTEN=127.0.0.1:PORT``: the
  default server ignores the host and binds every interface;
- ``DNS_ADDRESS=0``: else it starts a DNS server on port 53;
- ``FILESYSTEM_ROOT`` a temporary directory, removed after the stop;
- ``DISABLE_EVENTS=1``, ``SKIP_SSL_CERT_DOWNLOAD=1``: no calls out.

Ready when ``/_localstack/health`` answers 200; stopped by SIGTERM, then
SIGKILL after a grace period (its hypercorn shutdown hangs about 1 time in 5).
An instance named by ``LOCALSTACK_ENDPOINT`` is used as it is and left running.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance.targets.base import TargetUnavailable
from conformance.targets.process import ServerProcess, free_port

ENV_PYTHON = "IAMCONF_LOCALSTACK_PYTHON"
ENV_ENDPOINT = "LOCALSTACK_ENDPOINT"
ENV_TOKEN = "LOCALSTACK_AUTH_TOKEN"
ACCOUNT = "000000000000"  # LocalStack's default account for the "test" access key
ROOT = ("test", "test")
SERVICES = "iam,sts,s3,sqs"
GRACE_SECONDS = 5.0
NO_PYTHON = (
    f"LocalStack needs its own Python 3.13 environment: run `tox -e localstack`, or set {ENV_PYTHON} to a "
    f"python with localstack-core[runtime], or {ENV_ENDPOINT} to a running instance"
)


def runtime_environment(port: int, root: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCALSTACK_", "GATEWAY_", "PYTHON"))}
    env.update(
        OVERRIDE_IN_DOCKER="0",
        GATEWAY_SERVER="hypercorn",
        GATEWAY_LISTEN=f"127.0.0.1:{port}",
        DNS_ADDRESS="0",
        SERVICES=SERVICES,
        FILESYSTEM_ROOT=str(root),
        DISABLE_EVENTS="1",
        SKIP_SSL_CERT_DOWNLOAD="1",
    )
    env.update(extra)
    return env


class LocalStack:
    """One LocalStack endpoint for the suite's lifetime."""

    def __init__(self, *, environ: Mapping[str, str] | None = None, extra_env: Mapping[str, str] | None = None):
        self._environ = os.environ if environ is None else environ
        self._extra = dict(extra_env or {})
        self._server: ServerProcess | None = None
        self._root: Path | None = None
        self.endpoint_url: str | None = None
        self.owned = False

    @property
    def root_dir(self) -> Path | None:
        return self._root

    @property
    def pid(self) -> int | None:
        return None if self._server is None else self._server.pid

    def start(self) -> None:
        external = self._environ.get(ENV_ENDPOINT)
        if external:
            self.endpoint_url = external.rstrip("/")
            return
        python = self._environ.get(ENV_PYTHON)
        if not python or not Path(python).is_file():
            raise TargetUnavailable(NO_PYTHON)
        self._root = Path(tempfile.mkdtemp(prefix="iamconf-localstack-"))
        port = free_port()
        self._server = ServerProcess(
            "localstack",
            [python, "-m", "localstack.runtime.main"],
            env=runtime_environment(port, self._root, self._extra),
            port=port,
            health_path="/_localstack/health",
            start_timeout=90,
            grace=GRACE_SECONDS,
            workdir=self._root,
        )
        self.owned = True
        try:
            self._server.start()
        except BaseException:
            self.stop()
            raise
        self.endpoint_url = self._server.url

    def died(self) -> bool:
        """The LocalStack this suite started has exited (killed, crashed); never true of an instance named
        by LOCALSTACK_ENDPOINT, which the suite does not own."""
        server = self._server
        return server is not None and (server.process is None or server.process.poll() is not None)

    def restart(self) -> None:
        """A fresh LocalStack in place of the one that died (new port, new temporary directory)."""
        self.stop()
        self.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        root, self._root = self._root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
        self.endpoint_url = None

    def session(self, access_key: str = ROOT[0], secret_key: str = ROOT[1], token: str | None = None) -> Any:
        """A ``localstack_client`` session on this endpoint (its clients are boto3 clients)."""
        from localstack_client.session import Session

        if self.endpoint_url is None:
            raise RuntimeError("LocalStack is not started")
        host = self.endpoint_url.split("://", 1)[-1]
        return Session(
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=token,
            region_name="us-east-1",
            localstack_host=host,
        )
