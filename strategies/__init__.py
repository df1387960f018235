"""Hypothesis strategies for IAM policy evaluation cases (case-format v1).

Every public function returns a ``SearchStrategy``, takes keyword-only
arguments, checks them when called (``hypothesis.errors.InvalidArgument``) and
says in its docstring what it shrinks towards.  The same generators also run
from a seeded ``random.Random`` for bulk, reproducible generation
(:func:`generate_cases`); see ``strategies._choice`` for how.

Modules, one job each: ``actions``, ``arns`` (names: ``naming``), ``tags``,
``values`` (typed values and boundaries), ``context``, ``conditions``,
``policies``, ``mutations``, ``targets`` (a policy read for aiming), ``fill``
(text a pattern covers), ``satisfy`` (context for a condition clause),
``aimed``, ``cases``, ``generate``, ``stats``, ``profiles``, ``bench``.
"""

from __future__ import annotations

from strategies._catalog import ANCHOR_SERVICES
from strategies.actions import action_patterns, action_variants, actions, unknown_actions
from strategies.aimed import aimed_cases, aimed_requests
from strategies.arns import (
    NEAR_MISS_KINDS,
    PARTITIONS,
    ResourceArn,
    accounts,
    arn_near_misses,
    arns,
    partitions,
    regions,
    resource_arns,
    resource_types,
)
from strategies.cases import cases
from strategies.conditions import (
    BASE_OPERATORS,
    FAMILIES,
    IF_EXISTS_OPERATORS,
    SET_OPERATORS,
    condition_blocks,
    condition_operators,
)
from strategies.context import boundary_values, condition_keys, context_entries, contexts
from strategies.generate import encode_case, generate_cases, generate_stats, write_cases
from strategies.mutations import Mutation, policy_mutations
from strategies.naming import names
from strategies.policies import policy_documents, policy_texts
from strategies.profiles import load_profile
from strategies.stats import GenerationStats, case_features, record_events
from strategies.tags import tag_key_variants, tag_keys, tag_sets, tag_values

__all__ = [
    "ANCHOR_SERVICES",
    "BASE_OPERATORS",
    "FAMILIES",
    "IF_EXISTS_OPERATORS",
    "NEAR_MISS_KINDS",
    "PARTITIONS",
    "SET_OPERATORS",
    "GenerationStats",
    "Mutation",
    "ResourceArn",
    "accounts",
    "action_patterns",
    "action_variants",
    "actions",
    "aimed_cases",
    "aimed_requests",
    "arn_near_misses",
    "arns",
    "boundary_values",
    "case_features",
    "cases",
    "condition_blocks",
    "condition_keys",
    "condition_operators",
    "context_entries",
    "contexts",
    "encode_case",
    "generate_cases",
    "generate_stats",
    "load_profile",
    "names",
    "partitions",
    "policy_documents",
    "policy_mutations",
    "policy_texts",
    "record_events",
    "regions",
    "resource_arns",
    "resource_types",
    "tag_key_variants",
    "tag_keys",
    "tag_sets",
    "tag_values",
    "unknown_actions",
    "write_cases",
]
