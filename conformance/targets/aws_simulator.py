"""Target ``aws-simulator``: the AWS IAM policy simulator, ``SimulateCustomPolicy``, through boto3.

The calls and the reading of their pages are ``conformance.targets.simulate_custom_policy``
(shared with the ``replay`` target).

It costs AWS calls and needs credentials, so it runs only when asked twice:
``explicitly_requested=True`` (``--target aws-simulator``) and the environment
variable ``IAMCONF_AWS=1``.  Against a loopback ``endpoint_url`` (``iamconf
serve``) the variable is not needed and dummy credentials are used when there
are none.  Throttling ("Rate exceeded") is retried by botocore's adaptive
retry mode.  Given a ``recorder`` it stores what AWS answered, for the
``replay`` target (``conformance.targets.replay``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from conformance.targets.base import TargetAnswer, TargetFailure, TargetStats, TargetUnavailable, Unsupported
from conformance.targets.recordings import RecordingStore
from conformance.targets.simulate_custom_policy import (
    CAPABILITIES,
    DEFINITE_ERRORS,
    MAX_SCP_LEVELS,
    PAGE_SIZE,
    Exchange,
    SimCall,
    interpret,
    plan,
    read_pages,
    unsupported_reason,
)
from reference.model import Case

__all__ = [
    "CAPABILITIES",
    "DEFINITE_ERRORS",
    "MAX_SCP_LEVELS",
    "NAME",
    "PAGE_SIZE",
    "AwsSimulatorTarget",
    "Exchange",
    "Recorder",
    "SimCall",
    "endpoint_kind_of",
    "interpret",
    "make_aws_simulator_target",
    "plan",
    "read_pages",
    "unsupported_reason",
]

NAME = "aws-simulator"
ENV_OPT_IN = "IAMCONF_AWS"
RETRIES = {"mode": "adaptive", "max_attempts": 10}


class Recorder(Protocol):
    def record(self, case: Case, exchanges: Sequence[Exchange], *, region: str, endpoint_kind: str) -> object: ...


# --------------------------------------------------------------------------- the target


# Hosts of AWS's own endpoints (iam.amazonaws.com, iam.us-gov.amazonaws.com, iam.cn-north-1.amazonaws.com.cn,
# the dual-stack *.api.aws): only answers from these are AWS's.
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
OPT_IN_MESSAGE = (
    "the aws-simulator target calls AWS (and costs API calls): set IAMCONF_AWS=1 and pass "
    "--target aws-simulator to run it"
)


def _is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def endpoint_kind_of(url: str) -> str:
    """Where answers from ``url`` come from: "aws" (an AWS endpoint over HTTPS), "local" (loopback, e.g.
    ``iamconf serve``) or "custom" (anything else: an emulator elsewhere)."""
    if _is_loopback_url(url):
        return "local"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return "aws" if parts.scheme == "https" and host.endswith(AWS_HOST_SUFFIXES) else "custom"


class AwsSimulatorTarget:
    """The AWS IAM policy simulator (``iam.simulate_custom_policy``)."""

    name = NAME
    capabilities = CAPABILITIES

    def __init__(
        self,
        *,
        explicitly_requested: bool = False,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        recorder: Recorder | None = None,
        page_size: int = PAGE_SIZE,
        environ: Mapping[str, str] | None = None,
    ):
        if not 1 <= page_size <= PAGE_SIZE:
            raise ValueError(f"page_size must be 1-{PAGE_SIZE} (MaxItems)")
        self.explicitly_requested = explicitly_requested
        self.endpoint_url = endpoint_url
        self.region = region
        self.recorder = recorder
        self.page_size = page_size
        self.stats = TargetStats()
        self._environ = os.environ if environ is None else environ
        self._given_client = client
        self._client: Any = None

    @property
    def endpoint_url_used(self) -> str | None:
        """The endpoint botocore really sends to (``endpoint_url``, ``AWS_ENDPOINT_URL_IAM``, the config
        file's ``endpoint_url`` or AWS's own); None before the target is started."""
        return None if self._client is None else str(self._client.meta.endpoint_url)

    @property
    def endpoint_kind(self) -> str:
        """Where the answers come from, by the endpoint really used (recorded with every answer)."""
        url = self.endpoint_url_used or self.endpoint_url
        return "unknown" if url is None else endpoint_kind_of(url)

    @property
    def decisions_per_call(self) -> float:
        """Requests answered per simulator call (page), the batching figure of the bench."""
        return self.stats.requests / self.stats.calls if self.stats.calls else 0.0

    def start(self) -> None:
        if not self.explicitly_requested:
            raise TargetUnavailable(OPT_IN_MESSAGE)
        opted_in = self._environ.get(ENV_OPT_IN) == "1"
        if self._given_client is not None:
            if not (opted_in or _is_loopback_url(str(self._given_client.meta.endpoint_url))):
                raise TargetUnavailable(OPT_IN_MESSAGE)
            self._client = self._given_client
            return
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(region_name=self.region)
        config = Config(retries=dict(RETRIES), connect_timeout=10, read_timeout=120, user_agent_extra="iamconf")
        kwargs: dict[str, Any] = {"config": config}
        if self.endpoint_url is not None:
            kwargs["endpoint_url"] = self.endpoint_url
        credentials = session.get_credentials()
        if credentials is None:
            # Only ever sent to an endpoint that is not AWS's (checked below): `iamconf serve` checks no signature.
            kwargs.update(aws_access_key_id="iamconf", aws_secret_access_key="iamconf")
        client = session.client("iam", **kwargs)
        # The endpoint botocore resolved (endpoint_url, AWS_ENDPOINT_URL_IAM, the config file, or AWS's own).
        kind = endpoint_kind_of(str(client.meta.endpoint_url))
        if not (opted_in or kind == "local"):
            client.close()
            raise TargetUnavailable(OPT_IN_MESSAGE)
        if credentials is None and kind == "aws":
            client.close()
            raise TargetUnavailable("no AWS credentials found (environment, shared files or instance role)")
        self._client = client

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None and client is not self._given_client:
            client.close()

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("the aws-simulator target is not started")
        return self._client

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        return [self._answer_one(case) for case in cases]

    def _answer_one(self, case: Case) -> TargetAnswer:
        calls = plan(case, self.page_size)
        if isinstance(calls, Unsupported):
            return calls
        self.stats.cases += 1
        self.stats.requests += len(case.requests)
        extra = self.stats.extra
        extra["unrequested"] = extra.get("unrequested", 0) + sum(
            len(c.params["ActionNames"]) * len(c.resources) - len(c.wanted) for c in calls
        )
        exchanges: list[Exchange] = []
        for call in calls:
            exchange = self._call(call)
            if isinstance(exchange, (Unsupported, TargetFailure)):
                return exchange
            exchanges.append(exchange)
            if exchange.error is not None:
                break
        answer = interpret(case, calls[: len(exchanges)], exchanges)
        if self.recorder is not None and not (isinstance(answer, TargetFailure) and exchanges[-1].error is None):
            self.recorder.record(case, exchanges, region=self.region, endpoint_kind=self.endpoint_kind)
        return answer

    def _call(self, call: SimCall) -> Exchange | Unsupported | TargetFailure:
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

        pages: list[dict[str, Any]] = []
        extra = self.stats.extra
        try:
            paginator = self.client.get_paginator("simulate_custom_policy")
            for page in paginator.paginate(**call.params, PaginationConfig={"PageSize": self.page_size}):
                page = dict(page)
                meta = page.pop("ResponseMetadata", {})
                self.stats.calls += 1
                extra["retries"] = extra.get("retries", 0) + int(meta.get("RetryAttempts", 0))
                extra["decisions"] = extra.get("decisions", 0) + sum(
                    len(r.get("ResourceSpecificResults") or ()) or 1 for r in page.get("EvaluationResults", ())
                )
                pages.append(page)
        except ParamValidationError as e:
            return Unsupported(f"not expressible as SimulateCustomPolicy parameters: {e}")
        except ClientError as e:
            self.stats.calls += 1
            error = e.response.get("Error", {})
            code, message = str(error.get("Code", "")), str(error.get("Message", ""))
            extra["retries"] = extra.get("retries", 0) + int(
                e.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            )
            if code in DEFINITE_ERRORS:
                return Exchange(call.summary(), pages, {"code": code, "message": message})
            return TargetFailure(f"{code}: {message}")
        except BotoCoreError as e:
            return TargetFailure(f"{type(e).__name__}: {e}")
        return Exchange(call.summary(), pages)


def make_aws_simulator_target(
    *, explicitly_requested: bool, recordings_dir: str | None = None, endpoint_url: str | None = None
) -> AwsSimulatorTarget:
    """The target as ``--target aws-simulator`` builds it; it records into ``recordings_dir`` when one is given."""
    recorder = RecordingStore(recordings_dir) if recordings_dir is not None else None
    return AwsSimulatorTarget(explicitly_requested=explicitly_requested, endpoint_url=endpoint_url, recorder=recorder)
