"""The report's figures, as matplotlib ``Figure`` objects built from a
:class:`~simulator.results.PlanResult`.

Only the object-oriented API is used (``matplotlib.figure.Figure``, never
``pyplot``): no global state, headless, and a notebook displays the returned
Figure.  Figures are 6.5 inches wide (a printed page), fonts 8 pt or more.
Every plotted series has a ``label`` and a ``gid`` naming it, so tests and
callers can find the data.  Sizes are women (both arms), probabilities on
0 to 1, rates in percent, rate differences in percentage points, times in
months from the start of recruitment.
"""
from __future__ import annotations

import io
import textwrap

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import LogFormatter
from matplotlib.transforms import blended_transform_factory

from .tables import RATE_KEYS

WIDTH, HEIGHT, TALL = 6.5, 3.6, 4.0     # inches (TALL: a legend below the axes)
LABEL, SMALL = 9, 8                 # font sizes, points
TARGET = dict(color="0.35", linestyle=":", linewidth=1.2)
COLOURS = {"power": "C0", "assurance": "C1", "efficacy": "C2", "futility": "C3"}


def _axes(ncols: int = 1, height: float = HEIGHT):
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


def _finish(ax, xlabel: str, ylabel: str, legend: str | None = "best") -> None:
    """Axis labels, light grid, ticks and (when more than one series) legend."""
    ax.set_xlabel(xlabel, fontsize=LABEL)
    ax.set_ylabel(ylabel, fontsize=LABEL)
    ax.tick_params(labelsize=SMALL)
    ax.grid(True, alpha=0.3, linewidth=0.6)
    if legend == "outside":     # one legend below the figure, for every panel
        series = {label: handle for a in ax.figure.axes
                  for handle, label in zip(*a.get_legend_handles_labels())}
        # the figure's width holds three columns of 26 characters, two of 40, one of 80:
        # a longer label (a comparison's design named by its values) is wrapped, never cut
        longest = max(map(len, series))
        ncols = 3 if longest <= 26 else 2 if longest <= 40 else 1
        labels = [textwrap.fill(label, 80, subsequent_indent="   ") for label in series]
        ax.figure.legend(series.values(), labels, loc="outside lower center", ncols=ncols,
                         fontsize=SMALL)
    elif legend and len(ax.get_legend_handles_labels()[1]) > 1:
        ax.legend(loc=legend, fontsize=SMALL, framealpha=0.9)


def _size_label(result, what: str | None = None) -> str:
    """What a total size counts: analysed (2x2 designs: with a known outcome)
    or randomised (patient-level), or ``what`` is given ("" for neither)."""
    if what is None:
        what = "randomised" if result.patient is not None else "analysed (with a known outcome)"
    seq = result.sequential is not None and len(result.sequential.looks) > 1
    return f"{'Maximum w' if seq else 'W'}omen{' ' + what if what else ''}, both arms"


def _arm(result, which: str) -> str:
    return getattr(result.scenario, which).label


def _difference_label(result) -> str:
    return (f"Difference in live-birth rate, {_arm(result, 'treatment')}\n"
            f"minus {_arm(result, 'control')} (percentage points)")


def _numbers(values, factor: float = 1.0) -> np.ndarray:
    """Floats, None as NaN (a gap in a line)."""
    return np.array([np.nan if v is None else v * factor for v in values], dtype=float)


def _band(ax, x, centre, se, gid: str, colour: str, label: str) -> None:
    """Pointwise 95% band centre +- 1.96 se, clipped to [0, 1]."""
    centre, se = np.asarray(centre, float), np.asarray(se, float)
    ax.fill_between(x, np.clip(centre - 1.96 * se, 0, 1), np.clip(centre + 1.96 * se, 0, 1),
                    color=colour, alpha=0.2, linewidth=0, gid=gid, label=label)


def power_curve(result) -> Figure:
    """Power (and, with priors, assurance) against the total size, with the
    targets and the chosen sizes marked; y is a probability, 0 to 1."""
    points = sorted(result.power_curve, key=lambda p: p.n_total)
    x = np.array([p.n_total for p in points])
    s = result.scenario
    series = [("power", "Power", result.method, s.target_power, result.reported, "chosen_size")]
    if result.assurance is not None:
        a = result.assurance
        series.append(("assurance", "Assurance", a.method, s.target_assurance,
                       a.sample_size.answer if a.sample_size else None, "assurance_size"))
    fig, (ax,) = _axes()
    # a line joins neighbouring sizes only (consecutive control-arm sizes);
    # across sizes that were not evaluated there is a gap, every size a dot
    gap = np.diff([p.n_control for p in points], prepend=points[0].n_control) > 1
    xs = np.insert(x.astype(float), np.flatnonzero(gap), np.nan)
    for name, title, method, target, chosen, chosen_gid in series:
        colour = COLOURS[name]
        y = np.insert(np.array([getattr(p, name) for p in points], float),
                      np.flatnonzero(gap), np.nan)
        how = "exact" if method == "exact" else "Monte Carlo"
        ax.plot(xs, y, color=colour, linewidth=1.6, marker="o", markersize=2.5, gid=name,
                label=f"{title} ({how}) at the sizes evaluated")
        if method != "exact":
            se = np.insert(np.array([getattr(p, f"{name}_se") for p in points], float),
                           np.flatnonzero(gap), np.nan)
            _band(ax, xs, y, se, f"{name}_band", colour,
                  f"{title}: pointwise 95% Monte Carlo band")
        if target is not None:
            ax.axhline(target, color=colour, linestyle=":", linewidth=1.2,
                       gid=f"target_{name}", label=f"Target {name} {target:.0%}")
        if chosen is not None:
            value = getattr(chosen, name)
            verb = "Evaluated" if name == "power" and result.sample_size is None else "Chosen"
            ax.plot([chosen.n_total] * 2, [0, value], color=colour, linestyle="--",
                    linewidth=1, marker="o", markevery=[1], gid=chosen_gid,
                    label=f"{verb} size: {chosen.n_total:,} women, {name} {value:.2f}")
    ax.set_ylim(0, 1)
    ax.set_xlim(x.min(), x.max())
    _finish(ax, _size_label(result),
            "Power / assurance" if result.assurance is not None else "Power",
            legend="lower right")
    return fig


def _key_label(result, key: str) -> str:
    """A swept key in words (rates in percent)."""
    arm = RATE_KEYS.get(key)
    words = {"recruitment.target_months": "Months of recruitment",
             "centres.number": "Centres", "recruitment.per_centre_month":
             "Women per centre per month"}.get(key)
    if words:
        return f"{words}\n({key})"
    return f"Live-birth rate, {_arm(result, arm)} (%)" if arm else key


def _key_values(key: str, values) -> np.ndarray:
    return np.asarray(values, float) * (100 if key in RATE_KEYS else 1)


def sensitivity(result) -> Figure | None:
    """The required total size (and, over one key, the power at the planned
    size) across the swept values; None without a sweep."""
    if result.sweep is None:
        return None
    keys = list(result.sweep[0].values)
    draw = _sensitivity_line if len(keys) == 1 else _sensitivity_map
    return draw(result, result.sweep, *keys)


def _sensitivity_line(result, points, key: str) -> Figure:
    points = sorted(points, key=lambda p: p.values[key])
    x = _key_values(key, [p.values[key] for p in points])
    size, randomised, power = (_numbers(getattr(p, k) for p in points)
                               for k in ("n_total", "n_total_randomised", "power_at_planned"))
    planned = points[0].planned_control + points[0].planned_treatment
    fig, (left, right) = _axes(2, TALL)
    goal = f"for {result.scenario.target_power:.0%} power"
    dropout = not np.array_equal(randomised, size, equal_nan=True)     # more to randomise
    if dropout:
        left.plot(x, randomised, marker="s", markersize=3, linestyle="--", color=COLOURS["power"],
                  gid="required_randomised", label=f"Randomised {goal}")
    left.plot(x, size, marker="o", markersize=4, color=COLOURS["power"], gid="required_size",
              label=f"{'Analysed' if dropout else 'Size'} {goal}")
    missing = np.isnan(size)
    if missing.any():           # no size reaches the target: marked on the x axis
        left.plot(x[missing], np.zeros(missing.sum()), linestyle="none", marker="x",
                  color="C3", clip_on=False, gid="no_answer", label="No size reaches the target",
                  transform=blended_transform_factory(left.transData, left.transAxes))
    left.axhline(planned, **TARGET, gid="planned_size", label=f"Planned size ({planned:,})")
    left.set_ylim(bottom=0)
    right.plot(x, power, marker="o", markersize=4, color=COLOURS["power"],
               gid="power_at_planned", label="Power at the planned size")
    right.axhline(result.scenario.target_power, **TARGET, gid="target_power",
                  label=f"Target power {result.scenario.target_power:.0%}")
    right.set_ylim(0, 1)
    _finish(left, _key_label(result, key),
            _size_label(result, "") if dropout else _size_label(result), legend=None)
    _finish(right, _key_label(result, key), f"Power at the planned {planned:,} women",
            legend="outside")
    return fig


def feasibility(result) -> Figure | None:
    """The feasibility curve of a one-key sweep of a fixed design with a
    recruitment target: the power (and assurance) at the capacity, each
    point labelled with the capacity in women, and the smallest treatment
    rate the capacity detects, against the swept value; None otherwise."""
    if result.sweep is None or len(result.sweep[0].values) != 1 or not any(
            p.capacity is not None for p in result.sweep):
        return None
    s = result.scenario
    (key,) = result.sweep[0].values
    points = sorted(result.sweep, key=lambda p: p.values[key])
    x = _key_values(key, [p.values[key] for p in points])
    rows = [p.capacity_row() for p in points]
    women, power, assurance, rate = (_numbers(r[i] for r in rows) for i in (0, 3, 4, 5))
    fig, (left, right) = _axes(2, TALL)
    left.plot(x, power, marker="o", markersize=4, color=COLOURS["power"], gid="power_at_capacity",
              label="Power at the capacity (planning rates)")
    if not np.isnan(assurance).all():
        left.plot(x, assurance, marker="s", markersize=3, color=COLOURS["assurance"],
                  gid="assurance_at_capacity", label="Assurance at the capacity")
    for xi, yi, n in zip(x, power, women):
        if np.isfinite(yi) and np.isfinite(n):
            left.annotate(f"{n:.0f}", (xi, yi), xytext=(0, 5), textcoords="offset points",
                          ha="center", fontsize=SMALL, color="0.3")
    left.axhline(s.target_power, **TARGET, gid="target_power",
                 label=f"Target power {s.target_power:.0%}")
    left.set_ylim(0, 1.08)
    left.set_title("Power at the capacity (labels: women randomised)", fontsize=LABEL)
    right.plot(x, 100 * rate, marker="o", markersize=4, color="C4", gid="detectable_rate",
               label=f"Smallest {s.treatment.label} rate detected with {s.target_power:.0%} power")
    right.axhline(100 * s.treatment.rate, color=COLOURS["power"], linestyle="--", linewidth=1.2,
                  gid="planning_rate",
                  label=f"Planning {s.treatment.label} rate {100 * s.treatment.rate:.1f}%")
    right.axhline(100 * s.control.rate, color="0.35", linestyle="-.", linewidth=1.2,
                  gid="control_rate", label=f"{s.control.label} rate {100 * s.control.rate:.1f}%")
    right.set_ylim(0, 100)
    right.set_title("Detectable rate at the capacity", fontsize=LABEL)
    _finish(left, _key_label(result, key), "Probability", legend=None)
    _finish(right, _key_label(result, key), f"Live-birth rate, {s.treatment.label} (%)",
            legend="outside")
    return fig


def _sensitivity_map(result, points, xkey: str, ykey: str) -> Figure:
    xs = sorted({p.values[xkey] for p in points})
    ys = sorted({p.values[ykey] for p in points})
    grid = np.full((len(ys), len(xs)), np.nan)
    for p in points:
        if p.n_total is not None:
            grid[ys.index(p.values[ykey]), xs.index(p.values[xkey])] = p.n_total
    fig, (ax,) = _axes()
    cmap = colormaps["viridis"].with_extremes(bad="0.8")
    finite = grid[np.isfinite(grid)]
    norm = LogNorm(finite.min(), finite.max()) if finite.size else None
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, origin="lower",
                      aspect="auto", gid="required_size",
                      label=f"Size for {result.scenario.target_power:.0%} power")
    for (j, i), value in np.ndenumerate(grid):
        dark = np.isfinite(value) and norm(value) < 0.6
        ax.text(i, j, "none" if np.isnan(value) else f"{value:.0f}", ha="center", va="center",
                fontsize=SMALL, color="white" if dark else "black", gid="required_size_text")
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in _key_values(xkey, xs)])
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in _key_values(ykey, ys)])
    bar = fig.colorbar(image, ax=ax, format=LogFormatter(labelOnlyBase=False))
    bar.ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
    bar.set_label(f"{_size_label(result, 'randomised' if result.patient else 'analysed')}\nfor "
                  f"{result.scenario.target_power:.0%} power (grey: none)", fontsize=LABEL)
    _mark_base(ax, result, (xkey, ykey), (xs, ys))
    bar.ax.tick_params(which="both", labelsize=SMALL)
    _finish(ax, _key_label(result, xkey), _key_label(result, ykey),
            legend="outside" if ax.get_legend_handles_labels()[1] else None)
    ax.grid(False)
    return fig


def _mark_base(ax, result, keys, grids) -> None:
    """Outline the base scenario's cell of a heat map, or, when its values
    fall between the swept ones, mark where it lies."""
    base = [_base_value(result, key) for key in keys]
    if any(v is None for v in base):
        return
    at = [float(np.interp(v, values, range(len(values)), left=np.nan, right=np.nan))
          for v, values in zip(base, grids)]
    if not all(np.isfinite(at)):
        return
    shown = ", ".join(f"{_arm(result, RATE_KEYS[k])} {100 * v:g}%" if k in RATE_KEYS
                      else f"{k} = {v:g}" for k, v in zip(keys, base))
    if all(float(a).is_integer() for a in at):
        ax.add_patch(Rectangle((at[0] - 0.5, at[1] - 0.5), 1, 1, fill=False, edgecolor="red",
                               linewidth=2, gid="base", label=f"Base scenario: {shown}"))
    else:
        ax.plot(*at, linestyle="none", marker="*", markersize=11, markerfacecolor="white",
                markeredgecolor="red", markeredgewidth=1.2, gid="base",
                label=f"Base scenario: {shown} (between the cells swept)")


def _base_value(result, key: str):
    """The base scenario's value of a dotted key (None if it is not a number)."""
    node = result.scenario.to_dict()
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node if isinstance(node, (int, float)) and not isinstance(node, bool) else None


def boundaries(result) -> Figure | None:
    """Stopping bounds at each look against the women analysed: the test's
    scale (z, or Bayesian probability thresholds) and the observed rate
    difference (percentage points); None without interim looks."""
    seq = result.sequential
    if seq is None or len(seq.looks) < 2:
        return None
    looks = seq.looks
    n = np.array([lk.n_control + lk.n_treatment for lk in looks])
    bayes = seq.statistic == "bayesian"
    fig, axes = _axes(2, TALL)
    panels = [(axes[0], ("efficacy_posterior", "futility_predictive") if bayes
               else ("efficacy_z", "futility_z"), 1,
               "Threshold: posterior P(better) for efficacy,\npredictive P(success) for futility"
               if bayes else "Bound on the test statistic (z)",
               "Bayesian decision rule" if bayes else "Scale of the test"),
              (axes[1], ("efficacy_difference", "futility_difference"), 100,
               _difference_label(result), "Observed difference\n(control at its expected rate)")]
    last = np.arange(len(n)) == len(n) - 1
    two_sided = seq.sided == "two"
    for ax, keys, factor, ylabel, title in panels:
        eff, fut = (_numbers((getattr(lk, k) for lk in looks), factor) for k in keys)
        ax.plot(n, eff, marker="^", color=COLOURS["efficacy"], gid=keys[0],
                label="Efficacy: stop at or above")
        if two_sided and factor == 1:       # symmetric bounds: the mirror stops the other way
            fut = -eff
            ax.plot(n, fut, marker="v", color=COLOURS["efficacy"], linestyle="--",
                    gid="efficacy_z_lower", label="Efficacy, other direction: stop at or below")
        elif not np.isnan(fut).all():
            ax.plot(n, fut, marker="v", color=COLOURS["futility"], gid=keys[1],
                    label="Futility: stop at or below")
        if (bayes and factor == 1) or (two_sided and factor != 1):
            if bayes and factor == 1:       # two statistics: no region between them
                ax.set_ylim(0, 1)
        else:       # continue between the bounds (to the axis where a look has none)
            lo, hi = ax.get_ylim()
            ax.fill_between(n, np.where(last & ~two_sided, eff,
                                        np.where(np.isnan(fut), lo, fut)),
                            np.where(np.isnan(eff) & ~last, hi, eff), color="0.6", alpha=0.25,
                            linewidth=0, gid="continue", label="Continue")
            ax.set_ylim(lo, hi)
        ax.set_xticks(n, [f"{k}\n(look {i + 1})" for i, k in enumerate(n)])
        ax.set_title(title, fontsize=LABEL)
        _finish(ax, "Women analysed at the look, both arms", ylabel,
                legend="outside" if ax is axes[1] else None)
    return fig


def recruitment(result) -> Figure | None:
    """Women randomised against months: the median time to randomise each
    number of women and its 80% interval, outcomes, looks and target; None
    without a recruitment model."""
    if result.patient is not None and result.patient.duration is not None:
        model, total = result.scenario.patient.recruitment, result.patient.duration.n_women
        target, looks = result.patient.target_months, []
    elif result.capacity is not None:       # a fixed design with a recruitment model
        model, total = result.capacity.recruitment, result.capacity.planned.n_women
        target, looks = result.capacity.target_months, []
    elif result.sequential is not None and result.scenario.recruitment is not None:
        model = result.scenario.recruitment
        total = result.sequential.operating["planning"].max_n_total_needed
        calendar = result.sequential.calendar
        target, looks = None, calendar.looks if calendar is not None else []
    else:
        return None
    cap = result.capacity
    most = cap.n_women if cap is not None and cap.n_women else None
    women = np.arange(1, max(total, most or 0) + 1)
    lo, mid, hi = model.months_to_enrol(women, [[0.1], [0.5], [0.9]])
    f = model.follow_up_months
    fig, (ax,) = _axes(1, TALL)
    ax.fill_betweenx(women, lo, hi, color="C0", alpha=0.2, linewidth=0, gid="enrolment_band",
                     label="Randomised: 10th to 90th centile")
    ax.plot(mid, women, color="C0", linewidth=1.6, gid="enrolment_median",
            label="Randomised: median")
    if f > 0:
        ax.plot(mid + f, women, color="C2", linestyle="--", linewidth=1.4, gid="outcome_median",
                label=f"Outcome known: median (+{f:g} months)")
    ax.axhline(total, **TARGET, gid="total", label=f"Women to randomise: {total:,}")
    if most:
        ax.axhline(most, color="C4", linestyle="--", linewidth=1.2, gid="capacity",
                   label=f"Capacity: {most:,} by month {cap.target_months:g} "
                         f"(probability {cap.target_probability:.0%})")
    if looks:
        months, due = [lk.expected_month for lk in looks], [lk.outcomes_due for lk in looks]
        ax.vlines(months, 0, due, color="C3", linewidth=1.2, gid="looks",
                  label="Looks: expected month, outcomes awaited")
        ax.plot(months, due, linestyle="none", marker="o", color="C3", markersize=4,
                gid="looks_due", label="_looks_due")
        for k, (m, d) in enumerate(zip(months, due)):
            ax.annotate(f"look {k + 1}: outcomes of {d:,}", (m, 0), xytext=(2, 3),
                        textcoords="offset points",
                        rotation=90, ha="left", va="bottom", fontsize=SMALL, color="C3")
    if target is not None:
        ax.axvline(target, color="C1", linestyle="-.", linewidth=1.2, gid="target_months",
                   label=f"Target: enrolment complete by month {target:g}")
    ends = [hi[-1], mid[-1] + f, target or 0] + [lk.expected_month for lk in looks]
    ax.set_xlim(0, 1.04 * max(ends))
    ax.set_ylim(0, max(total, most or 0) * 1.05)
    _finish(ax, "Months from the start of recruitment",
            "Women (cumulative): randomised,\nor with the outcome known", legend="outside")
    return fig


def comparison_curves(comparison) -> Figure:
    """Every design's power against the women it randomises (so that designs
    with different dropout, allocation or model share the axis), one colour
    per design, each design's proposed size marked and lettered; the legend
    below names the designs."""
    fig, (ax,) = _axes(height=TALL + 0.15 * len(comparison.designs))
    styles = ("-", "--", "-.", ":")
    sizes = []
    for i, (d, r) in enumerate(comparison):
        points = sorted(r.power_curve, key=lambda p: p.n_total)
        x = np.array([sum(r.to_randomise(p)) for p in points], float)
        gap = np.diff([p.n_control for p in points], prepend=points[0].n_control) > 1
        xs = np.insert(x, np.flatnonzero(gap), np.nan)
        y = np.insert(np.array([p.power for p in points], float), np.flatnonzero(gap), np.nan)
        colour = f"C{i % 10}"
        rep = r.reported
        at = sum(r.to_randomise(rep))
        ax.plot(xs, y, color=colour, linestyle=styles[i % 4], linewidth=1.4, marker="o",
                markersize=2, gid=f"design_{d.letter}", label=f"{d.letter}: {d.label}")
        ax.plot([at], [rep.power], color=colour, marker="o", markersize=6, linestyle="none",
                gid=f"proposed_{d.letter}")
        ax.annotate(d.letter, (at, rep.power), textcoords="offset points",
                    xytext=(4, 3), fontsize=SMALL, color=colour)
        sizes += list(x)
    ax.set_xlim(min(sizes) - 1, max(sizes) + 1)
    for t in sorted({r.scenario.target_power for r in comparison.results}):
        ax.axhline(t, gid="target_power", label=f"Target power {t:.0%}", **TARGET)
    ax.set_ylim(0, 1)
    _finish(ax, "Women to randomise, both arms", "Power", legend="outside")
    return fig


def figures(result) -> dict[str, Figure]:
    """The figures that apply to ``result``, by file stem, in report order."""
    made = {name: fn(result) for name, fn in (
        ("power_curve", power_curve), ("sensitivity", sensitivity), ("feasibility", feasibility),
        ("boundaries", boundaries), ("recruitment", recruitment))}
    return {name: fig for name, fig in made.items() if fig is not None}


def png_bytes(fig: Figure, dpi: int = 150) -> bytes:
    """The figure as PNG bytes, identical on every call (no software metadata)."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()
