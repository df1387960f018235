"""Resource ARNs: valid ones for every resource type of the catalog, and near misses.

A valid ARN is its resource type's template (``ArnTemplate.fill``) with a
partition, a region of that partition, an account and names that follow the
service's naming rules (``strategies.naming``).  Segments the template leaves
empty (``arn:${Partition}:s3:::${BucketName}``) stay empty.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from reference.catalog import ArnTemplate, ResourceType, get_catalog
from strategies._catalog import arn_templates, service_resource_types, services_with_resource_types, template_slots
from strategies._choice import Chooser, check_bool, check_choice, check_str, from_generator
from strategies.actions import check_services, gen_service
from strategies.naming import gen_name

_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
PARTITIONS: tuple[str, ...] = ("aws", "aws-cn", "aws-us-gov")
REGIONS: dict[str, tuple[str, ...]] = {
    "aws": (
        "us-east-1",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "sa-east-1",
        "me-central-1",
        "af-south-1",
        "ca-central-1",
    ),
    "aws-cn": ("cn-north-1", "cn-northwest-1"),
    "aws-us-gov": ("us-gov-west-1", "us-gov-east-1"),
}
ACCOUNTS: tuple[str, ...] = ("111122223333", "444455556666", "123456789012", "210987654321")
"""Accounts used most of the time (the first is the default caller's, see ``reference.model``)."""

NEAR_MISS_KINDS: tuple[str, ...] = (
    "region",
    "account",
    "partition",
    "prefix",
    "case",
    "extra-segment",
    "missing-segment",
    "slash",
)


@dataclass(frozen=True, slots=True)
class ResourceArn:
    """A generated ARN with the resource type and template it was filled from."""

    arn: str
    resource_type: ResourceType
    template: ArnTemplate


def gen_partition(c: Chooser) -> str:
    return c.weighted([(8, "aws"), (1, "aws-cn"), (1, "aws-us-gov")])


def gen_region(c: Chooser, partition: str = "aws") -> str:
    return c.pick(REGIONS.get(partition, REGIONS["aws"]))


def gen_account(c: Chooser) -> str:
    if c.chance(0.3):
        return c.text("0123456789", 12, 12)
    return c.pick(ACCOUNTS)


@functools.lru_cache(maxsize=256)
def _with_types(pool: tuple[str, ...]) -> tuple[str, ...]:
    with_types = set(services_with_resource_types())
    return tuple(s for s in pool if s in with_types) or ("s3",)


def gen_resource_type(c: Chooser, pool: tuple[str, ...]) -> ResourceType:
    """A resource type of a service of ``pool`` that has resource types (of ``s3`` if none has)."""
    return c.pick(service_resource_types(gen_service(c, _with_types(pool))))


def gen_resource_arn(
    c: Chooser,
    rt: ResourceType,
    *,
    partition: str | None = None,
    region: str | None = None,
    account: str | None = None,
    unusual: bool = True,
) -> ResourceArn:
    """An ARN of resource type ``rt`` filled from one of its templates."""
    templates = arn_templates(rt.service, rt.key)
    tpl = templates[0] if len(templates) == 1 else c.pick(templates)
    part = partition if partition is not None else gen_partition(c)
    values: dict[str, str] = {}
    for name, head in template_slots(tpl.template):
        if name == "Partition":
            values[name] = part
        elif name == "Region":
            values[name] = region if region is not None else gen_region(c, part)
        elif name == "Account":
            values[name] = account if account is not None else gen_account(c)
        else:
            values[name] = gen_name(c, rt.service, name, head=head, unusual=unusual)
    return ResourceArn(_fill(tpl.template, values), rt, tpl)


@functools.lru_cache(maxsize=8192)
def _split(template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Literal texts and placeholder names, alternating: what ``ArnTemplate.fill`` substitutes."""
    parts = _PLACEHOLDER.split(template)
    return tuple(parts[0::2]), tuple(parts[1::2])


def _fill(template: str, values: dict[str, str]) -> str:
    """``ArnTemplate(template).fill(values)``, without a regex substitution per call."""
    literals, names = _split(template)
    out = [literals[0]]
    for name, literal in zip(names, literals[1:], strict=True):
        out.append(values[name])
        out.append(literal)
    return "".join(out)


def gen_arn(c: Chooser, pool: tuple[str, ...], *, unusual: bool = True) -> str:
    """A valid ARN of a resource type of a service of ``pool``."""
    return gen_resource_arn(c, gen_resource_type(c, pool), unusual=unusual).arn


def _other(c: Chooser, options: tuple[str, ...], current: str) -> str:
    rest = [o for o in options if o != current]
    return c.pick(rest) if rest else current + "x"


def gen_near_miss(c: Chooser, arn: str, kinds: tuple[str, ...] = NEAR_MISS_KINDS) -> str:
    """``arn`` changed in one place: another region, account or partition, a changed resource-type
    prefix, one letter in another case, an extra or missing segment, an extra or missing slash."""
    kind = c.pick(kinds)
    parts = arn.split(":", 5)
    if len(parts) < 6:
        parts = ["arn", "aws", "s3", "", "", arn]
    _, partition, _, region, account, res = parts
    if kind == "region":
        parts[3] = _other(c, REGIONS.get(partition, REGIONS["aws"]), region) if region else gen_region(c, partition)
    elif kind == "account":
        parts[4] = _other(c, ACCOUNTS, account) if account else gen_account(c)
    elif kind == "partition":
        parts[1] = _other(c, PARTITIONS, partition)
    elif kind == "prefix":
        cut = min([i for i in (res.find("/"), res.find(":")) if i > 0], default=len(res))
        head, tail = res[:cut], res[cut:]
        how = c.weighted([(2, "plural"), (1, "drop"), (1, "case")])
        if how == "drop" and len(head) > 1:
            head = head[:-1]
        elif how == "case" and head[:1].isalpha():
            head = head[0].swapcase() + head[1:]
        else:
            head += "s"
        parts[5] = head + tail
    elif kind == "case":
        letters = [i for i, ch in enumerate(res) if ch.isalpha()]
        if letters:
            i = c.pick(letters)
            parts[5] = res[:i] + res[i].swapcase() + res[i + 1 :]
        else:
            parts[2] = parts[2].upper()
    elif kind == "extra-segment":
        parts[5] = res + c.pick((":", "/")) + c.pick(("x", "extra", "0", "v2"))
    elif kind == "missing-segment":
        cut = max(res.rfind("/"), res.rfind(":"))
        parts[5] = res[:cut] if cut > 0 else (res[:-1] if len(res) > 1 else res + "-")
    else:  # slash
        how = c.weighted([(1, "double"), (1, "trailing"), (1, "leading")])
        if how == "double" and "/" in res:
            i = res.index("/")
            parts[5] = res[:i] + "/" + res[i:]
        elif how == "leading" and res.startswith("/"):
            parts[5] = res[1:]
        else:
            parts[5] = res.rstrip("/") if res.endswith("/") else res + "/"
    out = ":".join(parts)
    return out if out != arn else arn + "-x"


# --------------------------------------------------------------------------- public strategies


def _check_resource_type(resource_type: object) -> ResourceType:
    if isinstance(resource_type, ResourceType):
        return resource_type
    if isinstance(resource_type, tuple) and len(resource_type) == 2:
        service, key = resource_type
        if isinstance(service, str) and isinstance(key, str):
            found = get_catalog().resource_type(service, key)
            if found is not None:
                return found
    raise InvalidArgument(f"resource_type={resource_type!r} must be a catalog ResourceType or a (service, key) pair")


def resource_types(*, services: str | list[str] | tuple[str, ...] | None = None) -> SearchStrategy[ResourceType]:
    """Resource types (catalog records) of the given services, or of any service that has some.

    Shrinks towards a resource type of a service early in the catalog's order.
    """
    pool = check_services(services)
    if not any(s in services_with_resource_types() for s in pool):
        raise InvalidArgument(f"none of the services {services!r} has resource types")
    return from_generator("resource_types", gen_resource_type, pool=pool)


def resource_arns(
    *,
    services: str | list[str] | tuple[str, ...] | None = None,
    resource_type: ResourceType | tuple[str, str] | None = None,
    partition: str | None = None,
    unusual: bool = True,
) -> SearchStrategy[ResourceArn]:
    """Valid ARNs with the resource type and template they were filled from.

    Each ARN matches its template (``ResourceArn.template.match(arn)`` is not None).
    ``resource_type`` fixes the type (a catalog record or ``(service, key)``); otherwise the
    type is drawn from ``services``.  ``partition`` fixes the partition (regions follow it).
    ``unusual`` lets names that allow it carry ``/``, ``:``, spaces and other legal oddities.
    Shrinks towards partition ``aws``, region ``us-east-1``, account ``111122223333`` and
    each placeholder's shortest known-good name.
    """
    check_bool("unusual", unusual)
    part = None if partition is None else check_choice("partition", partition, PARTITIONS)
    if resource_type is not None:
        if services is not None:
            raise InvalidArgument("give resource_type or services, not both")
        rt = _check_resource_type(resource_type)
        return from_generator("resource_arns", _fixed_type, rt=rt, partition=part, unusual=unusual)
    pool = check_services(services)
    if not any(s in services_with_resource_types() for s in pool):
        raise InvalidArgument(f"none of the services {services!r} has resource types")
    return from_generator("resource_arns", _drawn_type, pool=pool, partition=part, unusual=unusual)


def _fixed_type(c: Chooser, *, rt: ResourceType, partition: str | None, unusual: bool) -> ResourceArn:
    return gen_resource_arn(c, rt, partition=partition, unusual=unusual)


def _drawn_type(c: Chooser, *, pool: tuple[str, ...], partition: str | None, unusual: bool) -> ResourceArn:
    return gen_resource_arn(c, gen_resource_type(c, pool), partition=partition, unusual=unusual)


def arns(
    *,
    services: str | list[str] | tuple[str, ...] | None = None,
    resource_type: ResourceType | tuple[str, str] | None = None,
    partition: str | None = None,
    unusual: bool = True,
) -> SearchStrategy[str]:
    """Valid resource ARNs (strings); see :func:`resource_arns`, which this maps to ``.arn``.

    Shrinks as :func:`resource_arns` does.
    """
    return resource_arns(services=services, resource_type=resource_type, partition=partition, unusual=unusual).map(
        _arn_of
    )


def _arn_of(r: ResourceArn) -> str:
    return r.arn


def arn_near_misses(*, arn: str, kinds: list[str] | tuple[str, ...] | None = None) -> SearchStrategy[str]:
    """ARNs that differ from ``arn`` in one place (never equal to it).

    ``kinds`` limits the changes to some of :data:`NEAR_MISS_KINDS`.  Shrinks towards
    the change that takes the fewest choices (for ``arn:aws:s3:::b/k``: ``arn:aws:s3:::b``).
    """
    check_str("arn", arn)
    if kinds is None:
        chosen = NEAR_MISS_KINDS
    else:
        if isinstance(kinds, str) or not kinds:
            raise InvalidArgument(f"kinds={kinds!r} must be a non-empty list of {NEAR_MISS_KINDS}")
        for k in kinds:
            check_choice("kinds", k, NEAR_MISS_KINDS)
        chosen = tuple(k for k in NEAR_MISS_KINDS if k in kinds)
    return from_generator("arn_near_misses", gen_near_miss, arn=arn, kinds=chosen)


def partitions() -> SearchStrategy[str]:
    """The three partitions; shrinks towards ``aws``."""
    return from_generator("partitions", gen_partition)


def regions(*, partition: str = "aws") -> SearchStrategy[str]:
    """Regions of a partition; shrinks towards its first (``us-east-1`` for ``aws``)."""
    check_choice("partition", partition, PARTITIONS)
    return from_generator("regions", gen_region, partition=partition)


def accounts() -> SearchStrategy[str]:
    """12-digit account ids, mostly from :data:`ACCOUNTS`; shrinks towards ``111122223333``."""
    return from_generator("accounts", gen_account)
