"""What the canvas draws over the photo, in widget pixels: dashed outlines (the context box, the
window being restored, rubber bands, the lasso), the before/after split line, the brush ring and
the ruler.
Each is drawn twice, dark and wide under light and thin, so that it shows on any photo."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF

WHITE = QColor(255, 255, 255)


def _two_tone(painter: QPainter, draw: Callable[[], None], color: QColor, dark: int, width: float) -> None:
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(QColor(0, 0, 0, dark), 3))
    draw()
    painter.setPen(QPen(color, width, Qt.PenStyle.DashLine))
    draw()


def draw_outline(painter: QPainter, rect: QRectF, color: QColor, label: str | None = None) -> None:
    """A dashed rectangle (the context box, the window being restored), optionally labelled."""
    _two_tone(painter, lambda: painter.drawRect(rect), color, 160, 1.5)
    if label:
        painter.setPen(color)
        painter.drawText(rect.topLeft() + QPointF(4, -5), label)


def draw_rubber_band(painter: QPainter, rect: QRectF, color: QColor) -> None:
    """The rectangle or box being dragged out."""
    _two_tone(painter, lambda: painter.drawRect(rect), color, 180, 1)


def draw_lasso(painter: QPainter, points: list[QPointF]) -> None:
    """The free-hand outline being drawn."""
    path = QPainterPath()
    path.addPolygon(QPolygonF(points))
    _two_tone(painter, lambda: painter.drawPath(path), WHITE, 180, 1)


def draw_split(painter: QPainter, x: float, height: float) -> None:
    """The before/after line at ``x`` with its two labels."""
    painter.setPen(QPen(QColor(0, 0, 0, 140), 3))
    painter.drawLine(QPointF(x, 0), QPointF(x, height))
    painter.setPen(QPen(WHITE, 1))
    painter.drawLine(QPointF(x, 0), QPointF(x, height))
    for text, right_side in (("before", False), ("after", True)):
        width = painter.fontMetrics().horizontalAdvance(text) + 12
        box = QRectF(x + 6 if right_side else x - 6 - width, 6, width, painter.fontMetrics().height() + 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(WHITE)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    painter.setBrush(Qt.BrushStyle.NoBrush)


def draw_brush_outline(painter: QPainter, p: QPointF, r: float) -> None:
    """Two rings, dark and light, of radius ``r`` widget pixels around the pointer."""
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(QColor(0, 0, 0, 200), 1))
    painter.drawEllipse(p, r + 1, r + 1)
    painter.setPen(QPen(QColor(255, 255, 255, 230), 1))
    painter.drawEllipse(p, r, r)
    if r < 4:  # a tiny brush: add a crosshair so the pointer stays findable
        for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            painter.drawLine(p + QPointF(3 * dx, 3 * dy), p + QPointF(6 * dx, 6 * dy))


def draw_ruler(painter: QPainter, a: QPointF, b: QPointF, label: str) -> None:
    """The measuring line from ``a`` to ``b``: end ticks across it, and its length in a label."""
    painter.setBrush(Qt.BrushStyle.NoBrush)
    line = b - a
    length = (line.x() ** 2 + line.y() ** 2) ** 0.5
    ticks = []
    if length > 0:
        normal = QPointF(-line.y() / length, line.x() / length) * 6
        ticks = [(p - normal, p + normal) for p in (a, b)]
    for pen in (QPen(QColor(0, 0, 0, 190), 3), QPen(QColor(255, 230, 60), 1.5)):
        painter.setPen(pen)
        painter.drawLine(a, b)
        for p, q in ticks:
            painter.drawLine(p, q)
    if not label:
        return
    metrics = painter.fontMetrics()
    width, height = metrics.horizontalAdvance(label) + 12, metrics.height() + 6
    middle = (a + b) / 2
    box = QRectF(middle.x() + 10, middle.y() - height - 6, width, height)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 170))
    painter.drawRoundedRect(box, 4, 4)
    painter.setPen(QColor(255, 230, 60))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
    painter.setBrush(Qt.BrushStyle.NoBrush)
