"""What a trial costs: women randomised, IVIg courses and centres opened.

Model.  cost = per_woman x (women randomised, both arms)
             + per_course x courses_per_woman x (women randomised to IVIg)
             + per_centre x (centres opened).
Every woman randomised to IVIg is counted as receiving her courses (a budget
buys them for every woman allocated, whatever the later adherence), and
dropouts cost as much as the others (they were randomised).  A sequential
design's cost is given at its maximum size and in expectation under the
planning rates and the null, from the expected number of women randomised
(the arms in the design's proportions; centres are opened whatever happens).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Costs:
    """Unit costs (the scenario's ``costs`` section), in ``currency``."""
    per_woman: float = 0.0          # each woman randomised, either arm
    per_course: float = 0.0         # one course of IVIg
    courses_per_woman: float = 1.0  # courses per woman randomised to IVIg
    per_centre: float = 0.0         # opening one centre
    currency: str | None = None     # a label ("CAD"); None: plain numbers

    def of(self, n_control: float, n_treatment: float, centres: int) -> "TrialCost":
        """The cost of randomising ``n_control`` + ``n_treatment`` women at
        ``centres`` centres."""
        courses = self.courses_per_woman * n_treatment
        return TrialCost(n_control + n_treatment, courses, centres,
                         self.per_woman * (n_control + n_treatment), self.per_course * courses,
                         self.per_centre * centres, self.currency)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class TrialCost:
    """A trial's cost, item by item."""
    women: float                # randomised, both arms
    courses: float              # IVIg courses
    centres: int
    women_cost: float
    courses_cost: float
    centres_cost: float
    currency: str | None

    @property
    def total(self) -> float:
        return self.women_cost + self.courses_cost + self.centres_cost

    def to_dict(self) -> dict:
        return {"total": self.total, "women": self.women, "courses": self.courses,
                "centres": self.centres, "women_cost": self.women_cost,
                "courses_cost": self.courses_cost, "centres_cost": self.centres_cost,
                "currency": self.currency}


def money(amount: float, currency: str | None) -> str:
    """``CAD 1,234,500`` (whole units), or ``1,234,500`` without a currency."""
    text = f"{amount:,.0f}"
    return f"{currency} {text}" if currency else text
