"""Cached, ordered views of the IAM catalog that the generators pick from.

Everything here is a sorted tuple (never a set), so that a seed gives the same
output whatever ``PYTHONHASHSEED`` is.
"""

from __future__ import annotations

import functools
import re

from reference.catalog import ArnTemplate, ConditionKey, ResourceType, get_catalog
from reference.fixtures import anchor_services
from reference.global_keys import GLOBAL_KEYS

ANCHOR_SERVICES: tuple[str, ...] = anchor_services("v3")
"""The services of the anchor policy (``reference.fixtures.anchor_policy``), whose resource types the stats follow."""


@functools.cache
def services() -> tuple[str, ...]:
    return get_catalog().services()


@functools.cache
def service_actions(service: str) -> tuple[str, ...]:
    """``svc:Name`` of every action of a service, sorted by name."""
    return tuple(a.full_name for a in get_catalog().actions(service))


@functools.cache
def action_names_lower(service: str) -> frozenset[str]:
    return frozenset(a.lower() for a in service_actions(service))


@functools.cache
def service_resource_types(service: str) -> tuple[ResourceType, ...]:
    return get_catalog().resource_types(service)


@functools.cache
def services_with_resource_types() -> tuple[str, ...]:
    return tuple(s for s in services() if service_resource_types(s))


@functools.cache
def action_resource_types(action: str) -> tuple[ResourceType, ...]:
    """The resource types an action names (empty for an unknown action or one that only takes ``*``)."""
    cat = get_catalog()
    found = cat.action(action)
    if found is None:
        return ()
    out = []
    for art in found.resource_types:
        rt = cat.resource_type(found.service, art.name)
        if rt is not None:
            out.append(rt)
    return tuple(out)


_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


@functools.cache
def template_slots(template: str) -> tuple[tuple[str, bool], ...]:
    """(placeholder, in the five head fields) in order of first appearance."""
    seen: dict[str, bool] = {}
    for m in _PLACEHOLDER.finditer(template):
        if m.group(1) not in seen:
            seen[m.group(1)] = template.count(":", 0, m.start()) < 5
    return tuple(seen.items())


@functools.cache
def arn_templates(service: str, key: str) -> tuple[ArnTemplate, ...]:
    rt = get_catalog().resource_type(service, key)
    return () if rt is None else rt.arn_templates


@functools.cache
def service_condition_keys(service: str) -> tuple[ConditionKey, ...]:
    return get_catalog().condition_keys(service)


@functools.cache
def global_condition_keys() -> tuple[ConditionKey, ...]:
    """The hand-kept global keys (``aws:*`` and the cross-service session keys) as catalog records."""
    return tuple(
        ConditionKey(service=g.name.partition(":")[0].lower(), name=g.name, type=g.type, is_global=True)
        for g in GLOBAL_KEYS
    )
