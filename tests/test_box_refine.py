"""Face box refinement (restorer.core.box_refine): a mis-drawn box moves towards the training frame,
stays in the photo, can be turned off, and the record says where it went.

The scene is the benchmark's (benchmarks/box_refine_quality.py): a real FairFace val face pasted
into a Kodak photo at a known frame, its surround faded so no seam marks the frame.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gui_support import no_leaked_threads, window  # noqa: F401  (fixtures; importing it loads no Qt)

from restorer.core.imageio import Photo
from restorer.core.jobs import run_to_end
from restorer.core.pipeline import restore
from restorer.core.regions import box_window, find_regions, square_window
from restorer.core.types import Bounds, RestoreOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import box_refine_quality as scene

FACE = 6  # val face 7; see test_a_box_too_large_and_off_centre_moves_to_the_face
SIDE, SHIFT = 1.3, 0.1  # the user's box: 1.3x the true frame, centre 10% of the side off in x and y
DRAWN_IOU = 1 / SIDE**2  # the drawn box holds the frame whole: IoU = frame area / box area (0.59)
REFINED_IOU = 0.85


@pytest.fixture(scope="module")
def face_scene() -> tuple[np.ndarray, Bounds]:
    if not (scene.VAL.is_file() and scene.KODAK.is_dir()):
        pytest.skip("FairFace val.zip or the Kodak photos are not beside the checkout")
    with zipfile.ZipFile(scene.VAL) as archive:
        return scene.pasted(scene.val_face(archive, FACE), FACE, np.random.default_rng(FACE))


@pytest.fixture(scope="module")
def context_encoder():
    from restorer.core import weights

    return weights.load_model(weights.default_model("context-encoder"))


def _drawn(truth: Bounds, size: tuple[int, int] = (scene.PHOTO, scene.PHOTO)) -> Bounds:
    centre = (truth.centre[0] + SHIFT * truth.width, truth.centre[1] + SHIFT * truth.width)
    return square_window(centre, round(SIDE * truth.width), size)


def _damage(mask: np.ndarray) -> Bounds:
    return find_regions(mask).regions[0].bbox


def _iou(a: Bounds, b: Bounds) -> float:
    inter = a.intersect(b).area
    return inter / (a.area + b.area - inter)


@pytest.mark.parametrize("kind", scene.HOLES)
def test_a_box_too_large_and_off_centre_moves_to_the_face(face_scene, context_encoder, kind):
    """IoU with the true frame from 0.59 to above 0.85. On this face both holes reach 0.93 (side and
    centre within ~4% of the frame's). The bound is for this face: over val faces 1-20 with the same
    box, centre holes reach a mean IoU of 0.75 and eye holes 0.67, and about half of the boxes stay
    where drawn because no frame fits clearly better (docs/quality.md)."""
    from restorer.core.box_refine import refine_box

    photo, truth = face_scene
    mask = scene.hole(truth, kind)
    drawn = _drawn(truth)
    assert _iou(drawn, truth) == pytest.approx(DRAWN_IOU, abs=0.01)
    refined = refine_box(photo, mask, drawn, _damage(mask), context_encoder)
    assert refined.user == drawn and refined.changed
    assert _iou(refined.box, truth) > REFINED_IOU
    assert refined.score < refined.user_score
    assert refined.tried <= 23  # a small search: the box, 4 sides, 8 shifts, 10 finer frames


def test_refinement_never_leaves_the_photo(face_scene, context_encoder, monkeypatch):
    """A box against the photo's corner: every frame scored is inside the photo and holds the damage."""
    from restorer.core import box_refine

    photo, truth = face_scene
    corner = photo[truth.top : truth.top + 260, truth.left : truth.left + 260]  # the face in a corner
    frame = Bounds(0, 0, truth.height, truth.width)
    mask = scene.hole(frame, "eye")[: corner.shape[0], : corner.shape[1]]
    drawn = Bounds(0, 0, 250, 250)
    scored: list[Bounds] = []
    inputs = box_refine._Search.inputs

    def spy(self, frame):
        scored.append(frame)
        return inputs(self, frame)

    monkeypatch.setattr(box_refine._Search, "inputs", spy)
    refined = box_refine.refine_box(corner, mask, drawn, _damage(mask), context_encoder)
    inside = Bounds.of_shape(corner.shape)
    assert len(scored) > 4  # frames moved into the corner coincide: fewer than the 23 of a free search
    assert all(inside.contains(f) and f.height == f.width for f in scored)
    assert all(f.contains(_damage(mask)) for f in scored)
    assert inside.contains(refined.box)
    # A frame reaching out of the photo is moved in whole, one larger than the photo is left out.
    holds = Bounds(10, 10, 20, 20)
    assert box_refine.candidates((5.0, 5.0), 200, [(1.0, -0.08, -0.08)], (260, 260), holds) == [
        Bounds(0, 0, 200, 200)
    ]
    assert box_refine.candidates((130.0, 130.0), 200, [(1.5, 0.0, 0.0)], (260, 260), holds) == []


def _restore(photo: np.ndarray, mask: np.ndarray, box: Bounds, refine: bool):
    options = RestoreOptions(method="context-encoder", box=box, device="cpu", refine_box=refine)
    return run_to_end(restore(Photo(photo, None, None, None, "PNG"), mask, options))


def test_the_record_holds_the_refined_box(face_scene):
    from restorer.core.record import restoration_entry

    photo, truth = face_scene
    mask = scene.hole(truth, "centre")
    drawn = _drawn(truth)
    result = _restore(photo, mask, drawn, refine=True)
    (patch,) = result.patches
    assert result.face_box == patch.box != drawn  # the fill's window is the refined frame
    assert _iou(patch.box, truth) > REFINED_IOU
    entry = json.loads(json.dumps(restoration_entry(result)))
    refinement = entry["regions"][0]["parameters"]["box_refined"]
    assert refinement["from"] == list(drawn.xywh())
    assert refinement["to"] == list(patch.box.xywh()) == entry["regions"][0]["window"]
    assert refinement["fit_error"][1] < refinement["fit_error"][0]
    assert entry["options"]["refine_box"] is True


def test_refine_box_off_keeps_the_users_box(face_scene):
    photo, truth = face_scene
    mask = scene.hole(truth, "centre")
    drawn = _drawn(truth)
    result = _restore(photo, mask, drawn, refine=False)
    (patch,) = result.patches
    assert patch.box == box_window(drawn, (scene.PHOTO, scene.PHOTO)) == drawn
    assert result.face_box is None and "box_refined" not in patch.params
    assert RestoreOptions.from_record(result.options.record()).refine_box is False


def test_cli_no_refine_box(face_scene, tmp_path, capsys):
    """``--no-refine-box`` fills from the box as drawn; without it the CLI says where the box went."""
    from PIL import Image

    from restorer.cli import main

    photo, truth = face_scene
    mask = scene.hole(truth, "centre")
    Image.fromarray(photo).save(tmp_path / "face.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "mask.png")
    drawn = _drawn(truth)
    windows, errs = {}, {}
    for off in (False, True):
        record = tmp_path / f"record-{off}.json"
        args = ["inpaint", str(tmp_path / "face.png"), "--mask", str(tmp_path / "mask.png")]
        args += ["-o", str(tmp_path / f"out-{off}.png"), "--box", drawn.text(), "--record", str(record)]
        flags = ["--method", "context-encoder", "--device", "cpu"] + (["--no-refine-box"] if off else [])
        assert main([*args, *flags]) == 0
        region = json.loads(record.read_text())["restorations"][0]["regions"][0]
        windows[off] = Bounds.from_xywh(region["window"])
        errs[off] = capsys.readouterr().err
        assert ("box_refined" in region["parameters"]) is not off
    assert windows[True] == drawn and "face box refined" not in errs[True]
    assert windows[False] != drawn
    assert f"face box refined to {windows[False].text()} (drawn {drawn.text()})" in errs[False]


@pytest.mark.gui
def test_the_window_draws_the_refined_frame(window, qtbot):  # noqa: F811  (the fixture from gui_support)
    """After a restore the canvas outlines the frame the face model filled from, beside the box."""
    pytest.importorskip("PySide6")
    from gui_support import fake_result, make_photo, show_photo

    doc = show_photo(window, make_photo(160, 120))
    canvas = window.canvas
    result = fake_result(doc.photo, (20, 10, 64, 64))
    doc.show_result(doc.pending_from_result(result))
    assert canvas.face_frame is None  # a result without a face frame (no refinement) draws none
    before = canvas.grab().toImage()
    frame = Bounds.from_xywh((30, 16, 50, 50))
    result.face_box = frame
    doc.show_result(doc.pending_from_result(result))
    assert canvas.face_frame == frame
    after = canvas.grab().toImage()
    x, y, w, h = canvas.view.widget_rect(frame)
    changed = [
        (i, j)
        for j in range(0, after.height(), 2)
        for i in range(0, after.width(), 2)
        if after.pixel(i, j) != before.pixel(i, j)
    ]
    assert changed  # drawn, and only on the frame's outline and its label
    assert all(x - 20 <= i <= x + w + 20 and y - 20 <= j <= y + h + 20 for i, j in changed)
    assert not any(x + 8 < i < x + w - 8 and y + 8 < j < y + h - 8 for i, j in changed)
