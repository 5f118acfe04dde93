"""Small server-side SVG charts (no JS library, nothing from a CDN): line charts for training
curves, a heatmap for confusion matrices, horizontal bars for class probabilities."""

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#db2777",
           "#65a30d", "#a16207", "#475569")


def line_chart(series: dict[str, Sequence[tuple[float, float]]], *, width: int = 560,
               height: int = 220, y_min: float | None = None, y_max: float | None = None,
               y_label: str = "", dashed: Sequence[str] = (),
               empty: str = "No epochs finished yet.", x_label: str = "epoch") -> Markup:
    """One polyline per named series of (x, y) points, with axes, gridlines and a legend.
    Short series get a dot per point, so a two-epoch run still reads as data."""
    points = [p for values in series.values() for p in values if p[1] is not None]
    if not points:
        return Markup(f'<p class="chart-empty muted">{escape(empty)}</p>')
    pad_l, pad_r, pad_t, pad_b = 42, 14, 10, 26
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    lo = min(ys) if y_min is None else min(y_min, min(ys))
    hi = nice_ceiling(max(ys)) if y_max is None else max(y_max, max(ys))
    if hi - lo < 1e-9:
        hi = lo + 1

    def sx(x: float) -> float:
        return pad_l + (x - x0) / (x1 - x0) * (width - pad_l - pad_r)

    def sy(y: float) -> float:
        return height - pad_b - (y - lo) / (hi - lo) * (height - pad_t - pad_b)

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(y_label)}">']
    for i in range(5):
        value = lo + (hi - lo) * i / 4
        y = sy(value)
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y:.1f}" y2="{y:.1f}" '
                     'class="grid"/>')
        parts.append(f'<text x="{pad_l - 6}" y="{y + 4:.1f}" class="tick y-tick" '
                     f'text-anchor="end">{value:.2g}</text>')
    for x in _epoch_ticks(x0, x1):
        anchor = "start" if x == x0 else "end" if x == x1 else "middle"
        parts.append(f'<text x="{sx(x):.1f}" y="{height - 8}" class="tick x-tick" '
                     f'text-anchor="{anchor}">{x:g}</text>')
    parts.append(f'<text x="{pad_l - 8}" y="{height - 8}" class="tick axis-name" '
                 f'text-anchor="end">{escape(x_label)}</text>')
    longest = max(len(values) for values in series.values())
    for index, (name, values) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        shown = [(sx(x), sy(y)) for x, y in values if y is not None]
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in shown)
        dash = ' stroke-dasharray="5 4"' if name in dashed else ""
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" '
                     f'stroke-width="2"{dash}><title>{escape(name)}</title></polyline>')
        if longest <= 25:
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>'
                      for x, y in shown]
    parts.append("</svg>")
    legend = "".join(
        f'<span class="legend-item"><span class="swatch{" dashed" if name in dashed else ""}" '
        f'style="--c:{PALETTE[i % len(PALETTE)]}"></span>{escape(name)}</span>'
        for i, name in enumerate(series))
    return Markup(f'<figure class="chart-figure">{"".join(parts)}'
                  f'<figcaption class="legend">{legend}</figcaption></figure>')


def nice_ceiling(value: float) -> float:
    """The next value whose quarter is a round number (gridlines sit at quarters), so the
    axis reads 0, 0.6, 1.2, 1.8, 2.4 rather than 0, 0.51, 1, 1.5, 2."""
    import math

    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    steps = (1, 1.2, 1.6, 2, 2.4, 3.2, 4, 4.8, 6, 8, 10)
    return round(next(m * power for m in steps if m * power >= value - 1e-12), 12)


def _epoch_ticks(x0: float, x1: float, most: int = 8) -> list[float]:
    """Whole epochs from first to last, thinned to a readable handful."""
    first, last = int(x0), int(x1)
    step = max(1, -(-(last - first) // (most - 1)))
    ticks = list(range(first, last + 1, step))
    if ticks[-1] != last:
        if last - ticks[-1] < step / 2:
            ticks.pop()
        ticks.append(last)
    return [float(t) for t in ticks]


def heatmap(matrix: Sequence[Sequence[int]], labels: Sequence[str], *,
            cell: int | None = None) -> Markup:
    """A confusion matrix: rows are true labels, columns predictions; each row is shaded by
    its own total so small classes are as readable as large ones. Drawn at its natural size
    (CSS only shrinks it), so three classes don't blow up to poster-sized text."""
    n = len(labels)
    cell = cell or (60 if n <= 4 else 52 if n <= 6 else 46)
    longest = max((len(label) for label in labels), default=4)
    left = 16 + 7 * longest
    top = 30 + int(5 * longest)
    size_w, size_h = left + n * cell + 6 * longest, top + n * cell + 4
    parts = [f'<svg class="heatmap" viewBox="0 0 {size_w} {size_h}" width="{size_w}" '
             f'height="{size_h}" role="img" aria-label="confusion matrix">']
    for j, label in enumerate(labels):
        x = left + j * cell + cell / 2
        parts.append(f'<text x="{x:.1f}" y="{top - 8}" class="tick" '
                     f'transform="rotate(-40 {x:.1f} {top - 8})">{escape(label)}</text>')
    for i, label in enumerate(labels):
        row = matrix[i]
        total = sum(row) or 1
        y = top + i * cell
        parts.append(f'<text x="{left - 8}" y="{y + cell / 2 + 4:.1f}" class="tick" '
                     f'text-anchor="end">{escape(label)}</text>')
        for j, count in enumerate(row):
            share = count / total
            fill = (f"rgba(21,128,61,{0.12 + 0.88 * share:.3f})" if i == j
                    else f"rgba(185,28,28,{0.85 * share:.3f})" if count else "#f8fafc")
            ink = "#fff" if share > 0.55 else "#1c2230"
            x = left + j * cell
            parts.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                         f'rx="4" fill="{fill}"><title>true {escape(label)}, predicted '
                         f'{escape(labels[j])}: {count}</title></rect>')
            if count:
                parts.append(f'<text x="{x + cell / 2 - 1:.1f}" y="{y + cell / 2 + 4:.1f}" '
                             f'text-anchor="middle" class="cell" fill="{ink}">{count}</text>')
    parts.append('<text x="2" y="12" class="axis">rows: true · columns: predicted</text></svg>')
    return Markup("".join(parts))


def probability_bars(probabilities: dict[str, float]) -> Markup:
    """Class probabilities as labelled bars, the most likely first."""
    rows = []
    for name, p in sorted(probabilities.items(), key=lambda kv: -kv[1]):
        rows.append(f'<div class="bar-row"><span class="chip chip-{escape(name)}">'
                    f'{escape(name)}</span><span class="bar"><span class="bar-fill '
                    f'bg-{escape(name)}" style="width:{100 * p:.1f}%"></span></span>'
                    f'<span class="bar-count">{100 * p:.1f}%</span></div>')
    return Markup(f'<div class="bars">{"".join(rows)}</div>')
