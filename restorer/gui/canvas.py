"""The photo canvas: zoom and pan, the mask overlay, mask tools, live previews and before/after.

Drawing cost follows the window, not the photo: each layer is drawn from the pyramid level nearest
the zoom, and an edit repaints only the widget rectangle over the pixels it changed. All geometry
(view transform, rasterising strokes and fills) lives in Qt-free modules.
"""

from __future__ import annotations

import enum
import math

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from restorer.core.types import Bounds
from restorer.editing.boxes import square_box
from restorer.editing.document import Document
from restorer.editing.history import AcceptResult
from restorer.editing.measure import format_length
from restorer.editing.preview import PreviewFrame
from restorer.editing.pyramid import to_display8
from restorer.editing.view_transform import ViewTransform, fit, smooth_for_scale, wheel_factor
from restorer.gui.layers import ArrayImage, MaskLayer, PhotoLayer, rgba_from
from restorer.gui.overlays import (
    draw_brush_outline,
    draw_lasso,
    draw_outline,
    draw_rubber_band,
    draw_ruler,
    draw_split,
)

MASK_TINT = QColor(255, 32, 80, 115)
# "Show restorations": a colour no other overlay uses (the mask is red, the context box blue).
RESTORED_TINT = QColor(40, 255, 110, 130)
BOX_COLOR = QColor(40, 200, 255)
WINDOW_COLOR = QColor(255, 210, 40)
FRAME_COLOR = QColor(255, 90, 230)  # the face frame a restore refined the context box to
SPLIT_GRAB_PX = 6
MIN_BRUSH, MAX_BRUSH = 1, 1000


class Tool(enum.Enum):
    BRUSH = "brush"
    ERASER = "eraser"
    RECT = "rectangle"
    LASSO = "lasso"
    BOX = "box"  # the context box for the restore (e.g. around a face)
    PAN = "pan"
    RULER = "ruler"  # measures, in px and (from the scan's dpi) mm; changes nothing


class _Drag(enum.Enum):
    NONE = 0
    STROKE = 1
    RECT = 2
    LASSO = 3
    BOX = 4
    PAN = 5
    SPLIT = 6
    MEASURE = 7


class Canvas(QWidget):
    view_changed = Signal()
    pointer_moved = Signal(object)  # (x, y) image pixel under the pointer, or None
    box_drawn = Signal(object)  # Bounds of the context box the user drew (the window records it)
    brush_size_changed = Signal(int)
    split_moved = Signal(float)
    measured = Signal(str)  # the ruler's length as text, while it is dragged and when it is dropped

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(200, 150)
        self.doc: Document | None = None
        self.photo_layer: PhotoLayer | None = None
        self.mask_layer: MaskLayer | None = None
        self.view = ViewTransform()
        self.tool = Tool.BRUSH
        self.brush_size = 24  # diameter in photo pixels
        self.mask_visible = True
        self.active_window: Bounds | None = None  # the window being restored now
        self.show_before = False  # held compare key
        self.split: float | None = None  # split comparison: fraction of the width showing "before"
        self._after_layers: list[tuple[Bounds, ArrayImage]] = []
        self._before_layers: list[tuple[Bounds, ArrayImage]] | None = None  # built when first compared
        self._previews: dict[int, tuple[Bounds, ArrayImage]] = {}
        self._drag = _Drag.NONE
        self._erase = False
        self._last: tuple[float, float] | None = None  # last brush point (photo px)
        self._stroke_end: tuple[float, float] | None = None  # for shift-click straight lines
        self._drag_start = QPointF()
        self._drag_now = QPointF()
        self._lasso: list[tuple[float, float]] = []
        self._pointer: QPointF | None = None
        self._space = False
        self._fit_on_resize = True
        self.restorations_visible = False  # tint every pixel a restoration filled
        self._restored_layer: MaskLayer | None = None  # built when first shown, dropped on changes
        self.ruler: tuple[tuple[float, float], tuple[float, float]] | None = None  # photo px

    # ----- document -----
    def set_document(self, doc: Document | None, photo_layer: PhotoLayer | None = None) -> None:
        self.doc = doc
        self._after_layers, self._before_layers, self._previews = [], None, {}
        self.active_window = None
        self._restored_layer, self.ruler = None, None
        if doc is None:
            self.photo_layer = self.mask_layer = None
        else:
            icc = doc.photo.icc_profile  # shown converted to sRGB (restorer.editing.pyramid)
            stale = photo_layer is None or photo_layer.pixels is not doc.photo.pixels
            if stale or not photo_layer.shows(icc):
                photo_layer = PhotoLayer(doc.photo.pixels, icc)
            self.photo_layer = photo_layer
            self.mask_layer = MaskLayer(doc.mask, MASK_TINT)
            doc.subscribe(self._on_document)
            self._rebuild_after_layers()
        self._fit_on_resize = True
        self.fit_to_window()

    def _on_document(self, kind: str, bounds: Bounds | None) -> None:
        if self.doc is None:
            return
        if kind in ("pending", "history", "pixels"):
            self._restored_layer = None  # what is restored may have changed: rebuilt when drawn
        if kind == "mask" and bounds is not None:
            self.mask_layer.update(bounds)
            self.update_image_rect(bounds)
        elif kind == "pixels" and bounds is not None:
            self.photo_layer.refresh(bounds)
            self.update_image_rect(bounds)
        elif kind == "pending":
            self._rebuild_after_layers()
            self.update()
        elif kind == "box":
            self.update()
        elif kind == "history":
            self._before_layers = None

    def _rebuild_after_layers(self) -> None:
        pending = self.doc.pending if self.doc else None
        self._after_layers = []
        if pending is None:
            return
        pixels = self.doc.photo.pixels
        for patch in pending.patches:
            block8 = to_display8(patch.after_block(pixels), self.doc.photo.icc_profile)
            self._after_layers.append((patch.bounds, ArrayImage(rgba_from(block8, patch.where))))

    def _original_layers(self) -> list[tuple[Bounds, ArrayImage]]:
        """Accepted results' old pixels, newest first, so that drawing them all shows the original
        (results the history has baked kept no old pixels: they show as they are)."""
        if self._before_layers is None:
            layers = []
            history = self.doc.history
            for entry in reversed(history.entries[: history.position]):
                if not isinstance(entry, AcceptResult):
                    continue
                for patch in reversed(entry.pixel_patches):
                    block = self.doc.photo.pixels[patch.bounds.slices].copy()
                    block[patch.where] = patch.before
                    block8 = to_display8(block, self.doc.photo.icc_profile)
                    layers.append((patch.bounds, ArrayImage(rgba_from(block8, patch.where))))
            self._before_layers = layers
        return self._before_layers

    def _comparison_layers(self) -> tuple[list, list]:
        """(before, after) overlays: against the pending result if any, else against the original."""
        if self.doc is None:
            return [], []
        if self.doc.pending is not None:
            return [], self._after_layers
        return self._original_layers(), []

    # ----- previews during a restore -----
    def show_preview(self, frame: PreviewFrame) -> None:
        old = self._previews.get(frame.region)
        self._previews[frame.region] = (frame.bounds, ArrayImage(frame.rgba))
        self.update_image_rect(frame.bounds if old is None else frame.bounds.union(old[0]))

    def clear_previews(self) -> None:
        self._previews.clear()
        self.active_window = None
        self.update()

    def set_active_window(self, bounds: Bounds | None) -> None:
        self.active_window = bounds
        self.update()

    @property
    def context_box(self) -> Bounds | None:
        """The document's context box, drawn dashed."""
        return self.doc.box if self.doc is not None else None

    @property
    def face_frame(self) -> Bounds | None:
        """The frame the face model filled from (the context box refined), while its result is pending."""
        pending = self.doc.pending if self.doc is not None else None
        return pending.result.face_box if pending is not None else None

    # ----- view -----
    def image_size(self) -> tuple[int, int]:
        return self.doc.size if self.doc else (0, 0)

    def _set_view(self, view: ViewTransform) -> None:
        self.view = view.clamped(self.image_size(), (self.width(), self.height()))
        self.update()
        self.view_changed.emit()

    def fit_to_window(self) -> None:
        if self.doc is not None:
            self._set_view(fit(self.image_size(), (self.width(), self.height())))

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        if self.doc is None:
            return
        self._fit_on_resize = False
        at = anchor or QPointF(self.width() / 2, self.height() / 2)
        self._set_view(self.view.zoomed(factor, (at.x(), at.y())))

    def zoom_to(self, scale: float, anchor: QPointF | None = None) -> None:
        if self.doc is None:
            return
        self._fit_on_resize = False
        at = anchor or QPointF(self.width() / 2, self.height() / 2)
        self._set_view(self.view.with_scale(scale, (at.x(), at.y())))

    def image_point(self, pos: QPointF) -> tuple[float, float]:
        return self.view.to_image(pos.x(), pos.y())

    def widget_rect(self, bounds: Bounds, pad: float = 2.0) -> QRect:
        return QRectF(*self.view.widget_rect(bounds, pad)).toAlignedRect()

    def update_image_rect(self, bounds: Bounds) -> None:
        self.update(self.widget_rect(bounds).intersected(self.rect()))

    def resizeEvent(self, event) -> None:
        if self._fit_on_resize:
            self.fit_to_window()
        super().resizeEvent(event)

    # ----- tools -----
    def set_tool(self, tool: Tool) -> None:
        self.tool = tool
        if tool != Tool.RULER:
            self.ruler = None  # a measurement belongs to the ruler: it goes with it
        self._update_cursor()
        self.update()

    def set_brush_size(self, size: int) -> None:
        size = int(min(max(size, MIN_BRUSH), MAX_BRUSH))
        if size != self.brush_size:
            self.update(self._cursor_rect())
            self.brush_size = size
            self.update(self._cursor_rect())
            self.brush_size_changed.emit(size)

    def step_brush_size(self, up: bool) -> None:
        """[ and ]: about 15 % per press, at least one pixel."""
        step = max(1, round(self.brush_size * 0.15))
        self.set_brush_size(self.brush_size + (step if up else -step))

    def _update_cursor(self) -> None:
        if self._drag == _Drag.PAN:
            shape = Qt.CursorShape.ClosedHandCursor
        elif self._space or self.tool == Tool.PAN:
            shape = Qt.CursorShape.OpenHandCursor
        elif self.tool in (Tool.BRUSH, Tool.ERASER) and self.doc is not None:
            shape = Qt.CursorShape.BlankCursor  # the brush outline is the cursor
        else:
            shape = Qt.CursorShape.CrossCursor
        self.setCursor(QCursor(shape))

    def _near_split(self, pos: QPointF) -> bool:
        return self.split is not None and abs(pos.x() - self.split * self.width()) <= SPLIT_GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.doc is None or self._drag != _Drag.NONE:
            return
        pos, button = event.position(), event.button()
        self._drag_start = self._drag_now = pos
        pan_button = button == Qt.MouseButton.MiddleButton
        if pan_button or (button == Qt.MouseButton.LeftButton and (self._space or self.tool == Tool.PAN)):
            self._drag = _Drag.PAN
            self._update_cursor()
            return
        if button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return
        if button == Qt.MouseButton.LeftButton and self._near_split(pos):
            self._drag = _Drag.SPLIT
            return
        self._erase = button == Qt.MouseButton.RightButton or self.tool == Tool.ERASER
        point = self.image_point(pos)
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            self._drag = _Drag.STROKE
            self.doc.begin_stroke(self._erase)
            shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            start = self._stroke_end if shift and self._stroke_end is not None else point
            self.doc.stroke_segment(start, point, self.brush_size / 2)
            self._last = point
        elif self.tool == Tool.LASSO:
            self._drag = _Drag.LASSO
            self._lasso = [point]
        elif self.tool == Tool.RECT:
            self._drag = _Drag.RECT
        elif self.tool == Tool.BOX and button == Qt.MouseButton.LeftButton:
            self._drag = _Drag.BOX
        elif self.tool == Tool.RULER and button == Qt.MouseButton.LeftButton:
            self._drag = _Drag.MEASURE
            self.ruler = (point, point)
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        self._move_pointer(pos)
        if self.doc is None:
            return
        if self._drag == _Drag.PAN:
            delta = pos - self._drag_now
            self._drag_now = pos
            self._set_view(self.view.panned(delta.x(), delta.y()))
        elif self._drag == _Drag.STROKE:
            point = self.image_point(pos)
            self.doc.stroke_segment(self._last, point, self.brush_size / 2)
            self._last = point
        elif self._drag == _Drag.LASSO:
            point = self.image_point(pos)
            last = self._lasso[-1]
            if math.hypot(point[0] - last[0], point[1] - last[1]) * self.view.scale >= 1.0:
                self._lasso.append(point)
                self.update()
        elif self._drag in (_Drag.RECT, _Drag.BOX):
            old = self._rubber_rect()
            self._drag_now = pos
            self.update(old.united(self._rubber_rect()).adjusted(-3, -3, 3, 3))
        elif self._drag == _Drag.MEASURE:
            self.set_ruler(self.ruler[0], self.image_point(pos))
        elif self._drag == _Drag.SPLIT:
            self.split = min(max(pos.x() / max(self.width(), 1), 0.0), 1.0)
            self.split_moved.emit(self.split)
            self.update()
        elif self._near_split(pos) and self.tool not in (Tool.PAN,):
            self.setCursor(QCursor(Qt.CursorShape.SplitHCursor))
        else:
            self._update_cursor()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag, self._drag = self._drag, _Drag.NONE
        if self.doc is None or drag == _Drag.NONE:
            return
        if drag == _Drag.STROKE:
            self.doc.end_stroke()
            self._stroke_end = self._last
        elif drag == _Drag.LASSO:
            self.doc.fill_polygon(self._lasso, erase=self._erase)
            self._lasso = []
            self.update()
        elif drag == _Drag.RECT:
            self.doc.fill_rect(
                self.image_point(self._drag_start), self.image_point(event.position()), self._erase
            )
            self.update()
        elif drag == _Drag.MEASURE:
            self.set_ruler(self.ruler[0], self.image_point(event.position()))
        elif drag == _Drag.BOX:
            self._drag_now = event.position()
            bounds = self._box_bounds()
            if bounds.width >= 4:  # a click is not a box
                self.box_drawn.emit(bounds)
            self.update()
        self._update_cursor()

    def cancel_drag(self) -> None:
        """Escape: drop a rectangle or lasso in progress (a brush stroke is kept, it can be undone)."""
        if self._drag == _Drag.STROKE and self.doc is not None:
            self.doc.end_stroke()
        self._drag = _Drag.NONE
        self._lasso = []
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(wheel_factor(delta), event.position())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.isAutoRepeat():
            return
        if event.key() == Qt.Key.Key_Space:
            self._space = True
            self._update_cursor()
        elif event.key() == Qt.Key.Key_Backslash:
            self.set_show_before(True)
        elif event.key() == Qt.Key.Key_Escape and self._drag != _Drag.NONE:
            self.cancel_drag()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.isAutoRepeat():
            return
        if event.key() == Qt.Key.Key_Space:
            self._space = False
            self._update_cursor()
        elif event.key() == Qt.Key.Key_Backslash:
            self.set_show_before(False)
        else:
            super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:
        # A key released while another widget had focus never reaches us: drop held states.
        self._space = False
        self.set_show_before(False)
        super().focusOutEvent(event)

    def enterEvent(self, event) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:
        self._move_pointer(None)
        super().leaveEvent(event)

    def set_show_before(self, on: bool) -> None:
        if on != self.show_before:
            self.show_before = on
            self.update()

    def set_split(self, fraction: float | None) -> None:
        self.split = fraction
        self.update()

    def set_restorations_visible(self, on: bool) -> None:
        self.restorations_visible = on
        self.update()

    def _restored(self) -> MaskLayer:
        if self._restored_layer is None:
            # Loaded on first use: export brings the image codecs, which the window starts without.
            from restorer.editing.export import restored_area

            self._restored_layer = MaskLayer(restored_area(self.doc, include_pending=True), RESTORED_TINT)
        return self._restored_layer

    def set_ruler(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """Measure from ``start`` to ``end`` (photo pixels), clamped to the photo."""
        w, h = self.image_size()
        start, end = ((min(max(x, 0.0), w), min(max(y, 0.0), h)) for x, y in (start, end))
        self.ruler = (start, end)
        self.measured.emit(self.ruler_text())
        self.update()

    def ruler_text(self) -> str:
        if self.ruler is None or self.doc is None:
            return ""
        return format_length(*self.ruler, self.doc.photo.dpi)

    def _move_pointer(self, pos: QPointF | None) -> None:
        old = self._cursor_rect()
        self._pointer = pos
        self.update(old)
        self.update(self._cursor_rect())
        if pos is None or self.doc is None:
            self.pointer_moved.emit(None)
            return
        x, y = self.image_point(pos)
        w, h = self.image_size()
        self.pointer_moved.emit((math.floor(x), math.floor(y)) if 0 <= x < w and 0 <= y < h else None)

    def _cursor_rect(self) -> QRect:
        if self._pointer is None:
            return QRect()
        r = self.brush_size / 2 * self.view.scale + 3
        p = self._pointer
        return QRectF(p.x() - r, p.y() - r, 2 * r, 2 * r).toAlignedRect()

    def _rubber_rect(self) -> QRect:
        if self._drag == _Drag.BOX and self.doc is not None:
            return QRectF(*self.view.widget_rect(self._box_bounds())).toAlignedRect()
        return QRectF(self._drag_start, self._drag_now).normalized().toAlignedRect()

    def _box_bounds(self) -> Bounds:
        """The square context box being dragged out (the face model's window is square)."""
        start, end = self.image_point(self._drag_start), self.image_point(self._drag_now)
        return square_box(start, end, self.doc.mask.shape)

    # ----- painting -----
    def _draw_pyramid(self, painter: QPainter, layer, smooth: bool) -> None:
        level = layer.level_for_scale(self.view.scale)
        f = 2**level
        s = self.view.scale * f
        painter.setTransform(QTransform(s, 0, 0, s, self.view.offset_x, self.view.offset_y))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        w, h = self.image_size()
        area = QRectF(0, 0, w / f, h / f)
        painter.drawImage(area, layer.images[level], area)

    def _draw_layers(self, painter: QPainter, layers: list[tuple[Bounds, ArrayImage]]) -> None:
        v = self.view
        painter.setTransform(QTransform(v.scale, 0, 0, v.scale, v.offset_x, v.offset_y))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth_for_scale(v.scale))
        for bounds, image in layers:
            painter.drawImage(QPointF(bounds.left, bounds.top), image)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(event.rect(), self.palette().color(self.backgroundRole()).darker(115))
        if self.doc is None:
            return
        self._draw_pyramid(painter, self.photo_layer, smooth_for_scale(self.view.scale))
        before, after = self._comparison_layers()
        pending = self.doc.pending is not None
        sides: list[tuple[QRect, bool]]  # (clip, showing "before")
        if self.show_before:
            sides = [(self.rect(), True)]
        elif self.split is not None:
            x = round(self.split * self.width())
            sides = [
                (QRect(0, 0, x, self.height()), True),
                (QRect(x, 0, self.width() - x, self.height()), False),
            ]
        else:
            sides = [(self.rect(), False)]
        for clip, is_before in sides:
            painter.save()
            painter.resetTransform()  # the clip is in widget pixels
            painter.setClipRect(clip)
            self._draw_layers(painter, before if is_before else after)
            # A pending result would hide under the tint of the holes it fills: no tint on its side.
            # Held \ shows the photo as it was, untinted, to compare with the fill.
            if self.mask_visible and not self.show_before and (is_before or not pending):
                self._draw_pyramid(painter, self.mask_layer, smooth=False)
            if self.restorations_visible and not is_before:  # "before" shows the scan as it was
                self._draw_pyramid(painter, self._restored(), smooth=False)
            painter.restore()
        if self._previews:
            self._draw_layers(painter, list(self._previews.values()))
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._draw_outline(painter, self.context_box, BOX_COLOR, "context box")
        self._draw_outline(painter, self.face_frame, FRAME_COLOR, "face frame")
        self._draw_outline(painter, self.active_window, WINDOW_COLOR, None)
        if self.split is not None and not self.show_before:
            draw_split(painter, self.split * self.width(), self.height())
        self._draw_tool_feedback(painter)
        if self.ruler is not None:
            a, b = (QPointF(*self.view.to_widget(*p)) for p in self.ruler)
            draw_ruler(painter, a, b, self.ruler_text())
        painter.end()

    def _draw_outline(
        self, painter: QPainter, bounds: Bounds | None, color: QColor, label: str | None
    ) -> None:
        if bounds is not None:
            draw_outline(painter, QRectF(*self.view.widget_rect(bounds)), color, label)

    def _draw_tool_feedback(self, painter: QPainter) -> None:
        if self._drag in (_Drag.RECT, _Drag.BOX):
            color = BOX_COLOR if self._drag == _Drag.BOX else QColor(255, 255, 255)
            draw_rubber_band(painter, QRectF(self._rubber_rect()), color)
        if self._drag == _Drag.LASSO and len(self._lasso) > 1:
            draw_lasso(painter, [QPointF(*self.view.to_widget(x, y)) for x, y in self._lasso])
        brush_tool = self.tool in (Tool.BRUSH, Tool.ERASER)
        if (
            self._pointer is not None
            and brush_tool
            and not self._space
            and self._drag in (_Drag.NONE, _Drag.STROKE)
        ):
            draw_brush_outline(painter, self._pointer, max(self.brush_size / 2 * self.view.scale, 1.5))
