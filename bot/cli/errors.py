"""What a command reports as one line on stderr, and the exit codes."""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2
# `content status`: the content is valid, and at least one article is due for clinical review.
EXIT_REVIEWS_DUE = 3


class CliError(Exception):
    """A failure to report as one line."""
