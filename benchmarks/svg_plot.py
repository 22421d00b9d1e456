"""A dependency-free grouped bar chart (SVG) of the benchmark ratios."""

from __future__ import annotations

COLORS = {"sharebackup": "#2b7bb9", "restic": "#e07b39", "borg": "#5aa469"}


def ratio_chart(metrics: list[str], tools: list[str], values: dict, title: str, targets: dict | None = None) -> str:
    """values[metric][tool] = ratio to restic (restic = 1.0)."""
    width, height, left, bottom, top = 760, 360, 60, 60, 40
    plot_w, plot_h = width - left - 20, height - bottom - top
    vmax = max([v for m in metrics for v in values[m].values()] + [1.2]) * 1.1
    group_w = plot_w / len(metrics)
    bar_w = group_w * 0.8 / len(tools)
    y = lambda v: top + plot_h - v / vmax * plot_h  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>']
    for tick in [i * 0.25 for i in range(int(vmax / 0.25) + 1)]:
        out.append(f'<line x1="{left}" x2="{width - 20}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.2f}</text>')
    out.append(f'<line x1="{left}" x2="{width - 20}" y1="{y(1):.1f}" y2="{y(1):.1f}" stroke="#999" stroke-dasharray="4"/>')
    for gi, metric in enumerate(metrics):
        x0 = left + gi * group_w + group_w * 0.1
        for ti, tool in enumerate(tools):
            v = values[metric].get(tool)
            if v is None:
                continue
            x = x0 + ti * bar_w
            out.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bar_w - 2:.1f}" height="{y(0) - y(v):.1f}" fill="{COLORS.get(tool, "#888")}"/>')
            out.append(f'<text x="{x + bar_w / 2:.1f}" y="{y(v) - 3:.1f}" text-anchor="middle" font-size="10">{v:.2f}</text>')
        if targets and metric in targets:
            t = targets[metric]
            out.append(f'<line x1="{x0:.1f}" x2="{x0 + group_w * 0.8:.1f}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="red" stroke-width="2"/>')
        out.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{height - bottom + 18}" text-anchor="middle">{metric}</text>')
    for ti, tool in enumerate(tools):
        out.append(f'<rect x="{left + ti * 140}" y="{height - 22}" width="12" height="12" fill="{COLORS.get(tool, "#888")}"/>')
        out.append(f'<text x="{left + ti * 140 + 16}" y="{height - 12}">{tool}</text>')
    out.append(f'<text x="{left + len(tools) * 140}" y="{height - 12}" fill="red">red: target for sharebackup</text>')
    out.append("</svg>")
    return "\n".join(out)
