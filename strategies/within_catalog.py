"""Requests a catalogue-bound target can answer: catalog actions, each on a resource of its own type.

Some targets refuse a request before evaluating it when its action is not in
their IAM catalogue, or when its resource is of none (or several) of the
action's resource types, or is a specific ARN for an action that takes only
``*`` (iam-simulate does all of these: ``conformance/targets/iam_simulate.py``).
Such a request is never compared, so aiming at such a target means drawing
only requests it takes (issue 7, item 4: "the share compared is high by
construction").  ``fit_request`` turns an aimed request into one:

- an action outside the catalog becomes a catalog action of the same service
  (of the policy's services when the service is unknown); a case variant of a
  catalog action is kept (action names are not case-sensitive,
  reference_policies_elements_action.html);
- an action that takes no resource type gets ``*``; any other gets its
  resource when that ARN is of exactly one of the action's resource types and
  holds no ``*``, else a fresh ARN of one of them.

Conditions are kept as drawn: the request still hits or misses the policy's
conditions as it was aimed to.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec
from hypothesis.errors import InvalidArgument

from reference.catalog import ArnTemplate, ResourceType, get_catalog
from reference.model import Request
from strategies._catalog import action_resource_types, arn_templates, service_actions, services
from strategies._choice import Chooser
from strategies.actions import gen_action
from strategies.arns import gen_resource_arn


def _types_matching(types: tuple[ResourceType, ...], arn: str) -> int:
    return sum(1 for rt in types if any(_template_takes(t, arn) for t in arn_templates(rt.service, rt.key)))


def _template_takes(template: ArnTemplate, arn: str) -> bool:
    """The catalog's template regex, and S3's bucket naming rule, which the regex does not carry: a bucket
    name has no "/" (Amazon S3 User Guide, bucketnamingrules.html: "Bucket names can consist only of
    lowercase letters, numbers, periods (.), and hyphens (-)"), so ``arn:aws:s3:::b/k`` is an object."""
    found = template.match(arn)
    if found is None:
        return False
    return not ("BucketName" in found and "/" in found["BucketName"] and str(template).endswith("${BucketName}"))


@runtime_checkable
class Vocabulary(Protocol):
    """A target's own catalogue, when it declares one: what it knows and which requests it compares."""

    def knows_action(self, action: str) -> bool: ...

    def accepts(self, action: str, resource: str) -> bool: ...


CatalogOnly = bool | Vocabulary
"""``catalog_only`` of the strategies: False, True (the IAM catalog of ``reference``) or a target's own
``Vocabulary`` (then its ``accepts`` decides)."""


def check_catalog_only(value: object) -> CatalogOnly:
    if isinstance(value, (bool, Vocabulary)):
        return value
    raise InvalidArgument(f"catalog_only={value!r} must be True, False or a vocabulary (knows_action, accepts)")


def vocabulary_of(catalog_only: CatalogOnly) -> Vocabulary | None:
    return None if isinstance(catalog_only, bool) else catalog_only


def askable(action: str) -> bool:
    """Can the action be asked about one concrete resource (or takes only ``*``)?  Not when every ARN
    template of its resource types holds a literal ``*`` (``...:${RelativeId}/*``)."""
    types = action_resource_types(action)
    return not types or any("*" not in t.template for rt in types for t in arn_templates(rt.service, rt.key))


def _usable(action: str, vocabulary: Vocabulary | None) -> bool:
    known = get_catalog().action(action) is not None and askable(action)
    return known and (vocabulary is None or vocabulary.knows_action(action))


def catalog_action(c: Chooser, action: str, pool: tuple[str, ...], vocabulary: Vocabulary | None = None) -> str:
    """``action`` if the catalog (and the target's vocabulary) has it, in any case, and it can be asked
    about a concrete resource; else such an action of its service or of ``pool``."""
    if _usable(action, vocabulary):
        return action
    service = action.split(":", 1)[0].lower()
    candidate = action
    for _ in range(5):
        candidate = c.pick(service_actions(service)) if service in services() else gen_action(c, pool)
        if _usable(candidate, vocabulary):
            return candidate
    # A narrow vocabulary: pick among the usable actions of the service, or (for a service outside the
    # catalog, "x0z:GetA") of the pool's services.
    for scope in ((service,) if service in services() else ()), tuple(p for p in pool if p in services()):
        usable = [a for s in scope for a in service_actions(s) if _usable(a, vocabulary)]
        if usable:
            return c.pick(usable)
    return candidate


def fits_catalog(action: str, resource: str, vocabulary: Vocabulary | None = None) -> bool:
    """Would a catalogue-bound target take this resource for this (catalog) action?"""
    if vocabulary is not None:
        return vocabulary.accepts(action, resource)
    types = action_resource_types(action)
    if not types:
        return resource == "*"
    return "*" not in resource and _types_matching(types, resource) == 1


def catalog_resource(c: Chooser, action: str, resource: str, vocabulary: Vocabulary | None = None) -> str:
    """``resource`` if the target would take it for the action; ``*`` for an action without resource
    types; else a fresh ARN of one of its types that the target takes (when one is found)."""
    if fits_catalog(action, resource, vocabulary):
        return resource
    types = action_resource_types(action)
    if not types:
        return "*"
    arn = resource
    for attempt in range(6):
        # Unusual names (slashes, "=" and "&" in an id) first; plain ones last, which a target's narrower
        # reading of a template (an id that is a whole ARN component holds no "/") still takes.
        arn = gen_resource_arn(c, c.pick(types), unusual=attempt < 3).arn
        if fits_catalog(action, arn, vocabulary):
            return arn
    return arn


def fit_request(c: Chooser, request: Request, pool: tuple[str, ...], vocabulary: Vocabulary | None = None) -> Request:
    """The request with a catalog action on a resource of that action's own type (see the module docstring)."""
    action = catalog_action(c, request.action, pool, vocabulary)
    resource = catalog_resource(c, action, request.resource, vocabulary)
    if action == request.action and resource == request.resource:
        return request
    return msgspec.structs.replace(request, action=action, resource=resource)
