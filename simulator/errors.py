"""The one error type a user sees for a bad scenario or an unanswerable question."""
from __future__ import annotations


# fields that are options of the run, not keys of the scenario file
OPTION_FIELDS = frozenset({"cache", "backend", "scheduler", "scheduler_timeout", "jobs",
                           "detectable"})


class ScenarioError(ValueError):
    """A scenario value that breaks a rule, or a question with no answer.

    The one error a user sees (a ``ValueError``).  ``str(err)`` is the
    one-line message the command prints.

    Attributes
    ----------
    message : str
        The rule broken and the value given.
    field : str or None
        The dotted path of the offending key (``arms.treatment.rate``); from
        the keyword functions, the argument (``treatment``).
    file : str or None
        The scenario file it came from, if any.

    Examples
    --------
    >>> import simulator
    >>> try:
    ...     simulator.sample_size(control=0.2, treatment=1.2)
    ... except simulator.ScenarioError as err:
    ...     print(err.field, "|", err)
    treatment | `treatment` must be a probability in [0, 1]; got 1.2
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
    """The scenario is valid but the sample-size question has no finite answer.

    Examples
    --------
    >>> import simulator
    >>> try:
    ...     simulator.sample_size(control=0.2, treatment=0.21, sample_size={"max_control": 50})
    ... except simulator.NoSolutionError as err:
    ...     print(type(err).__name__, err.field)
    NoSolutionError sample_size.max_control
    """


class RunFailed(ScenarioError):
    """The run could not finish for a reason outside the scenario: the dask
    cluster it ran on failed.  The command exits with status 1."""
