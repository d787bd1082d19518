"""The window's actions, menus and toolbars, with shortcuts shown in the menus and theme-aware icons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QSlider, QSpinBox, QToolBar

from restorer.gui.canvas import MAX_BRUSH, MIN_BRUSH, Tool
from restorer.gui.settings import icon

Key = QKeySequence.StandardKey
NAME_PROPERTY = "restorerName"


@dataclass
class Actions:
    """Every action by name, plus the icon name of each so icons can follow a palette change."""

    items: dict[str, QAction] = field(default_factory=dict)
    icons: dict[str, str] = field(default_factory=dict)
    tools: dict[Tool, QAction] = field(default_factory=dict)

    def __getitem__(self, name: str) -> QAction:
        return self.items[name]

    def refresh_icons(self) -> None:
        for name, icon_name in self.icons.items():
            self.items[name].setIcon(icon(icon_name))


def _make(
    window: QMainWindow,
    actions: Actions,
    name: str,
    text: str,
    slot: Callable | None,
    shortcut: str | Key | list | None = None,
    icon_name: str | None = None,
    tip: str | None = None,
    checkable: bool = False,
) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        keys = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(k) for k in keys])
    if icon_name:
        action.setIcon(icon(icon_name))
        actions.icons[name] = icon_name
    action.setCheckable(checkable)
    # The name the shortcuts dialog shows: the text may change later ("Undo Erase").
    action.setProperty(NAME_PROPERTY, text.replace("&", "").rstrip("…"))
    # Toolbar tooltips name the shortcut too: "Brush (B)".
    first_key = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()[:1])
    label = text.replace("&", "").rstrip("…")
    action.setToolTip(f"{label} ({first_key})" if first_key else label)
    if tip:
        action.setStatusTip(tip)
    if slot is not None:
        if checkable:
            action.toggled.connect(slot)
        else:
            # triggered(bool checked) would land ``checked`` in the slot's first parameter (a path,
            # a flag...): PySide 6.7+ passes it to any slot that can take an argument.
            action.triggered.connect(lambda _checked=False, call=slot: call())
    window.addAction(action)  # shortcuts work even when the menu bar is hidden
    actions.items[name] = action
    return action


def build_actions(w) -> Actions:
    """Create the actions of MainWindow ``w`` and wire them to its slots."""
    a = Actions()
    m = _make
    m(w, a, "open", "&Open…", w.open_dialog, Key.Open, "folder-open-outline", "Open a photo")
    m(
        w,
        a,
        "sample",
        "Open &Sample Photo",
        w.open_sample,
        None,
        "image-outline",
        "Open the bundled damaged photo",
    )
    m(
        w,
        a,
        "import_mask",
        "&Import Mask…",
        w.import_mask,
        "Ctrl+Shift+O",
        "file-import-outline",
        "Load a damage mask (white = damaged) from a PNG",
    )
    m(
        w,
        a,
        "export",
        "&Export…",
        w.export_dialog,
        ["Ctrl+E", Key.Save],
        "export",
        "Save the restored photo as PNG or TIFF",
    )
    m(
        w,
        a,
        "export_mask",
        "Export &Mask…",
        w.export_mask,
        "Ctrl+Shift+E",
        "file-export-outline",
        "Save the current damage mask as a PNG",
    )
    m(w, a, "quit", "&Quit", w.close, Key.Quit)

    m(w, a, "undo", "&Undo", w.undo, Key.Undo, "undo")
    m(w, a, "redo", "&Redo", w.redo, ["Ctrl+Shift+Z", "Ctrl+Y"], "redo")
    m(w, a, "clear_mask", "&Clear Mask", w.clear_mask, "Ctrl+Shift+A", "delete-outline")
    m(w, a, "invert_mask", "In&vert Mask", w.invert_mask, "Ctrl+I", "select-inverse")
    m(
        w,
        a,
        "detect",
        "&Detect Damage…",
        w.detect_damage,
        "Ctrl+Shift+D",
        "magic-staff",
        "Find scratches, dust and spots automatically and add them to the mask",
    )
    m(w, a, "grow_mask", "&Grow Mask…", w.grow_mask, "Ctrl+Shift+G", "arrow-expand-all")
    m(w, a, "shrink_mask", "&Shrink Mask…", w.shrink_mask, "Ctrl+Shift+K", "arrow-collapse-all")

    tools = [
        (Tool.BRUSH, "&Brush", "B", "brush", "Paint the damage (right button erases)"),
        (Tool.ERASER, "&Eraser", "E", "eraser", "Remove paint from the mask"),
        (Tool.RECT, "&Rectangle", "R", "selection", "Fill a rectangle (right button: erase it)"),
        (Tool.LASSO, "&Lasso", "L", "lasso", "Fill a free-hand outline (right button: erase it)"),
        (Tool.BOX, "Context &Box", "X", "crop-free", "Draw the context window, e.g. around a face"),
        (Tool.PAN, "&Pan", "H", "hand-back-right-outline", "Move the view (or hold Space, or middle-drag)"),
        (Tool.RULER, "R&uler", "U", "ruler", "Drag a line: its length in px and (from the dpi) mm"),
    ]
    group = QActionGroup(w)
    for tool, text, key, icon_name, tip in tools:
        action = m(w, a, f"tool_{tool.value}", text, None, key, icon_name, tip, checkable=True)
        action.triggered.connect(lambda _=False, t=tool: w.set_tool(t))
        group.addAction(action)
        a.tools[tool] = action
    a.tools[Tool.BRUSH].setChecked(True)
    m(w, a, "smaller", "S&maller Brush", lambda: w.canvas.step_brush_size(False), "[")
    m(w, a, "larger", "L&arger Brush", lambda: w.canvas.step_brush_size(True), "]")
    m(w, a, "clear_box", "Clear Context Bo&x", w.clear_context_box, "Shift+X")

    m(
        w,
        a,
        "zoom_in",
        "Zoom &In",
        lambda: w.canvas.zoom_by(2**0.5),
        [Key.ZoomIn, "Ctrl+="],
        "magnify-plus-outline",
    )
    m(w, a, "zoom_out", "Zoom &Out", lambda: w.canvas.zoom_by(2**-0.5), Key.ZoomOut, "magnify-minus-outline")
    m(w, a, "fit", "&Fit in Window", w.fit_view, "Ctrl+0", "fit-to-screen-outline")
    m(
        w,
        a,
        "actual",
        "&Actual Pixels (100 %)",
        lambda: w.canvas.zoom_to(1.0),
        "Ctrl+1",
        "numeric-1-box-outline",
    )
    m(w, a, "show_mask", "Show &Mask", w.set_mask_visible, "M", "eye-outline", checkable=True).setChecked(
        True
    )
    m(
        w,
        a,
        "show_restorations",
        "Show Res&torations",
        w.canvas.set_restorations_visible,
        "T",
        "palette-swatch-outline",
        "Tint every pixel a restoration filled, so additions can be told from the original",
        checkable=True,
    )
    # The ruler's length goes to the status bar too, where it stays until the next message.
    w.canvas.measured.connect(lambda text: w.statusBar().showMessage(f"Ruler: {text}"))
    m(
        w,
        a,
        "split",
        "&Split Before/After",
        w.set_split_view,
        "Y",
        "compare-horizontal",
        "Before on the left, after on the right (hold \\ to see the whole photo before)",
        checkable=True,
    )

    m(w, a, "restore", "&Restore", w.start_restore, "Ctrl+R", "auto-fix", "Fill the masked damage")
    m(w, a, "cancel", "&Cancel Restore", w.cancel_restore, "Esc", "stop-circle-outline")
    m(w, a, "accept", "&Accept Result", w.accept_result, ["Ctrl+Return", "Ctrl+Enter"], "check")
    m(w, a, "discard", "&Discard Result", w.discard_result, "Ctrl+Backspace", "close")
    m(w, a, "shortcuts", "&Keyboard Shortcuts", w.show_shortcuts, Key.HelpContents)
    m(w, a, "about", "&About Restorer", w.show_about)
    return a


def build_menus(w, a: Actions) -> QMenu:
    bar = w.menuBar()
    file = bar.addMenu("&File")
    for name in ("open", "sample"):
        file.addAction(a[name])
    recent = file.addMenu("Open &Recent")
    file.addSeparator()
    for name in ("import_mask", "export_mask"):
        file.addAction(a[name])
    file.addSeparator()
    file.addAction(a["export"])
    file.addSeparator()
    file.addAction(a["quit"])

    edit = bar.addMenu("&Edit")
    for name in (
        "undo",
        "redo",
        None,
        "detect",
        None,
        "clear_mask",
        "invert_mask",
        "grow_mask",
        "shrink_mask",
    ):
        edit.addSeparator() if name is None else edit.addAction(a[name])

    view = bar.addMenu("&View")
    for name in ("zoom_in", "zoom_out", "fit", "actual", None, "show_mask", "show_restorations", "split"):
        view.addSeparator() if name is None else view.addAction(a[name])
    view.addSeparator()
    w.panels_menu = view.addMenu("&Panels")

    tools = bar.addMenu("&Tools")
    for action in a.tools.values():
        tools.addAction(action)
    tools.addSeparator()
    for name in ("smaller", "larger", "clear_box"):
        tools.addAction(a[name])

    restore = bar.addMenu("&Restore")
    for name in ("restore", "cancel", None, "accept", "discard"):
        restore.addSeparator() if name is None else restore.addAction(a[name])

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(a["shortcuts"])
    help_menu.addAction(a["about"])
    return recent


def build_toolbars(w, a: Actions) -> tuple[QSlider, QSpinBox]:
    main = QToolBar("Main", w)
    main.setObjectName("main_toolbar")
    for name in (
        "open",
        "export",
        None,
        "undo",
        "redo",
        None,
        "fit",
        "actual",
        "split",
        None,
        "restore",
        "cancel",
    ):
        main.addSeparator() if name is None else main.addAction(a[name])
    main.addSeparator()
    main.addWidget(QLabel(" Brush "))
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(MIN_BRUSH, 300)
    slider.setFixedWidth(140)
    slider.setToolTip("Brush size in photo pixels ([ and ])")
    spin = QSpinBox()
    spin.setRange(MIN_BRUSH, MAX_BRUSH)
    spin.setSuffix(" px")
    spin.setToolTip("Brush size in photo pixels ([ and ])")
    main.addWidget(slider)
    main.addWidget(spin)
    w.addToolBar(Qt.ToolBarArea.TopToolBarArea, main)

    tools = QToolBar("Tools", w)
    tools.setObjectName("tools_toolbar")
    for action in a.tools.values():
        tools.addAction(action)
    tools.addSeparator()
    for name in (
        "detect",
        "clear_mask",
        "invert_mask",
        "grow_mask",
        "shrink_mask",
        "show_mask",
        "show_restorations",
    ):
        tools.addAction(a[name])
    w.addToolBar(Qt.ToolBarArea.LeftToolBarArea, tools)
    return slider, spin
