"""Which ``Resource`` / ``NotResource`` values IAM accepts.

The IAM User Guide (reference_policies_elements_resource.html) says a Resource
is ``"*"`` or an ARN, and "You can't use a wildcard in the service segment".
The rest is what IAM's ``CreatePolicy`` answers, as moto's IAM policy tests
record them (``tests/fixtures/moto/iam-policy-documents.json``, source pinned
there; the numbers below are positions in its ``accepted`` / ``refused`` lists):

- a value that is not ``arn:...`` is refused ("Resource adf must be in ARN
  format or \"*\"": refused 16, 19, 20);
- the partition must be a real one ('Partition "error" is not valid for
  resource ...': refused 21-25); the list of partitions is botocore's;
- a service part is required and must not be empty ("Resource vendor must be
  fully qualified and cannot contain regexes.": refused 38; ``arn:aws::fdsasf``:
  refused 77);
- fewer than six parts are accepted (``arn:aws:fdsasf``: accepted 9) unless an
  empty part sits between two colons (``arn:aws:s3::example_bucket``, "The
  policy failed legacy parsing": refused 36, 71).  Matching then follows the
  Guide's rule for a segment-final ``*`` (``reference.patterns.resource``):
  ``arn:aws:logs:*`` covers every logs ARN;
- IAM ARNs carry no region ("IAM resource ... cannot contain region
  information.": refused 55) and their resource part starts with an IAM
  resource type ('IAM resource path must either be "*" or start with user/,
  ...': refused 35);
- S3 ARNs carry a region only for S3's regional resource types ("Resource
  arn:aws:s3:us-east-1::example_bucket can not contain region information.":
  refused 56).

A part holding a wildcard or a policy variable could be anything, so it is
never refused for its content (only the service part refuses wildcards).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
from typing import Final

from reference.catalog import get_catalog
from reference.memo import Memo

_VARIABLE: Final = re.compile(r"\$\{[^}]*\}")
_WILD: Final = "\x00"  # stands for a wildcard or a policy variable once variables are replaced

# The message of IAM's refusal (refused 35) lists these; the catalog adds IAM's newer resource types.
_IAM_PATH_STARTS: Final = (
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
)


@functools.cache
def partitions() -> frozenset[str]:
    """AWS partitions (``aws``, ``aws-cn``, ``aws-us-gov`` ...), from botocore's partitions data
    (``botocore/data/partitions.json``, the file its loader reads for ``load_data("partitions")``, read
    directly: importing ``botocore.loaders`` costs ~40 ms, more than answering a hundred fresh cases)."""
    return frozenset(p["id"] for p in json.loads(_botocore_data("partitions.json"))["partitions"])


def _botocore_data(name: str) -> str:
    """A file of botocore's ``data`` directory, found by botocore's import spec (importing
    ``importlib.resources`` costs ~5 ms at every start); through importlib.resources if it is not a file."""
    spec = importlib.util.find_spec("botocore")
    if spec is not None and spec.origin is not None:
        path = os.path.join(os.path.dirname(spec.origin), "data", name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return f.read()
    from importlib import resources

    return resources.files("botocore").joinpath("data", name).read_text(encoding="utf-8")


def _resource_part_start(template: str) -> str:
    """The literal start of an ARN template's resource part, up to its first "/" ("" if it starts
    with a placeholder): ``role/`` for ``...:role/${RoleNameWithPath}``, ``root`` for ``...:root``."""
    literal = template.split(":", 5)[5].split("${", 1)[0]
    return literal.split("/", 1)[0] + "/" if "/" in literal else literal


@functools.cache
def _type_starts(service: str, regional: bool | None, own_only: bool = False) -> tuple[str, ...] | None:
    """Resource-part starts of every catalog resource type whose ARN has ``service`` in its service
    part (whichever service documents it: sts documents ``arn:...:iam::...:root``), only those whose
    ARN has a region when ``regional`` is True; None when such a type's resource part is all placeholder
    (anything goes).  ``own_only``: only the types ``service`` documents itself (one file to read, where
    the search for the others reads every service's raw file: ~15 ms in every new process)."""
    out: set[str] = set()
    catalog = get_catalog()
    for key in (service,) if own_only else catalog.services_whose_arns_may_name(service):
        for rt in catalog.resource_types(key):
            for t in rt.arn_templates:
                parts = str(t).split(":", 5)
                if len(parts) < 6 or parts[2] != service:
                    continue
                if regional is not None and bool(parts[3]) != regional:
                    continue
                start = _resource_part_start(str(t))
                if not start:
                    return None
                out.add(start)
    return tuple(sorted(out))


def _unknown_start(resource_part: str, service: str, regional: bool | None, known: tuple[str, ...] = ()) -> str | None:
    """The starts ``resource_part`` could have (``known`` and those of ``service``'s resource types, see
    ``_type_starts``), listed for IAM's message, when it cannot begin with any of them; else None.  The
    types ``service`` documents itself are tried first: a value that may start with one of them needs no
    look at the other services (the answer is the same: a start of the few is a start of all)."""
    own = _type_starts(service, regional, own_only=True)
    if own is None or _may_start_with(resource_part, (*known, *own)):
        return None
    every = _type_starts(service, regional)
    if every is None or (not known and not every):  # no type to compare with: nothing to refuse
        return None
    starts = tuple(sorted({*known, *every}))
    return None if _may_start_with(resource_part, starts) else ", ".join(starts)


def _may_start_with(text: str, starts: tuple[str, ...]) -> bool:
    """Can ``text`` (with ``_WILD`` for wildcards) begin with one of ``starts``?"""
    literal, wild, _ = text.partition(_WILD)
    return any(literal.startswith(s) or (wild and s.startswith(literal)) for s in starts)


def _is_literal_nonempty(part: str) -> bool:
    return bool(part) and _WILD not in part


def _resource_problem(resource: str) -> tuple[str, str] | None:
    """``(code, message)`` when IAM refuses ``resource`` as a Resource/NotResource value, else None."""
    if resource == "*":
        return None
    plain = _VARIABLE.sub(_WILD, resource).replace("*", _WILD).replace("?", _WILD)
    parts = plain.split(":", 5)
    if len(parts) < 2 or parts[0] != "arn":
        return "invalid-resource", f'resource {resource!r} must be "*" or an ARN (arn:partition:service:...)'
    if _is_literal_nonempty(parts[1]) and parts[1] not in partitions():
        return "invalid-partition", f"resource {resource!r}: {parts[1]!r} is not an AWS partition"
    if len(parts) < 3 or not parts[2]:
        return "invalid-resource", f"resource {resource!r}: the service part is missing"
    if _WILD in parts[2]:
        return (
            "wildcard-in-service-prefix",
            f"resource {resource!r}: the service segment must be a service name without wildcards",
        )
    if len(parts) < 6:
        if "::" in plain:
            return "invalid-resource", f"resource {resource!r}: an ARN with fewer than six parts has an empty part"
        return None
    service, region, resource_part = parts[2], parts[3], parts[5]
    if service == "iam":
        if _is_literal_nonempty(region):
            return "invalid-resource", f"resource {resource!r}: IAM resources cannot contain region information"
        starts = _unknown_start(resource_part, "iam", None, _IAM_PATH_STARTS)
        if starts is not None:
            return "invalid-resource", f'resource {resource!r}: an IAM resource part must be "*" or start with {starts}'
    if service == "s3" and _is_literal_nonempty(region):
        starts = _unknown_start(resource_part, "s3", True)
        if starts is not None:
            return (
                "invalid-resource",
                f"resource {resource!r}: only S3's regional resources ({starts}) contain region information",
            )
    return None


# Policies repeat their resources (a generated batch each four times): each is checked once.
resource_problem: Final[Memo[str, tuple[str, str] | None]] = Memo(_resource_problem, 65_536)
