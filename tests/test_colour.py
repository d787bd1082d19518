"""Colour management: photo profile <-> sRGB for the learned fills and the canvas (restorer.core.colour).

The wide-gamut profile is written here by hand (an ICC v2 matrix/TRC profile with Adobe RGB (1998)'s
D50-adapted primaries and gamma 563/256), so expected colours are computed analytically, not by the
littleCMS under test.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import ImageCms

from restorer.core import colour
from restorer.core.imageio import Photo, read_photo, write_photo
from restorer.core.jobs import run_to_end
from restorer.core.patches import apply_result
from restorer.core.pipeline import restore
from restorer.core.pixels import from_float, to_float
from restorer.core.types import Bounds, RestoreOptions
from restorer.editing.preview import preview_frame
from restorer.editing.pyramid import to_display8, write_display8

D50 = (0.9642, 1.0, 0.8249)
ADOBE_COLORANTS = ((0.60974, 0.31111, 0.01947), (0.20528, 0.62567, 0.06087), (0.14919, 0.06322, 0.74457))
SRGB_COLORANTS = (
    (0.4360747, 0.2225045, 0.0139322),
    (0.3850649, 0.7168786, 0.0971045),
    (0.1430804, 0.0606169, 0.7141733),
)
ADOBE_GAMMA = 563 / 256  # 2.19921875, as u8Fixed8
MA, MS = np.array(ADOBE_COLORANTS).T, np.array(SRGB_COLORANTS).T


# --- a hand-written ICC v2 profile ------------------------------------------------------------


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz_tag(xyz: tuple[float, ...]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def _curve_tag(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256))


def _desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    # textDescriptionType: ASCII, then empty Unicode and ScriptCode parts (67-byte ScriptCode field)
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_ + bytes(8) + bytes(3) + bytes(67)


def matrix_trc_profile(name: str, grey: bool = False, gamma: float = ADOBE_GAMMA) -> bytes:
    """An ICC v2 display profile: desc, cprt, wtpt and either r/g/b XYZ + TRC tags or a grey kTRC."""
    tags = [(b"desc", _desc_tag(name)), (b"cprt", b"text\0\0\0\0No copyright\0"), (b"wtpt", _xyz_tag(D50))]
    if grey:
        tags.append((b"kTRC", _curve_tag(gamma)))
    else:
        tags += [
            (sig, _xyz_tag(c)) for sig, c in zip((b"rXYZ", b"gXYZ", b"bXYZ"), ADOBE_COLORANTS, strict=True)
        ]
        tags += [(sig, _curve_tag(gamma)) for sig in (b"rTRC", b"gTRC", b"bTRC")]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += bytes(-len(body) % 4)  # tags start on 4-byte boundaries
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    space = b"GRAY" if grey else b"RGB "
    header = struct.pack(">I4sI4s4s4s", offset + len(data), b"lcms", 0x02100000, b"mntr", space, b"XYZ ")
    header += bytes(12) + b"acsp" + bytes(28) + b"".join(_s15(v) for v in D50)
    header += bytes(128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data


ADOBE = matrix_trc_profile("Adobe RGB (1998) test")
GREY22 = matrix_trc_profile("Gray Gamma 2.2 test", grey=True, gamma=2.2)


# --- analytic colours ------------------------------------------------------------------------


def _lab(xyz: np.ndarray) -> np.ndarray:
    t = xyz / np.array(D50)
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def _srgb_linear(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _srgb_encode(y: np.ndarray) -> np.ndarray:
    return np.where(y <= 0.0031308, y * 12.92, 1.055 * np.clip(y, 0.0031308, None) ** (1 / 2.4) - 0.055)


def lab_adobe(a: np.ndarray) -> np.ndarray:
    return _lab((np.clip(a, 0, 1) ** ADOBE_GAMMA) @ MA.T)


def lab_srgb(s: np.ndarray) -> np.ndarray:
    return _lab(_srgb_linear(np.clip(s, 0, 1)) @ MS.T)


def srgb_to_adobe(s: np.ndarray) -> np.ndarray:
    linear = _srgb_linear(np.asarray(s, np.float64)) @ MS.T @ np.linalg.inv(MA).T
    return (np.clip(linear, 0, 1) ** (1 / ADOBE_GAMMA)).astype(np.float32)


def delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """CIE76 ΔE between Lab arrays."""
    return np.linalg.norm(a - b, axis=-1)


# --- the transforms --------------------------------------------------------------------------


def test_a_saturated_green_goes_to_srgb_and_back_within_one_delta_e():
    green = srgb_to_adobe(np.array([[[0.1, 0.8, 0.15]]]))  # inside sRGB, near its green corner
    space = colour.colour_space(ADOBE, 3)
    assert space is not None and space.name == "Adobe RGB (1998) test"
    as_srgb = space.to_srgb(green)
    assert delta_e(lab_srgb(as_srgb), lab_adobe(green)).max() < 1  # the same colour, in sRGB numbers
    assert delta_e(lab_adobe(space.from_srgb(as_srgb)), lab_adobe(green)).max() < 1
    assert np.abs(as_srgb - green).max() > 0.1  # while the numbers differ a lot
    # from a 16-bit photo through the float path, and from 8-bit through littleCMS directly
    sixteen = to_float(from_float(green, np.uint16))
    assert delta_e(lab_srgb(space.to_srgb(sixteen)), lab_adobe(green)).max() < 1
    eight = from_float(green, np.uint8)
    assert delta_e(lab_srgb(to_float(space.to_srgb8(eight))), lab_adobe(to_float(eight))).max() < 1
    # Adobe RGB's own green lies outside sRGB: relative colorimetric clips it to sRGB's green
    np.testing.assert_allclose(
        space.to_srgb(np.array([[[0.0, 1.0, 0.0]]], np.float32)), [[[0, 1, 0]]], atol=0.01
    )


def test_sixteen_bit_gradients_stay_smooth():
    """Interpolated between sampled nodes: no 8-bit steps in a fine 16-bit ramp."""
    ramp = np.linspace(0.3, 0.32, 400, dtype=np.float32)[:, None] * np.array([1.0, 0.9, 0.8], np.float32)
    out = colour.to_srgb(ramp[None], ADOBE)[0]
    assert (np.diff(out, axis=0) > 0).all()


def _lightness(y: np.ndarray) -> np.ndarray:
    return _lab(np.asarray(y)[..., None] * np.array(D50))[..., 0]


def test_a_grey_profile_converts_through_its_own_curve():
    v = np.linspace(0, 1, 1001, dtype=np.float32)[:, None, None]
    expected = _srgb_encode(v**2.2)
    out = colour.to_srgb(v, GREY22)
    assert np.abs(_lightness(_srgb_linear(out)) - _lightness(v**2.2)).max() < 1  # ΔE of greys: ΔL*
    np.testing.assert_allclose(out, expected, atol=1.5 / 255)
    back = colour.from_srgb(out, GREY22)
    # Near black the gamma 2.2 curve is steep, so a sampled inverse is a few levels off: under 1 ΔL*
    assert np.abs(_lightness(np.clip(back, 0, 1) ** 2.2) - _lightness(v**2.2)).max() < 1
    np.testing.assert_allclose(back[v >= 0.1], v[v >= 0.1], atol=1.5 / 255)
    display = to_display8(from_float(v[:, :, 0], np.uint8)[..., None], GREY22)
    assert display.shape == (1001, 1)
    np.testing.assert_allclose(display / 255, expected[..., 0], atol=1.5 / 255)


@pytest.mark.parametrize(
    "profile", [None, b"", ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()]
)
def test_no_profile_or_an_srgb_one_is_identity(profile):
    assert colour.colour_space(profile, 3) is None
    x = np.random.default_rng(0).random((4, 5, 3), np.float32)
    assert colour.to_srgb(x, profile) is x and colour.from_srgb(x, profile) is x
    assert colour.working_space(profile, 3) == "sRGB"


def test_an_unusable_profile_warns_and_is_identity():
    with pytest.warns(UserWarning, match="cannot be read"):
        assert colour.colour_space(b"not an ICC profile (test_colour)", 3) is None
    with pytest.warns(UserWarning, match="does not describe colour pixels"):
        assert colour.colour_space(GREY22, 3) is None


# --- the canvas ------------------------------------------------------------------------------


def test_display_pixels_are_srgb():
    adobe = srgb_to_adobe(np.random.default_rng(1).uniform(0.05, 0.95, (6, 7, 3)))
    for dtype in (np.uint8, np.uint16):
        pixels = from_float(adobe, dtype)
        shown = to_display8(pixels, ADOBE)
        assert shown.dtype == np.uint8 and not np.shares_memory(shown, pixels)
        assert delta_e(lab_srgb(to_float(shown)), lab_adobe(adobe)).max() < 1.5  # within 8-bit rounding
    eight = from_float(adobe, np.uint8)
    assert to_display8(eight) is eight  # an untagged 8-bit photo is still shown from its own pixels
    target, box = np.zeros((6, 7, 3), np.uint8), Bounds(1, 2, 4, 6)
    write_display8(target, eight, box, ADOBE)  # a refresh after an edit converts just the rectangle
    np.testing.assert_array_equal(target[box.slices], to_display8(eight, ADOBE)[box.slices])
    assert not target[0].any()


def test_previews_are_shown_in_srgb_like_the_photo():
    image = srgb_to_adobe(np.full((4, 4, 3), 0.5) * [0.2, 1.5, 0.4])
    hole = np.ones((4, 4), bool)
    frame = preview_frame(0, Bounds(0, 0, 4, 4), image, hole, (4, 4, 3), 1, ADOBE)
    np.testing.assert_allclose(frame.rgba[..., :3], np.full((4, 4, 3), [25.5, 191.25, 51]), atol=1)


# --- the learned fills -----------------------------------------------------------------------

SIZE = 160


def _hole() -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), bool)
    mask[60:100, 56:104] = True
    return mask


def _fill(pixels: np.ndarray, icc: bytes | None, blend: bool = True):
    photo = Photo(pixels, None, icc, None, "TIFF")
    options = RestoreOptions(method="context-encoder", blend=blend, grain=False, device="cpu")
    return run_to_end(restore(photo, _hole(), options))


def test_the_face_model_sees_colours_not_numbers():
    """The same green photo stored as sRGB and as Adobe RGB: managed, the shipped Context Encoder's
    fill is the same colour either way (measured mean ΔE 0.28 unblended, 0.36 blended); fed the
    raw Adobe numbers it is not (2.58 and 2.23), because the network's output depends on the
    numbers it sees, and it learned from sRGB."""
    srgb = np.broadcast_to(np.array([0.2, 0.6, 0.25], np.float32), (SIZE, SIZE, 3))
    as_srgb, as_adobe = from_float(srgb, np.uint16), from_float(srgb_to_adobe(srgb), np.uint16)
    for blend in (False, True):
        reference = lab_srgb(to_float(_fill(as_srgb, None, blend).patches[0].values))
        managed = lab_adobe(to_float(_fill(as_adobe, ADOBE, blend).patches[0].values))
        raw = lab_adobe(to_float(_fill(as_adobe, None, blend).patches[0].values))
        assert delta_e(managed, reference).mean() < 1
        assert delta_e(raw, reference).mean() > 1.5


def test_a_fill_of_an_adobe_rgb_skin_patch_lands_on_its_colour():
    """How close the unblended fill comes to the surround is the model's own colour fidelity
    (measured mean ΔE 1.9 for this skin tone); colour management must not add to it."""
    skin = srgb_to_adobe(np.array([0.8, 0.6, 0.5]))
    pixels = from_float(np.broadcast_to(skin, (SIZE, SIZE, 3)), np.uint16)
    patch = _fill(pixels, ADOBE, blend=False).patches[0]
    assert delta_e(lab_adobe(to_float(patch.values)), lab_adobe(skin)).mean() < 3
    assert "Adobe RGB (1998) test" in patch.params["colour"]


def test_a_sixteen_bit_adobe_rgb_tiff_keeps_its_profile_and_every_pixel_outside_the_hole(tmp_path):
    rng = np.random.default_rng(3)
    base = srgb_to_adobe(rng.uniform(0.2, 0.8, (1, 1, 3)) + rng.normal(0, 0.02, (SIZE, SIZE, 3)))
    source = tmp_path / "adobe.tif"
    write_photo(Photo(from_float(base, np.uint16), None, ADOBE, None, "TIFF"), source)
    photo = read_photo(source)
    assert photo.pixels.dtype == np.uint16 and photo.icc_profile == ADOBE
    mask = _hole()
    options = RestoreOptions(method="context-encoder", device="cpu")
    restored = apply_result(photo, run_to_end(restore(photo, mask, options)))
    write_photo(restored, tmp_path / "out.tif")
    back = read_photo(tmp_path / "out.tif")
    assert back.icc_profile == ADOBE
    np.testing.assert_array_equal(back.pixels[~mask], photo.pixels[~mask])
    assert (back.pixels[mask] != photo.pixels[mask]).any()


def test_classical_fills_work_on_the_photo_numbers():
    pixels = from_float(srgb_to_adobe(np.random.default_rng(4).uniform(0.2, 0.8, (40, 40, 3))), np.uint16)
    mask = np.zeros((40, 40), bool)
    mask[18:22, 10:30] = True
    results = [
        run_to_end(restore(Photo(pixels, None, icc, None, "TIFF"), mask, RestoreOptions(method="diffusion")))
        for icc in (ADOBE, None)
    ]
    np.testing.assert_array_equal(results[0].patches[0].values, results[1].patches[0].values)


def test_the_canvas_photo_layer_shows_srgb_and_refreshes_in_srgb():
    pytest.importorskip("PySide6")
    from restorer.gui.layers import PhotoLayer

    pixels = from_float(srgb_to_adobe(np.full((8, 9, 3), [0.2, 0.7, 0.3])), np.uint8)
    layer = PhotoLayer(pixels, ADOBE)
    assert not layer.shares_pixels and layer.shows(ADOBE) and not PhotoLayer(pixels).shows(ADOBE)
    np.testing.assert_array_equal(layer.pyramid.levels[0], to_display8(pixels, ADOBE))
    pixels[2:4, 3:5] = from_float(srgb_to_adobe(np.array([0.9, 0.1, 0.1])), np.uint8)
    layer.refresh(Bounds(2, 3, 4, 5))
    np.testing.assert_allclose(
        layer.pyramid.levels[0][2:4, 3:5], np.full((2, 2, 3), [229.5, 25.5, 25.5]), atol=2
    )
