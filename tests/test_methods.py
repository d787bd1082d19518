"""The fill-method registry, the shared types and patches, and the torch-free classic path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from restorer.cli import main
from restorer.core import methods
from restorer.core.errors import RestorerError
from restorer.core.imageio import Photo, read_photo, write_mask, write_photo
from restorer.core.jobs import run_to_end
from restorer.core.patches import apply_patch, apply_result, crop
from restorer.core.pipeline import restore
from restorer.core.types import Bounds, RestoreOptions, WindowPatch


def _photo_and_mask(size=(60, 80), seed=0):
    h, w = size
    rng = np.random.default_rng(seed)
    pixels = (rng.random((h, w, 3)) * 200).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[20:30, 30:45] = True
    mask[50:52, 5:70] = True
    pixels[mask] = 255
    return Photo(pixels, None, None, None, "PNG"), mask


def test_registry_lists_every_method_once_in_display_order():
    found = methods.methods()
    assert list(found) == ["diffusion", "tv", "patch", "latent", "context-encoder"]
    assert methods.choices()[:2] == ("auto", "classic")
    assert {m.model_kind for m in found.values()} == {None, "dcgan", "context-encoder"}
    assert methods.method_for_model("dcgan").name == "latent"
    with pytest.raises(RestorerError, match="unknown fill method 'magic'"):
        methods.get("magic")


def test_a_new_method_file_reaches_the_pipeline_and_the_command_line(toy_method, tmp_path, capsys):
    assert toy_method in methods.choices()
    photo, mask = _photo_and_mask()
    result = run_to_end(restore(photo, mask, RestoreOptions(method="toy")))
    assert [p.method for p in result.patches] == ["toy", "toy"]
    assert all(p.params["toy"] for p in result.patches)
    out = apply_result(photo, result).pixels
    assert np.array_equal(out[~mask], photo.pixels[~mask])
    # the command line offers it and runs it
    assert main(["inpaint", "--help"]) == 0
    assert "toy: paints the hole with the mean colour" in " ".join(capsys.readouterr().out.split())
    src, mask_path, dst, record = (
        tmp_path / "in.png",
        tmp_path / "m.png",
        tmp_path / "out.png",
        tmp_path / "r.json",
    )
    write_photo(photo, src)
    write_mask(mask, mask_path)
    args = [
        "inpaint",
        str(src),
        "-m",
        str(mask_path),
        "-o",
        str(dst),
        "--method",
        "toy",
        "--record",
        str(record),
    ]
    assert main(args) == 0, capsys.readouterr().err
    assert np.array_equal(read_photo(dst).pixels, out)
    regions = json.loads(record.read_text())["restorations"][0]["regions"]
    assert {r["method"] for r in regions} == {"toy"}


def test_a_broken_method_file_is_refused_with_its_name(tmp_path, monkeypatch):
    (tmp_path / "broken.py").write_text("METHOD = 42\n")
    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(tmp_path)])
    monkeypatch.setattr(methods, "_found", None)
    with pytest.raises(RestorerError, match=r"broken\.METHOD is not a FillMethod"):
        methods.methods()
    sys.modules.pop("restorer.core.methods.broken", None)
    methods._found = None


def test_bounds_speak_xywh_at_the_edges_only():
    box = Bounds.from_xywh((3, 4, 10, 20))
    assert (box.top, box.left, box.bottom, box.right) == (4, 3, 24, 13)
    assert box.xywh() == (3, 4, 10, 20) and box.text() == "3,4,10,20"
    assert box.contains(Bounds(4, 3, 24, 13)) and not box.contains(Bounds(3, 3, 24, 13))
    assert Bounds(5, 5, 9, 9).relative_to(box) == Bounds(1, 2, 5, 6)
    options = RestoreOptions(box=box, lam=0.01)
    assert RestoreOptions.from_record(json.loads(json.dumps(options.record()))) == options


def _patch(box: Bounds, hole: np.ndarray, value: int) -> WindowPatch:
    values = np.full((int(hole.sum()), 1), value, np.uint8)
    return WindowPatch(0, box, hole, "toy", "", None, {}, [], [], values)


def test_crop_shows_earlier_patches_and_leaves_the_photo_alone():
    pixels = np.zeros((20, 20, 1), np.uint8)
    hole = np.zeros((6, 6), bool)
    hole[2:4, 2:6] = True
    first = _patch(Bounds(0, 0, 6, 6), hole, 9)
    window = crop(pixels, Bounds(2, 3, 12, 12), [first])
    expected = np.zeros((10, 9, 1), np.uint8)
    expected[0:2, 0:3] = 9  # the overlap of the hole, rows 2-3 and columns 3-5 of the photo
    assert np.array_equal(window, expected)
    assert not pixels.any()
    apply_patch(pixels, first)
    assert int(pixels.sum()) == 9 * 8 and np.array_equal(pixels[2:4, 2:6, 0], np.full((2, 4), 9))


def test_classic_restore_never_imports_torch(tmp_path):
    photo, mask = _photo_and_mask()
    write_photo(photo, tmp_path / "in.png")
    write_mask(mask, tmp_path / "m.png")
    script = textwrap.dedent(
        f"""
        import sys
        from restorer.cli import main
        code = main(["inpaint", r"{tmp_path / "in.png"}", "-m", r"{tmp_path / "m.png"}",
                     "-o", r"{tmp_path / "out.png"}", "--method", "classic", "-q"])
        print(code, "torch" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "False"], done.stderr


@pytest.mark.parametrize("method", ["diffusion", "tv"])
def test_edge_fills_fill_a_solid_block_that_fills_most_of_its_window(method):
    # A 40x20 block in its 4-px-margin window is 60% hole: edge fills read only the ring, so they
    # fill it (they used to refuse it as "too large for its window").
    rng = np.random.default_rng(0)
    pixels = rng.integers(90, 110, (80, 120, 3), dtype=np.uint8)
    mask = np.zeros((80, 120), bool)
    mask[30:50, 40:80] = True
    photo = Photo(pixels, None, None, None, "PNG")
    result = run_to_end(restore(photo, mask, RestoreOptions(method=method)))
    assert not result.warnings
    out = apply_result(photo, result).pixels
    assert np.array_equal(out[~mask], pixels[~mask])
    assert abs(out[mask].astype(float).mean() - 100) < 3  # the surround's level (plus its grain)
