"""One exception family for the project, so scripts exit non-zero with one clear message."""


class CallsetError(Exception):
    """Base class: a problem the operator must fix (bad input, bad config, refused action)."""


class ManifestError(CallsetError):
    """A batch's manifest.tsv is malformed (names file, row and column)."""


class ConfigError(CallsetError):
    """The workflow configuration is inconsistent in a way a schema cannot express."""


class JavaError(CallsetError):
    """No Java runtime that Hail can use was found."""


class ReleaseError(CallsetError):
    """A release cannot be written or verified."""


class CohortEmptyError(CallsetError):
    """Every sample delivered so far was rejected at intake: the cohort has no sample to QC or release."""
