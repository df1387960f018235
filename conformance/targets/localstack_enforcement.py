"""Target ``localstack-enforcement``: the enforcement probes against LocalStack with ``ENFORCE_IAM=1``.

The free edition does not enforce (``ENFORCE_IAM=1`` is ignored; enforcement
is in the licensed extension), so this target runs only where it can mean
something: ``LOCALSTACK_AUTH_TOKEN`` is set (LocalStack is started with it
and ``ENFORCE_IAM=1``), or ``LOCALSTACK_ENDPOINT`` names an instance that
enforces, checked by one probe that must be denied.  Otherwise it reports
itself skipped with :data:`NOT_ENFORCING`.  Its probing is the code of
``conformance.targets.enforcement``, the one tested against moto.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from conformance.targets.base import TargetUnavailable
from conformance.targets.enforcement import Credentials, EnforcementTarget, create_admin
from conformance.targets.localstack_process import ACCOUNT, ENV_ENDPOINT, ENV_TOKEN, ROOT, LocalStack
from conformance.targets.probes import REGION, call, probe_for
from conformance.targets.process import emulator_client_config

NAME = "localstack-enforcement"
NOT_ENFORCING = (
    f"LocalStack's free edition does not enforce IAM (ENFORCE_IAM=1 is ignored): set {ENV_TOKEN} to run "
    f"LocalStack with enforcement, or {ENV_ENDPOINT} to an instance that enforces"
)
CHECK_USER = "iamconf-enforcement-check"


class LocalStackBackend:
    account_id = ACCOUNT
    no_boundary: str | None = None

    def __init__(self, environ: Mapping[str, str] | None = None, localstack: LocalStack | None = None):
        self._environ = os.environ if environ is None else environ
        token = self._environ.get(ENV_TOKEN, "")
        extra = {"ENFORCE_IAM": "1", ENV_TOKEN: token} if token else {"ENFORCE_IAM": "1"}
        self.localstack = localstack or LocalStack(environ=self._environ, extra_env=extra)
        self._admin: Credentials | None = None
        self._clients: dict[tuple[str, Credentials], Any] = {}

    @property
    def admin(self) -> Credentials:
        if self._admin is None:
            raise RuntimeError("LocalStack backend not started")
        return self._admin

    def client(self, service: str, credentials: Credentials) -> Any:
        cached = self._clients.get((service, credentials))
        if cached is not None:
            return cached
        session = self.localstack.session(
            credentials.access_key_id, credentials.secret_access_key, credentials.session_token
        )
        client = session.client(service, region_name=REGION, config=emulator_client_config())
        if credentials == self._admin:
            self._clients[(service, credentials)] = client
        return client

    def start(self) -> None:
        if not self._environ.get(ENV_TOKEN) and not self._environ.get(ENV_ENDPOINT):
            raise TargetUnavailable(NOT_ENFORCING)
        self.localstack.start()
        try:
            self._admin = create_admin(self.client("iam", Credentials(*ROOT)))
            if not self.enforces():
                raise TargetUnavailable(
                    f"{self.localstack.endpoint_url} does not enforce IAM (a call with no permission was allowed): "
                    + NOT_ENFORCING
                )
        except BaseException:
            self.stop()
            raise

    def enforces(self) -> bool:
        """One probe that must be denied: s3:ListBucket by a user without any policy."""
        iam = self.client("iam", self.admin)
        s3 = self.client("s3", self.admin)
        probe = probe_for("s3:ListBucket")
        assert probe is not None
        bucket = "iamconf-enforcement-check"
        iam.create_user(UserName=CHECK_USER)
        s3.create_bucket(Bucket=bucket)
        key = iam.create_access_key(UserName=CHECK_USER)["AccessKey"]
        try:
            creds = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
            done = call(probe, lambda service: self.client(service, creds), {"bucket": bucket})
            return done.outcome == "denied"
        finally:
            iam.delete_access_key(UserName=CHECK_USER, AccessKeyId=key["AccessKeyId"])
            iam.delete_user(UserName=CHECK_USER)
            s3.delete_bucket(Bucket=bucket)

    def stop(self) -> None:
        self._clients.clear()
        self._admin = None
        if self.localstack.owned:
            self.localstack.stop()


def make_localstack_enforcement_target(environ: Mapping[str, str] | None = None) -> EnforcementTarget:
    return EnforcementTarget(NAME, LocalStackBackend(environ))
