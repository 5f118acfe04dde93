"""Server-side SVG charts: readable axes at any scale, an empty state, natural-size matrices."""

import re

from app.services import charts


def test_axes_end_on_round_numbers():
    assert [charts.nice_ceiling(v) for v in (0.07, 0.99, 2.02, 3.1, 7, 12)] == [
        0.08, 1.0, 2.4, 3.2, 8, 12.0]
    svg = charts.line_chart({"loss": [(1, 0.4), (2, 2.02)]}, y_min=0)
    ticks = re.findall(r'class="tick y-tick" text-anchor="end">([\d.]+)</text>', svg)
    assert ticks == ["0", "0.6", "1.2", "1.8", "2.4"]


def test_short_series_get_dots_and_long_ones_thinned_epoch_ticks():
    short = charts.line_chart({"a": [(1, 0.2), (2, 0.4)]}, y_min=0, y_max=1)
    assert short.count("<circle") == 2
    long = charts.line_chart({"a": [(e, 0.5) for e in range(1, 31)]}, y_min=0, y_max=1)
    assert "<circle" not in long
    epochs = re.findall(r'class="tick x-tick" text-anchor="\w+">(\d+)</text>', long)
    assert epochs[0] == "1" and epochs[-1] == "30" and len(epochs) <= 8


def test_no_points_say_so():
    assert "No epochs finished yet." in charts.line_chart({"a": []})


def test_a_small_confusion_matrix_keeps_its_natural_size():
    svg = charts.heatmap([[3, 1], [0, 4]], ["happy", "surprise"])
    width = int(re.search(r'<svg[^>]* width="(\d+)"', svg).group(1))
    assert 150 < width < 400  # drawn at size, never stretched to a poster
    assert "true happy, predicted surprise: 1" in svg
