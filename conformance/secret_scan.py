"""Scan reports and recordings for AWS credentials and account identities before they leave a run.

- Access key ids: ``AKIA``/``ASIA`` (and the other documented prefixes of
  unique ids for keys) followed by 16 upper-case letters or digits.
- Secret access keys: a 40-character token of the base64 alphabet after a
  ``secret`` keyword, or as a whole value when it looks random (at least three
  each of upper case, lower case and digits: hex digests and action names do not).
- Session tokens: the ``FwoGZXIvYXdz``/``IQoJb3JpZ2lu`` openings of STS tokens.
- With ``accounts=True`` (recordings, where accounts are always masked): any
  12-digit account id in an ARN, an ``Account``/owner field or a caller that is
  not one of the AWS documentation accounts.

``python -m conformance.secret_scan PATH...`` prints one line per finding
(file:line:column) and exits 1 when there is any; the nightly workflow runs it
on everything it uploads.  The AWS access-key formats are described under
"Unique identifiers" in the IAM User Guide's IAM identifiers page
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from conformance.targets.recordings import DOC_ACCOUNTS, PLACEHOLDERS

ACCESS_KEY = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Z0-9])")
# A whole value (between quotes, spaces or the line's ends), not a segment of an ARN or a path.
SECRET_KEY = re.compile(r"(?:(?<=^)|(?<=[\s\"'=>(|,]))[A-Za-z0-9/+]{40}(?=$|[\s\"',<)|])")
SECRET_AFTER_KEYWORD = re.compile(r"(?i)secret[A-Za-z_]*[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
SESSION_TOKEN = re.compile(r"(?:FwoGZXIvYXdz|IQoJb3JpZ2lu)[A-Za-z0-9/+=]{20,}")
ACCOUNT_IN_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:(\d{12}):")
ACCOUNT_FIELD = re.compile(r'"(?:Account|ResourceOwner|resource_owner|account)"\s*:\s*"(\d{12})"')
# The accounts a recording may name: AWS's documentation accounts and the stand-ins recordings
# put in place of every other one (conformance/recordings/README.md).
ALLOWED_ACCOUNTS = DOC_ACCOUNTS | frozenset(PLACEHOLDERS)
STAND_IN = re.compile(r"9000000000\d\d")
SCANNED_SUFFIXES = frozenset({".json", ".ndjson", ".jsonl", ".xml", ".md", ".html", ".txt", ".sarif", ".log"})


@dataclass(frozen=True, slots=True)
class Finding:
    path: Path
    line: int
    column: int
    kind: str

    def one_line(self) -> str:
        # The secret itself is never printed: a finding names where it is and what it looks like.
        return f"{self.path}:{self.line}:{self.column}: error [{self.kind}] a value that looks like one was found"


def _looks_random(token: str) -> bool:
    return min(sum(c.islower() for c in token), sum(c.isupper() for c in token), sum(c.isdigit() for c in token)) >= 3


def _allowed_account(account: str) -> bool:
    return account in ALLOWED_ACCOUNTS or STAND_IN.fullmatch(account) is not None


def scan_text(text: str, path: Path, *, accounts: bool = False) -> Iterator[Finding]:
    for number, line in enumerate(text.splitlines(), 1):
        for m in ACCESS_KEY.finditer(line):
            yield Finding(path, number, m.start() + 1, "access-key-id")
        keyed = {m.start(1) for m in SECRET_AFTER_KEYWORD.finditer(line)}
        for m in SECRET_KEY.finditer(line):
            if m.start() in keyed or _looks_random(m.group()):
                yield Finding(path, number, m.start() + 1, "secret-access-key")
        for m in SESSION_TOKEN.finditer(line):
            yield Finding(path, number, m.start() + 1, "session-token")
        if accounts:
            for pattern in (ACCOUNT_IN_ARN, ACCOUNT_FIELD):
                for m in pattern.finditer(line):
                    if not _allowed_account(m.group(1)):
                        yield Finding(path, number, m.start(1) + 1, "account-id")


def files_under(paths: Iterable[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in SCANNED_SUFFIXES)
        elif p.is_file():
            yield p


def scan_paths(paths: Iterable[Path], *, accounts: bool = False) -> list[Finding]:
    out: list[Finding] = []
    for f in files_under(paths):
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        out.extend(scan_text(text, f, accounts=accounts))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    accounts = "--accounts" in args
    paths = [Path(a) for a in args if a != "--accounts"]
    if not paths:
        print("usage: python -m conformance.secret_scan [--accounts] PATH...", file=sys.stderr)
        return 2
    findings = scan_paths(paths, accounts=accounts)
    for f in findings:
        print(f.one_line(), file=sys.stderr)
    print(f"secret scan: {len(findings)} finding(s) in {sum(1 for _ in files_under(paths))} file(s)", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
