"""The legend below a figure: long labels wrapped and kept inside the figure."""


def test_a_legend_below_the_figure_with_long_labels_is_wrapped_never_cut():
    """A comparison's designs are named by their values (``A: severe,
    arms.treatment.rate=0.69, analysis.test=fisher``): two columns of such
    labels ran off both sides of the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from simulator.report.figures import _axes, _finish
    for labels in (["A: severe, arms.treatment.rate=0.69, analysis.test=fisher",
                    "B: severe, arms.treatment.rate=0.45, analysis.test=boschloo",
                    "Target power 90%"],
                   ["A: " + ", ".join(f"key{i}.value=0.{i}" for i in range(12)), "B: short"]):
        fig, (ax,) = _axes()
        for i, label in enumerate(labels):
            ax.plot([0, 1], [i, i], label=label)
        _finish(ax, "x", "y", legend="outside")
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        box = fig.legends[0].get_window_extent(canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width, labels
