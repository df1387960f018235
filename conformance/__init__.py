"""The differential harness and the ``iamconf`` command line."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("iam-conformance")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
