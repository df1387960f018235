"""Typed values, as request context values and as condition values, and values on a condition's boundary.

Every value is a string, as the simulator takes context values.  The base
types are the simulator's ``ContextKeyType`` without ``List``: ``string``,
``numeric``, ``date``, ``boolean``, ``ip``, ``binary``.  How the reference
reads them is in ``reference.conditions`` (``read_number``, ``read_instant``,
``read_network``, ...); the boundary helpers below use those readers so that
"just above" means just above for the evaluator too.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from decimal import Decimal

from reference.conditions import read_binary, read_bool, read_instant, read_network, read_number
from strategies._choice import Chooser
from strategies.arns import gen_account, gen_arn, gen_region
from strategies.tags import gen_tag_key

BASE_TYPES: tuple[str, ...] = ("string", "numeric", "date", "boolean", "ip", "binary")

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
SAFE_TEXT = _ALNUM + " -_./:=+@,;!'()&%#~\u00e9\u00fc\u00df\u00a0\u00ff"
"""Printable text within U+0020-U+00FF (what the simulator accepts in a policy)."""
WIDE_TEXT = SAFE_TEXT + "\u65e5\u0436\u2603\t\U0001f600"
"""Adds characters outside Latin-1 (a policy carries them as JSON ``\\u`` escapes) and a tab."""

STRINGS: tuple[str, ...] = (
    "value",
    "",
    "sagemaker-demo",
    "codepipeline.amazonaws.com",
    "Engineering",
    "alice",
    "us-east-1",
    "a b",
    "x*y",
    "q?",
    "UPPER",
    "caf\u00e9",
)
SERVICE_PRINCIPALS: tuple[str, ...] = (
    "cloudformation.amazonaws.com",
    "codepipeline.amazonaws.com",
    "lambda.amazonaws.com",
    "ec2.amazonaws.com",
    "glue.amazonaws.com",
    "sagemaker.amazonaws.com",
    "states.amazonaws.com",
)
PRINCIPAL_TYPES: tuple[str, ...] = ("User", "AssumedRole", "FederatedUser", "Account", "Anonymous")
USER_NAMES: tuple[str, ...] = ("alice", "bob", "conformance", "Alice", "svc.user@example.com", "o'brien")
NUMBERS: tuple[str, ...] = ("0", "1", "3600", "-1", "2.5", "100000", "0.001", "7200", "10")
DATES: tuple[str, ...] = (
    "2024-01-01T00:00:00Z",
    "2021-09-15T12:30:00Z",
    "2030-12-31T23:59:59Z",
    "2024-02-29",
    "2024-06-01T08:00:00+02:00",
    "2024-06-01T06:00:00.500Z",
    "1704067200",
    "2024-01",
)
IPS: tuple[str, ...] = ("203.0.113.7", "10.0.0.1", "192.0.2.255", "198.51.100.0", "2001:db8::1", "::1", "0.0.0.0")
CIDRS: tuple[str, ...] = (
    "203.0.113.0/24",
    "10.0.0.0/8",
    "192.0.2.0/28",
    "198.51.100.7/32",
    "2001:db8::/32",
    "0.0.0.0/0",
    "203.0.113.9",
    "2001:db8:1234::/48",
)
BINARIES: tuple[str, ...] = ("QmluYXJ5VmFsdWVJbkJhc2U2NA==", "AA==", "", "aGVsbG8=", "/+8=")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def gen_text(c: Chooser, simulator_safe: bool, lo: int = 0, hi: int = 16) -> str:
    return c.text(SAFE_TEXT if simulator_safe else WIDE_TEXT, lo, hi)


def gen_string(c: Chooser, key: str = "", simulator_safe: bool = False) -> str:
    """A string value that looks like what ``key`` carries (a region for aws:RequestedRegion, ...)."""
    low = key.lower()
    if not c.chance(0.25):
        if low == "aws:requestedregion":
            return gen_region(c)
        if low.endswith("account") or low == "aws:vpceaccount":
            return gen_account(c)
        if low.endswith("orgid"):
            return "o-" + c.text("abcdefghijklmnopqrstuvwxyz0123456789", 10, 10)
        if low.endswith("orgpaths"):
            return "o-a1b2c3d4e5/r-ab12/ou-ab12-" + c.text("abcdefghijklmnopqrstuvwxyz0123456789", 8, 8) + "/"
        if low == "aws:principaltype":
            return c.pick(PRINCIPAL_TYPES)
        if low in ("aws:username",):
            return c.pick(USER_NAMES)
        if low == "aws:userid":
            return "AIDA" + c.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 17, 17)
        if low == "aws:tagkeys" or "tagkeys" in low:
            return gen_tag_key(c, simulator_safe)
        if "calledvia" in low or "service" in low:
            return c.pick(SERVICE_PRINCIPALS)
        if low.endswith("sourcevpc"):
            return "vpc-" + c.text("0123456789abcdef", 8, 8)
        if low.endswith("sourcevpce"):
            return "vpce-" + c.text("0123456789abcdef", 8, 17)
        if low.endswith("arn"):
            return gen_arn(c, ("iam", "lambda", "s3", "sagemaker", "cloudformation"))
    if not c.chance(0.5):
        return c.pick(STRINGS)
    return gen_text(c, simulator_safe)


def gen_number(c: Chooser) -> str:
    if not c.chance(0.4):
        return c.pick(NUMBERS)
    if c.chance(0.5):
        return str(c.integer(-1000, 100000))
    return f"{c.integer(0, 9999)}.{c.integer(0, 999):03d}"


def format_instant(micros: int, style: str) -> str:
    """An instant (microseconds since the epoch) written in one of the forms the Date operators read."""
    when = _EPOCH + dt.timedelta(microseconds=micros)
    if style == "epoch" and micros % 1_000_000 == 0:
        return str(micros // 1_000_000)
    # Epoch time is whole seconds (reference/UNDOCUMENTED.md, Dates): an instant with a fraction is
    # written in ISO 8601 instead.
    if style == "offset":
        local = when.astimezone(dt.timezone(dt.timedelta(hours=2)))
        return (
            local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{local.microsecond:06d}" if local.microsecond else "") + "+02:00"
        )
    if style == "date" and micros % 86_400_000_000 == 0:
        return when.strftime("%Y-%m-%d")
    frac = f".{when.microsecond:06d}" if when.microsecond else ""
    return when.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


DATE_STYLES: tuple[str, ...] = ("iso", "epoch", "offset", "date")


def gen_date(c: Chooser) -> str:
    if not c.chance(0.5):
        return c.pick(DATES)
    seconds = c.integer(946_684_800, 1_924_991_999)  # 2000 .. 2030
    return format_instant(seconds * 1_000_000, c.pick(DATE_STYLES[:3]))


def gen_bool(c: Chooser, simulator_safe: bool = False) -> str:
    value = c.pick(("true", "false"))
    if not simulator_safe and c.chance(0.1):
        return value.capitalize() if c.chance(0.5) else value.upper()
    return value


def gen_ip(c: Chooser) -> str:
    if not c.chance(0.5):
        return c.pick(IPS)
    if c.chance(0.8):
        return str(ipaddress.IPv4Address(c.integer(0, 2**32 - 1)))
    return str(ipaddress.IPv6Address((0x20010DB8 << 96) | c.integer(0, 2**64 - 1)))


def gen_cidr(c: Chooser) -> str:
    if not c.chance(0.5):
        return c.pick(CIDRS)
    if c.chance(0.8):
        return f"{ipaddress.IPv4Address(c.integer(0, 2**32 - 1))}/{c.integer(8, 32)}"
    return f"2001:db8:{c.integer(0, 0xFFFF):x}::/{c.integer(32, 128)}"


def gen_binary(c: Chooser) -> str:
    if not c.chance(0.5):
        return c.pick(BINARIES)
    raw = bytes(c.integer(0, 255) for _ in range(c.integer(1, 12)))
    return base64.b64encode(raw).decode("ascii")


def gen_value(c: Chooser, base_type: str, key: str = "", simulator_safe: bool = False) -> str:
    """A context value of a base type (``string``, ``numeric``, ...)."""
    if base_type == "numeric":
        return gen_number(c)
    if base_type == "date":
        return gen_date(c)
    if base_type == "boolean":
        return gen_bool(c, simulator_safe)
    if base_type == "ip":
        return gen_ip(c)
    if base_type == "binary":
        return gen_binary(c)
    return gen_string(c, key, simulator_safe)


# --------------------------------------------------------------------------- boundaries


def _decimal_text(d: Decimal) -> str:
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _step(d: Decimal) -> Decimal:
    """The smallest step at the precision ``d`` is written in, one digit finer."""
    exponent = d.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return Decimal(1).scaleb(-(places + 1))


def number_near(c: Chooser, value: str, where: str) -> str:
    """``where``: ``equal``, ``above``, ``below``, ``just-above``, ``just-below``."""
    d = read_number(value)
    if d is None:
        return value
    if where == "equal":
        return value if c.chance(0.5) else _decimal_text(d)
    step = _step(d) if where.startswith("just") else Decimal(c.pick((1, 10, 1000)))
    return _decimal_text(d + step if where.endswith("above") else d - step)


def date_near(c: Chooser, value: str, where: str) -> str:
    t = read_instant(value)
    if t is None:
        return value
    if where == "equal":
        return value if c.chance(0.5) else format_instant(t, c.pick(DATE_STYLES[:3]))
    step = c.pick((1, 1_000_000)) if where.startswith("just") else c.pick((60_000_000, 86_400_000_000))
    return format_instant(t + step if where.endswith("above") else t - step, c.pick(DATE_STYLES[:3]))


def address_in(c: Chooser, cidr: str, inside: bool) -> str:
    """An address inside the network of ``cidr`` (first, last or any) or just outside it."""
    net = read_network(cidr)
    if net is None:
        return "203.0.113.1"
    first, last = int(net.network_address), int(net.broadcast_address)
    top = 2**32 - 1 if net.version == 4 else 2**128 - 1
    cls = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
    if inside:
        where = c.pick(("any", "first", "last"))
        n = first if where == "first" else last if where == "last" else c.integer(first, last)
        return str(cls(n))
    outside = [n for n in (first - 1, last + 1) if 0 <= n <= top]
    if not outside:  # /0: every address of its version is inside; the other version never is
        return "2001:db8::1" if net.version == 4 else "203.0.113.1"
    return str(cls(c.pick(outside)))


def other_case(c: Chooser, value: str) -> str:
    """``value`` with its letter case changed (the same value when it has no cased letters)."""
    if value.swapcase() == value:
        return value
    return value.swapcase() if c.chance(0.5) else value.upper() if value.upper() != value else value.lower()


def flip_bool(value: str) -> str:
    b = read_bool(value)
    return "maybe" if b is None else ("false" if b else "true")


def other_binary(value: str) -> str:
    raw = read_binary(value)
    return base64.b64encode((raw or b"") + b"\x00").decode("ascii")
