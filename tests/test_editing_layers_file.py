"""OpenRaster layered files: written checked, read back bit-exact at 8 and 16 bits, grey and RGB, alpha."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from gui_support import fake_result, make_photo

from restorer.core.errors import RestorerError
from restorer.core.imageio import Photo, read_photo, write_photo
from restorer.editing.conservation import LAYER_NAMES, original_pixels, snapshot, write_layers
from restorer.editing.document import Document
from restorer.editing.export import ExportRequest
from restorer.editing.export import snapshot as export_snapshot
from restorer.editing.layers_file import MIMETYPE, Layer, composite, read_ora, write_ora


def random_layer(rng, dtype, channels, h=37, w=53) -> np.ndarray:
    top = np.iinfo(dtype).max
    return rng.integers(0, top + 1, (h, w, channels), dtype=np.int64).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])  # grey, grey + alpha, RGB, RGBA
def test_layers_read_back_bit_exact(tmp_path, dtype, channels):
    rng = np.random.default_rng(channels)
    layers = [
        Layer("bottom", random_layer(rng, dtype, channels)),
        Layer("middle", random_layer(rng, dtype, channels), opacity=0.5),
        Layer("top", random_layer(rng, dtype, channels), visible=False),
    ]
    path = write_ora(tmp_path / "x.ora", layers, (53, 37), dpi=(600.0, 300.0))
    back = read_ora(path)
    assert (back.width, back.height, back.dpi) == (53, 37, (600.0, 300.0))
    assert [layer.name for layer in back.layers] == ["bottom", "middle", "top"]
    assert [(layer.visible, layer.opacity) for layer in back.layers] == [(True, 1), (True, 0.5), (False, 1)]
    for wrote, read in zip(layers, back.layers, strict=True):
        assert read.pixels.dtype == dtype and read.pixels.shape == wrote.pixels.shape
        np.testing.assert_array_equal(read.pixels, wrote.pixels)


def test_the_file_is_openraster(tmp_path):
    path = write_ora(tmp_path / "x.ora", [Layer("only", np.zeros((4, 5, 3), np.uint8))], (5, 4))
    assert path.read_bytes()[30:38] == b"mimetype" and path.read_bytes()[38:54] == MIMETYPE
    with zipfile.ZipFile(path) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert {"stack.xml", "mergedimage.png", "Thumbnails/thumbnail.png"} <= set(archive.namelist())
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temp file


def test_composite_is_source_over():
    bottom = np.full((2, 2, 3), 200, np.uint8)
    top = np.zeros((2, 2, 4), np.uint8)
    top[0, 0] = (0, 0, 0, 255)
    out = composite([Layer("b", bottom), Layer("t", top)], (2, 2))
    assert out[0, 0].tolist() == [0, 0, 0, 255] and out[1, 1].tolist() == [200, 200, 200, 255]


def test_not_an_ora_is_one_error(tmp_path):
    bad = tmp_path / "bad.ora"
    bad.write_bytes(b"not a zip")
    with pytest.raises(RestorerError):
        read_ora(bad)
    with pytest.raises(RestorerError):
        read_ora(tmp_path / "missing.ora")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3])
def test_export_layers_are_the_scan_the_fills_and_the_mask(tmp_path, dtype, channels):
    source = tmp_path / "scan.png"
    photo = make_photo(90, 70, channels=channels, dtype=dtype)
    top = np.iinfo(dtype).max
    photo.alpha = np.full(photo.pixels.shape[:2], top, dtype)
    photo.alpha[:5] = top // 3  # the scan's own alpha must travel with the original
    write_photo(photo, source)
    doc = Document(read_photo(source), source)
    scan = doc.photo.pixels.copy()
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (10, 10, 30, 30))))
    doc.accept()
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (40, 20, 30, 30))))
    request = ExportRequest(tmp_path / "out.png", "PNG", save_layers=True)
    flat, _, _ = export_snapshot(doc, request)
    c = snapshot(doc, request, flat, "tester")
    np.testing.assert_array_equal(c.original.pixels, scan)
    write_layers(request.layers_path, c.original, c.flat, c.area)

    back = read_ora(request.layers_path)
    assert [layer.name for layer in back.layers] == list(LAYER_NAMES)
    original, fills, mask = (layer.pixels for layer in back.layers)
    assert original.dtype == dtype and fills.dtype == dtype
    np.testing.assert_array_equal(original[:, :, :channels], scan)
    np.testing.assert_array_equal(original[:, :, channels], doc.photo.alpha)
    area = c.area
    assert area.any() and (fills[:, :, channels] == np.where(area, top, 0)).all()
    np.testing.assert_array_equal(fills[area][:, :channels], flat.pixels[area])
    assert (fills[~area] == 0).all()
    assert not back.layers[2].visible and (mask[:, :, 1] > 0).sum() == area.sum()
    # The scan under the fills is the flat photo: the restoration is reversible, and exact.
    rebuilt = np.where(area[:, :, None], fills[:, :, :channels], original[:, :, :channels])
    np.testing.assert_array_equal(rebuilt, flat.pixels)
    np.testing.assert_array_equal(back.merged[:, :, :channels], flat.pixels)


def test_baked_results_take_the_original_from_the_file(tmp_path):
    source = tmp_path / "scan.png"
    write_photo(make_photo(80, 60), source)
    doc = Document(read_photo(source), source, history_limit=1)  # every accept is baked at once
    scan = doc.photo.pixels.copy()
    for box in ((5, 5, 24, 24), (40, 20, 24, 24)):
        doc.show_result(doc.pending_from_result(fake_result(doc.photo, box)))
        doc.accept()
    assert doc.history.baked.pixels and not np.array_equal(doc.photo.pixels, scan)
    np.testing.assert_array_equal(original_pixels(doc), scan)
    source.unlink()
    with pytest.raises(RestorerError, match="original scan"):
        original_pixels(doc)


def test_sample_photo_example_reads_back(tmp_path):
    """docs/examples/sample-layers.ora, made from the sample photo by the classic method."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "docs" / "examples" / "sample-layers.ora"
    if not path.is_file():
        pytest.skip("the example has not been made (tools/make_conservator_examples.py)")
    back = read_ora(path)
    sample = read_photo(Path(__file__).resolve().parents[1] / "resources" / "sample-photo.png")
    np.testing.assert_array_equal(back.layers[0].pixels, sample.pixels)
    area = back.layers[1].pixels[:, :, 3] > 0
    assert area.any() and path.stat().st_size < 2_000_000
    assert isinstance(sample, Photo)
