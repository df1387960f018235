"""A recording says where its answer came from by the endpoint botocore really used; only AWS's are replayed.

The endpoint may come from boto3's own configuration (``AWS_ENDPOINT_URL_IAM``) rather than from
``--aws-endpoint``: answers of ``iamconf serve`` reached that way are the reference's, never AWS evidence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.serve import running_server
from conformance.targets.aws_simulator import AwsSimulatorTarget, endpoint_kind_of
from conformance.targets.base import TargetUnavailable, Unsupported
from conformance.targets.replay import RecordingStore, ReplayTarget
from reference.model import Case, CaseResult, Policy, Request

CASE = Case(
    id="endpoint",
    identity_policies=[
        Policy.of("p", {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}})
    ],
    requests=[Request("s3:GetObject", "arn:aws:s3:::bucket/key")],
)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://iam.amazonaws.com", "aws"),
        ("https://iam.us-gov.amazonaws.com", "aws"),
        ("https://iam.cn-north-1.amazonaws.com.cn", "aws"),
        ("http://127.0.0.1:8080", "local"),
        ("http://localhost:9", "local"),
        ("http://[::1]:9", "local"),
        ("http://iam.amazonaws.com", "custom"),  # not over HTTPS
        ("https://iam.amazonaws.com.example.net", "custom"),
        ("https://emulator.internal:4566", "custom"),
    ],
)
def test_endpoint_kind_of(url: str, kind: str) -> None:
    assert endpoint_kind_of(url) == kind


@pytest.fixture
def no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_IAM",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_aws_configuration")
def test_an_endpoint_from_boto3_configuration_is_recorded_as_what_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "recordings"
    with running_server() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", url)  # boto3's own configuration, not --aws-endpoint
        target = AwsSimulatorTarget(
            explicitly_requested=True, recorder=RecordingStore(directory), environ={"IAMCONF_AWS": "1"}
        )
        target.start()
        try:
            assert target.endpoint_url is None and target.endpoint_url_used == url
            (answer,) = target.answer([CASE])
        finally:
            target.stop()
    assert isinstance(answer, CaseResult)
    (path,) = directory.glob("*.json")
    assert json.loads(path.read_text(encoding="utf-8"))["endpoint_kind"] == "local"
    # The replay target takes only AWS's answers: this one is not AWS evidence.
    (replayed,) = ReplayTarget(directory).answer([CASE])
    assert replayed == Unsupported("no recording for this case")
    (local,) = ReplayTarget(directory, endpoint_kinds=["local"]).answer([CASE])
    assert local == answer


@pytest.mark.usefixtures("no_aws_configuration")
def test_a_loopback_endpoint_from_boto3_configuration_needs_no_opt_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running_server() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", url)
        target = AwsSimulatorTarget(explicitly_requested=True, environ={})
        target.start()
        try:
            assert target.endpoint_kind == "local"
            assert isinstance(target.answer([CASE])[0], CaseResult)
        finally:
            target.stop()


@pytest.mark.usefixtures("no_aws_configuration")
def test_aws_itself_still_needs_the_opt_in_and_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TargetUnavailable, match="IAMCONF_AWS"):
        AwsSimulatorTarget(explicitly_requested=True, environ={}).start()
    with pytest.raises(TargetUnavailable, match="credentials"):
        AwsSimulatorTarget(explicitly_requested=True, environ={"IAMCONF_AWS": "1"}).start()
    # An AWS endpoint named through boto3's configuration is still AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", "https://iam.amazonaws.com")
    with pytest.raises(TargetUnavailable, match="credentials"):
        AwsSimulatorTarget(explicitly_requested=True, environ={"IAMCONF_AWS": "1"}).start()
