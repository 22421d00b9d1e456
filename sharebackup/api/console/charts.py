"""A bar chart as inline SVG, drawn on the server (no script, no library): backups per day with
failures stacked in a second colour, and the numbers in text for those who cannot see colour."""
from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 720, 180, 24


def daily_bars(days: list[dict]) -> Markup:
    top = max([d["backups"] for d in days] + [1])
    step = (WIDTH - 2 * PAD) / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        ok = day["backups"] - day["failures"]
        x = PAD + i * step
        h_ok = (HEIGHT - 2 * PAD) * ok / top
        h_bad = (HEIGHT - 2 * PAD) * day["failures"] / top
        label = escape(f"{day['day']}: {day['backups']} backups, {day['gigabytes']} GiB, {day['failures']} failed")
        bars.append(f'<g><title>{label}</title>'
                    f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h_ok:.1f}" width="{step * 0.8:.1f}" height="{h_ok:.1f}" '
                    f'class="bar-ok"/>'
                    f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h_ok - h_bad:.1f}" width="{step * 0.8:.1f}" '
                    f'height="{h_bad:.1f}" class="bar-failed"/></g>')
    first, last = (escape(days[0]["day"]), escape(days[-1]["day"])) if days else ("", "")
    return Markup(
        f'<svg role="img" aria-labelledby="chart-title" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="chart-title">Backups per day (failed ones on top)</title>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>'
        f'{"".join(bars)}'
        f'<text x="{PAD}" y="{HEIGHT - 6}" class="tick">{first}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 6}" text-anchor="end" class="tick">{last}</text>'
        f'<text x="{PAD}" y="{PAD - 8}" class="tick">max {top} a day</text></svg>')
