"""Error types and the exit codes they map to (docs/usage.md#exit-codes).

Every error a user can cause carries a one-line message that names the file and what was expected;
the CLI prints that line and exits with the class's code, never a traceback unless --debug.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    PASSED = 0
    FINDINGS = 1
    SCAN_ERROR = 2
    NOTHING_TO_SCAN = 3
    USAGE_ERROR = 4
    # The shell's convention for a process ended by SIGINT (Ctrl-C) or SIGTERM.
    INTERRUPTED = 130
    TERMINATED = 143


class BdscanError(Exception):
    """Base class: an expected failure with a user-facing message."""

    exit_code: ExitCode = ExitCode.SCAN_ERROR


class ModelLoadError(BdscanError):
    """The model file is missing, unreadable, not ONNX, hostile, or not an image classifier."""


class ModelRuntimeError(BdscanError):
    """onnxruntime failed, crashed, hung or ran out of memory while answering queries."""


class NonFiniteOutputError(BdscanError):
    """The model answered NaN or Inf scores: a finding (rule BDS205), never a verdict.

    Labels read off NaN scores are whatever argmax makes of them, so no verdict can rest on them;
    a model that does this is broken or hiding something, and the run fails as for a finding.
    """

    exit_code = ExitCode.FINDINGS


# Errors that are findings about the model rather than failures of the scan (exit 1, not 2).
FINDING_ERRORS = frozenset({"NonFiniteOutputError"})


class DataError(BdscanError):
    """The clean data set is unreadable or does not fit the model."""


class QueryBudgetExceeded(BdscanError):
    """The detector needed more queries than --max-queries allows."""


class NothingToScanError(BdscanError):
    exit_code = ExitCode.NOTHING_TO_SCAN


class UsageError(BdscanError):
    exit_code = ExitCode.USAGE_ERROR


class ExecutorError(BdscanError):
    """The executor could not start, or could not reach the cluster it was pointed at."""


class OutputError(BdscanError):
    """A report or model could not be written."""
