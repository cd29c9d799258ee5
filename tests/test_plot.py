from lmutils.course.plot import LivePlot, use_course_style


def test_live_plot_records_outside_a_notebook():
    use_course_style()
    live = LivePlot(title="t")
    live.update(1, train=2.0)
    live.update(2, train=1.5, val=1.7)
    live.close()
    assert live.series == {"train": ([1, 2], [2.0, 1.5]), "val": ([2], [1.7])}
    assert live.fig is None  # nothing drawn without a notebook
