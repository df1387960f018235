"""The ``diff`` and ``check`` subcommands of ``iamconf`` (registered by ``conformance.cli``).

Exit codes: 0 nothing fails (``--fail-on`` for diff; every claim held for
check), 1 something does, 2 bad input (one line naming file, line and column).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, cast

from reference.compiled import PolicyCache
from reports.model import FORMATS, PROOF_TIMEOUT, Format, mask_accounts
from reports.progress import progress

FAIL_ON = ("newly-allowed", "any", "none")


def add_subparsers(sub: argparse._SubParsersAction[Any]) -> None:
    df = sub.add_parser(
        "diff",
        help="what a new version of a policy (set) allows or denies that the old one did not",
        description=(
            "Regression report between two versions of a policy or policy set. OLD and NEW are each a policy file, "
            "'-', the JSON of 'aws iam get-policy-version', REV:PATH (git show), or a case-format v1 case "
            "without requests."
        ),
    )
    df.add_argument("old", metavar="OLD")
    df.add_argument("new", metavar="NEW")
    _common(df)
    df.add_argument("--fail-on", choices=FAIL_ON, default="newly-allowed", help="what makes the exit code 1")
    df.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    df.add_argument(
        "--explore", type=int, default=200, metavar="N", help="Hypothesis examples after the enumeration (default 200)"
    )
    df.add_argument(
        "--search",
        choices=("full", "none"),
        default="full",
        help="none: evaluate no generated request (only the proof finds changes)",
    )
    _prove_options(df, "that no request beyond the reported changes changes its decision")

    ck = sub.add_parser(
        "check",
        help="test a policy set against a spec of what it must and must not allow",
        description="Every claim of the spec is tested with generated requests: held, or broken with counterexamples.",
    )
    ck.add_argument("policies", metavar="POLICY", nargs="+", help="policy files or a case-format v1 case (as diff)")
    ck.add_argument("--spec", required=True, metavar="SPEC", help="spec file (YAML or JSON)")
    _common(ck)
    ck.add_argument("--seed", type=int, default=0)
    _prove_options(ck, "each claim for every request in its scope, or refute it with a request")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _prove_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--prove",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"prove {what} with an SMT solver (default on; the report names what lies outside the encoding)",
    )
    p.add_argument(
        "--prove-timeout",
        type=_positive_seconds,
        default=PROOF_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit of each solver query (default {PROOF_TIMEOUT:g}); a query that reaches it is 'not proved'",
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--out", metavar="FILE", help="write the report here (default: standard output)")
    p.add_argument("--mask-accounts", action="store_true", help="replace 12-digit account ids in every format")


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            yield f
    except OSError as e:
        from reports.inputs import InputError

        raise InputError(path, f"cannot write: {e.strerror or e.__class__.__name__}") from None


def run_diff_command(args: argparse.Namespace) -> int:
    from reports.diff import run_diff
    from reports.inputs import InputError, load_policy_set  # not imported by every iamconf command (5 ms)
    from reports.render import render_diff  # jinja2: loaded only when a report is written

    try:
        stdin_text = sys.stdin.read() if "-" in (args.old, args.new) else None
        cache = PolicyCache()
        old = load_policy_set(args.old, stdin_text=stdin_text, cache=cache)
        new = load_policy_set(args.new, stdin_text=stdin_text, cache=cache)
        with progress(None, "iamconf diff: searching") as tracker:

            def update(done: int, total: int) -> None:
                tracker.describe(f"iamconf diff: {done}/{total} requests evaluated, then Hypothesis")

            report = run_diff(
                old,
                new,
                seed_value=args.seed,
                explore=max(args.explore, 0),
                progress=update,
                search=args.search == "full",
            )
            if args.prove:
                from reports.prove import prove_diff

                tracker.describe("iamconf diff: proving")
                report = prove_diff(report, old, new, timeout=args.prove_timeout)
        if args.mask_accounts:
            report = mask_accounts(report)
        with _output(args.out) as out:
            out.write(render_diff(report, cast(Format, args.format)))
    except InputError as e:
        print(f"iamconf diff: {e}", file=sys.stderr)
        return 2
    for w in report.warnings:
        print(f"iamconf diff: warning: {w.version}: {w.text()}", file=sys.stderr)
    if args.fail_on == "none":
        return 0
    if args.fail_on == "any":
        return 1 if report.changes else 0
    return 1 if report.newly_allowed else 0


def run_check_command(args: argparse.Namespace) -> int:
    from reports.check import load_policies, load_spec, run_check
    from reports.inputs import InputError
    from reports.render import render_check

    try:
        spec = load_spec(args.spec)
        policies = load_policies(args.policies)
        with progress(None, "iamconf check: testing claims"):
            report = run_check(policies, spec, seed_value=args.seed)
            if args.prove:
                from reports.prove import prove_check

                report = prove_check(report, policies, timeout=args.prove_timeout)
        if args.mask_accounts:
            report = mask_accounts(report)
        with _output(args.out) as out:
            out.write(render_check(report, cast(Format, args.format)))
    except InputError as e:
        print(f"iamconf check: {e}", file=sys.stderr)
        return 2
    for w in report.warnings:
        print(f"iamconf check: warning: {w.text()}", file=sys.stderr)
    return 1 if report.broken else 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"diff": run_diff_command, "check": run_check_command}
