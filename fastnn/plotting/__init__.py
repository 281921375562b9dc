"""Figures for the labs, each a ``matplotlib.figure.Figure`` (Agg canvas, never pyplot) that
shows inline in Jupyter and is written as a PNG when ``path`` is given.  matplotlib is imported
on the first figure only: ``import fastnn`` does not import it.

Results (:mod:`~fastnn.plotting.results`): ``plot_history`` (train, validation and test curves),
``plot_sample_grid``, ``plot_confusion_matrix``.
Inside the network (:mod:`~fastnn.plotting.inside`): ``plot_filters``, ``plot_feature_maps``,
``plot_activation_functions``.
Layer statistics over training (:mod:`~fastnn.plotting.statistics`, from the
``fastnn.callbacks.LayerStatistics`` callback): ``plot_layer_histograms``,
``plot_layer_moments``, ``plot_gradient_norms``.
The figure machinery (:mod:`~fastnn.plotting.figure`): ``new_figure``, ``save_figure``, ``mpl``,
``series_colors``, ``log_axis``.

    from fastnn import plotting
    plotting.plot_filters(model.layers[0], "filters.png")
"""
from .figure import log_axis, mpl, new_figure, save_figure, series_colors
from .inside import plot_activation_functions, plot_feature_maps, plot_filters
from .results import plot_confusion_matrix, plot_history, plot_sample_grid
from .statistics import plot_gradient_norms, plot_layer_histograms, plot_layer_moments

__all__ = ["plot_sample_grid", "plot_history", "plot_confusion_matrix", "plot_filters",
           "plot_feature_maps", "plot_activation_functions", "plot_layer_histograms",
           "plot_layer_moments", "plot_gradient_norms", "new_figure", "save_figure", "mpl",
           "series_colors", "log_axis"]
