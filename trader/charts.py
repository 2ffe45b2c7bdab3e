"""Fees and realised P&L over time as small server-rendered SVG charts: no chart library, no script, nothing for
a Content-Security-Policy to refuse, and the picture is in the page the moment it loads. Pure: numbers in, markup
out; every text in the markup is escaped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from trader.selectors import DayTotals

LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 28


@dataclass(frozen=True)
class Frame:
    """The drawing's size in SVG units: text is 11 units tall, so a narrower frame reads larger when scaled."""

    width: int = 720
    height: int = 200


WIDE = Frame(720, 170)
HALF = Frame(440, 220)


def fill_days(rows: list[DayTotals], *, since: date, days: int) -> list[DayTotals]:
    """One entry per calendar day, zero where nothing happened, so gaps read as quiet days, not missing data."""
    by_day = {r.day: r for r in rows}
    zero = Decimal(0)
    return [by_day.get(d, DayTotals(d, zero, zero, zero)) for d in (since + timedelta(n) for n in range(days))]


def cumulative(series: list[DayTotals]) -> list[tuple[date, Decimal]]:
    running, points = Decimal(0), []
    for r in series:
        running += r.net
        points.append((r.day, running))
    return points


@dataclass(frozen=True)
class Total:
    fees: Decimal
    pnl: Decimal
    funding: Decimal

    @property
    def net(self) -> Decimal:
        return self.pnl + self.funding - self.fees


def total(series: list[DayTotals]) -> Total:
    return Total(
        fees=sum((r.fees for r in series), Decimal(0)),
        pnl=sum((r.pnl for r in series), Decimal(0)),
        funding=sum((r.funding for r in series), Decimal(0)),
    )


def _scale(values: list[Decimal]) -> tuple[Decimal, Decimal]:
    low = min([Decimal(0), *values])
    high = max([Decimal(0), *values])
    if high == low:
        high = low + 1
    return low, high


def _y(f: Frame, value: Decimal, low: Decimal, high: Decimal) -> float:
    span = f.height - TOP - BOTTOM
    return TOP + float((high - value) / (high - low)) * span


def _x(f: Frame, index: int, count: int) -> float:
    slot = (f.width - LEFT - RIGHT) / max(count, 1)
    return LEFT + slot * index + slot / 2


def _frame(f: Frame, points: list[tuple[date, Decimal]], low: Decimal, high: Decimal, title: str) -> list[str]:
    label = escape(title)
    parts = [
        f'<svg viewBox="0 0 {f.width} {f.height}" role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{label}</title>",
    ]
    for value in (low, (low + high) / 2, high):
        y = _y(f, value, low, high)
        parts.append(f'<line class="grid-line" x1="{LEFT}" x2="{f.width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(_short(value))}</text>')
    zero = _y(f, Decimal(0), low, high)
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{f.width - RIGHT}" y1="{zero:.1f}" y2="{zero:.1f}"/>')
    if points:
        step = max(1, len(points) // max(1, f.width // 120))
        for index in range(0, len(points), step):
            x = _x(f, index, len(points))
            day = points[index][0]
            parts.append(f'<text x="{x:.1f}" y="{f.height - 8}" text-anchor="middle">{day:%d %b}</text>')
    return parts


def bar_chart(points: list[tuple[date, Decimal]], *, title: str, fee: bool = False, f: Frame = HALF) -> SafeString:
    low, high = _scale([v for _, v in points])
    parts = _frame(f, points, low, high, title)
    slot = (f.width - LEFT - RIGHT) / max(len(points), 1)
    width = max(1.0, slot * 0.7)
    zero = _y(f, Decimal(0), low, high)
    for index, (day, value) in enumerate(points):
        if not value:
            continue
        y = _y(f, value, low, high)
        top, height = min(y, zero), abs(zero - y)
        css = "bar-fee" if fee else ("bar-pos" if value > 0 else "bar-neg")
        x = _x(f, index, len(points)) - width / 2
        parts.append(
            f'<rect class="{css}" x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" height="{max(height, 1):.1f}">'
            f"<title>{day:%Y-%m-%d}: {escape(_plain(value))} USD</title></rect>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from numbers and escaped text only


def line_chart(points: list[tuple[date, Decimal]], *, title: str, f: Frame = WIDE) -> SafeString:
    low, high = _scale([v for _, v in points])
    parts = _frame(f, points, low, high, title)
    coords = " ".join(f"{_x(f, i, len(points)):.1f},{_y(f, v, low, high):.1f}" for i, (_, v) in enumerate(points))
    if coords:
        parts.append(f'<polyline class="line" points="{coords}"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from numbers and escaped text only


def _plain(value: Decimal) -> str:
    return f"{value:,.2f}"


def _short(value: Decimal) -> str:
    magnitude = abs(value)
    if magnitude >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if magnitude >= 10_000:
        return f"{value / 1000:.0f}k"
    if magnitude >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}"
