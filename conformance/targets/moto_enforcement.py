"""Target ``moto-enforcement``: moto's IAM enforcement, in the test process or through its server.

moto checks every call made with keys it issued once its "initial no-auth
action count" is used up (``settings.INITIAL_NO_AUTH_ACTION_COUNT`` in
process, ``POST /moto-api/reset-auth`` on the server).  The backend creates
the administrator while enforcement is off, then switches it on; from then
on every set-up call is made with the administrator's keys.

In process (the default, ``mode="process"``) moto's mock intercepts every
boto3 call of this process while the target runs; ``mode="server"`` (or
``IAMCONF_MOTO_SERVER=1``) runs ``moto.server`` on 127.0.0.1 on a free port,
owned by the suite (``conformance.targets.process``).
"""

from __future__ import annotations

import os
import sys
import urllib.request
from typing import Any

from conformance.targets.enforcement import Credentials, EnforcementTarget, create_admin
from conformance.targets.probes import REGION
from conformance.targets.process import ServerProcess, emulator_client_config, free_port

NAME = "moto-enforcement"
ACCOUNT = "123456789012"  # moto's default account
ENV_SERVER = "IAMCONF_MOTO_SERVER"


class MotoBackend:
    account_id = ACCOUNT
    no_boundary: str | None = "moto does not implement PutUserPermissionsBoundary (NotImplementedError)"

    def __init__(self, mode: str = "process"):
        if mode not in ("process", "server"):
            raise ValueError("mode must be 'process' or 'server'")
        self.mode = mode
        self._mock: Any = None
        self._server: ServerProcess | None = None
        self._admin: Credentials | None = None
        self._saved_count: float | None = None
        self._session: Any = None
        self._clients: dict[tuple[str, Credentials], Any] = {}

    @property
    def admin(self) -> Credentials:
        if self._admin is None:
            raise RuntimeError("moto backend not started")
        return self._admin

    @property
    def endpoint_url(self) -> str | None:
        return None if self._server is None else self._server.url

    def client(self, service: str, credentials: Credentials) -> Any:
        """A client for these credentials (the administrator's are kept; one boto3 session loads each model once)."""
        import boto3

        if self._session is None:
            self._session = boto3.session.Session()
        cached = self._clients.get((service, credentials))
        if cached is not None:
            return cached
        client = self._session.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            config=emulator_client_config(),
        )
        if credentials == self._admin:
            self._clients[(service, credentials)] = client
        return client

    def start(self) -> None:
        bootstrap = Credentials("iamconf-bootstrap", "iamconf-bootstrap")
        if self.mode == "process":
            from moto import mock_aws, settings
            from moto.core.authorization import ActionAuthenticatorMixin

            self._mock = mock_aws()
            self._mock.start()
            self._saved_count = settings.INITIAL_NO_AUTH_ACTION_COUNT
            settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
            self._admin = create_admin(self.client("iam", bootstrap))
            settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
            ActionAuthenticatorMixin.request_count = 0
            return
        port = free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
        self._server = ServerProcess(
            "moto-server",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            port=port,
            health_path="/moto-api/",
            start_timeout=30,
            grace=3,
        )
        self._server.start()
        try:
            self._admin = create_admin(self.client("iam", bootstrap))
            request = urllib.request.Request(
                f"{self._server.url}/moto-api/reset-auth",
                data=b"0",
                method="POST",
                headers={"Content-Type": "text/plain"},  # else the form parser eats the body
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._mock is not None:
            from moto import settings

            settings.INITIAL_NO_AUTH_ACTION_COUNT = self._saved_count if self._saved_count is not None else float("inf")
            self._mock.stop()
            self._mock = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._admin = None
        self._clients.clear()
        self._session = None


def make_moto_enforcement_target(mode: str | None = None) -> EnforcementTarget:
    chosen = mode or ("server" if os.environ.get(ENV_SERVER) == "1" else "process")
    return EnforcementTarget(NAME, MotoBackend(chosen))
