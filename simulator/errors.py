"""The one error type a user sees for a bad scenario or an unanswerable question."""
from __future__ import annotations


# fields that are options of the run, not keys of the scenario file
OPTION_FIELDS = frozenset({"cache", "backend", "scheduler", "scheduler_timeout", "jobs",
                           "detectable"})


class ScenarioError(ValueError):
    """A scenario value that breaks a rule, or a question with no answer.

    ``field`` is the dotted path of the offending key (``arms.treatment.rate``),
    ``file`` the scenario file it came from, if any.  ``str(err)`` is the
    one-line message the command prints.
    """

    def __init__(self, message: str, field: str | None = None, file: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.file = file

    def __str__(self) -> str:
        where = f"`{self.field}` " if self.field else ""
        prefix = f"{self.file}: " if self.file else ""
        # one line, whatever a key or value in the file contains
        text = f"{prefix}{where}{self.message}"
        return text.replace("\r", "\\r").replace("\n", "\\n")

    def in_file(self, file: str | None) -> "ScenarioError":
        """The same error, attributed to a scenario file (not an error about
        an option of the run: its cache, backend, scheduler or jobs)."""
        if self.field in OPTION_FIELDS:
            return self
        return type(self)(self.message, self.field, file)


class NoSolutionError(ScenarioError):
    """The scenario is valid but the sample-size question has no finite answer."""


class RunFailed(ScenarioError):
    """The run could not finish for a reason outside the scenario: the dask
    cluster it ran on failed.  The command exits with status 1."""
