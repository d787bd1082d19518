"""Fault injection (issue 14): tiny holes in every fill and method, checked writes on a full disk,
malformed weights, and unexpected errors on the command line.

Each fault asserts the exact message, the exit code, and that the folder holds no new or changed
file afterwards.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from restorer.cli import main, unexpected_message
from restorer.core import fills, methods, weights
from restorer.core.errors import RestorerError, WriteError
from restorer.core.files import atomic_write, atomic_write_bytes
from restorer.core.imageio import Photo, read_photo, write_mask, write_photo
from restorer.core.jobs import run_to_end
from restorer.core.networks import Discriminator, GanArch, Generator
from restorer.core.patches import apply_result
from restorer.core.pipeline import restore
from restorer.core.record import write_record
from restorer.core.types import RestoreOptions
from restorer.editing import session

sys.path.insert(0, str(Path(__file__).parent))
from test_poisson import TINY_SHAPES  # every 1-4 pixel shape in a 3x3 neighbourhood


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: equal snapshots mean no new or changed files."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- item 3: every tiny hole through every fill and method ----------------------------------------

PHOTO_SIZE = (40, 44)  # h, w: room for patches, small enough to be quick
# Offsets of the 3x3 neighbourhood: the four corners, edge middles, and interior of both parities.
POSITIONS = [(0, 0), (0, 41), (37, 0), (37, 41), (0, 20), (18, 0), (37, 21), (19, 41), (18, 20), (19, 20)]
DTYPES = [np.uint8, np.uint16, np.float32]


def random_pixels(rng: np.random.Generator, channels: int, dtype: type, size=PHOTO_SIZE) -> np.ndarray:
    shape = size if channels == 0 else (*size, channels)  # 0: a plain (H, W) grey array
    if dtype == np.float32:
        return rng.random(shape).astype(np.float32)
    return rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


def place(shape: tuple[tuple[int, int], ...], at: tuple[int, int], size=PHOTO_SIZE) -> np.ndarray:
    hole = np.zeros(size, bool)
    for y, x in shape:
        hole[at[0] + y, at[1] + x] = True
    return hole


FILLS = {
    "diffusion": fills.diffusion_fill,
    "tv": lambda p, h: fills.tv_fill(p, h, iterations=30),
    "patch": fills.patch_fill,
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fill=st.sampled_from(sorted(FILLS)),
    shape=st.sampled_from(TINY_SHAPES),
    at=st.sampled_from(POSITIONS),
    channels=st.sampled_from([0, 1, 3]),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**16),
)
def test_every_fill_handles_every_tiny_hole(fill, shape, at, channels, dtype, seed):
    pixels = random_pixels(np.random.default_rng(seed), channels, dtype)
    hole = place(shape, at)
    before = pixels.copy()
    out = FILLS[fill](pixels, hole)
    assert out.shape == pixels.shape and out.dtype == pixels.dtype
    np.testing.assert_array_equal(out[~hole], pixels[~hole])  # bit for bit
    np.testing.assert_array_equal(pixels, before)
    if dtype == np.float32:
        assert np.isfinite(out).all()
        assert out.min() >= -1e-4 and out.max() <= 1 + 1e-4  # the known pixels' range


def test_diffusion_fill_handles_every_tiny_hole_at_every_corner_and_edge():
    # Exhaustive where the bug was: every shape at every listed position, 8- and 16-bit RGB.
    rng = np.random.default_rng(1)
    for dtype in (np.uint8, np.uint16):
        pixels = random_pixels(rng, 3, dtype)
        for shape in TINY_SHAPES:
            for at in POSITIONS:
                hole = place(shape, at)
                out = fills.diffusion_fill(pixels, hole)
                assert np.array_equal(out[~hole], pixels[~hole]), (shape, at)


CLASSIC_METHODS = ["auto", "classic", "diffusion", "tv", "patch"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(CLASSIC_METHODS),
    shape=st.sampled_from(TINY_SHAPES),
    at=st.sampled_from(POSITIONS),
    channels=st.sampled_from([1, 3]),
    dtype=st.sampled_from([np.uint8, np.uint16]),
    seed=st.integers(0, 2**16),
)
def test_every_classic_method_restores_every_tiny_hole(method, shape, at, channels, dtype, seed):
    photo = Photo(random_pixels(np.random.default_rng(seed), channels, dtype), None, None, None, "PNG")
    hole = place(shape, at)
    result = run_to_end(restore(photo, hole, RestoreOptions(method=method)))
    out = apply_result(photo, result).pixels
    assert result.patches, "nothing was filled"
    np.testing.assert_array_equal(out[~hole], photo.pixels[~hole])


def test_the_classic_methods_cover_the_registry():
    learned = {m.name for m in methods.methods().values() if m.model_kind is not None}
    assert set(methods.choices()) == set(CLASSIC_METHODS) | learned


MODEL_PHOTO = (70, 72)
# Tiny holes where the issue found them, spread so each is its own region: corners, edges, interior.
MODEL_HOLES = [
    (((0, 0),), (0, 1)),  # a lone pixel on an odd square at the top edge
    (((0, 0), (1, -1)), (30, 31)),  # the down-left diagonal
    (((0, 0), (1, 1)), (12, 50)),  # the down-right diagonal
    (((0, 0),), (69, 70)),  # the bottom-right corner region
    (((0, 1), (1, 0), (1, 2), (2, 1)), (50, 10)),  # a ring of odd squares
    (((0, 0),), (35, 0)),  # the left edge
]


@pytest.mark.parametrize("method", ["latent", "context-encoder"])
@pytest.mark.parametrize(("channels", "dtype"), [(3, np.uint8), (1, np.uint16)])
def test_model_methods_blend_tiny_holes(method, channels, dtype):
    # The shipped face models, as few steps as possible: what matters here is their Poisson blend.
    photo = Photo(
        random_pixels(np.random.default_rng(2), channels, dtype, MODEL_PHOTO), None, None, None, "PNG"
    )
    hole = np.zeros(MODEL_PHOTO, bool)
    for shape, (y, x) in MODEL_HOLES:
        for dy, dx in shape:
            hole[y + dy, x + dx] = True
    options = RestoreOptions(method=method, iterations=2, starts=1, device="cpu")
    result = run_to_end(restore(photo, hole, options))
    out = apply_result(photo, result).pixels
    assert len(result.patches) == len(MODEL_HOLES)
    np.testing.assert_array_equal(out[~hole], photo.pixels[~hole])


def test_inpaint_command_fills_dust_specks(tmp_path, capsys):
    photo_path, mask_path, out_path = tmp_path / "p.png", tmp_path / "m.png", tmp_path / "o.png"
    photo = Photo(random_pixels(np.random.default_rng(3), 3, np.uint8), None, None, None, "PNG")
    write_photo(photo, photo_path)
    hole = np.zeros(PHOTO_SIZE, bool)
    hole[30, 31] = hole[10, 10] = hole[11, 9] = hole[0, 1] = True
    write_mask(hole, mask_path)
    assert main(["inpaint", str(photo_path), "--mask", str(mask_path), "-o", str(out_path), "-q"]) == 0
    assert capsys.readouterr().err == ""
    np.testing.assert_array_equal(read_photo(out_path).pixels[~hole], photo.pixels[~hole])


# --- item 1: checked writes ---------------------------------------------------------------------


def _is_our_temp(fd: int, folder: Path) -> bool:
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False
    return target.startswith(str(folder)) and target.endswith(".tmp")


@pytest.fixture
def faulty_disk(monkeypatch):
    """``faulty_disk(folder, mode)`` breaks os.write for temp files in ``folder`` only:
    "full" stores part of the first write, then fails with ENOSPC (a disk filling up);
    "lying" stores half of each write but reports it all written (what the size check must catch)."""
    real_write = os.write

    def install(folder: Path, mode: str) -> None:
        state = {"calls": 0}

        def write(fd: int, data) -> int:
            if not _is_our_temp(fd, folder):
                return real_write(fd, data)
            state["calls"] += 1
            view = memoryview(data)
            if mode == "lying":
                real_write(fd, view[: len(view) // 2])
                return len(view)
            if state["calls"] > 1 or len(view) < 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_write(fd, view[: len(view) // 2])

        monkeypatch.setattr(os, "write", write)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to tell our temp files apart")
    return install


def _photo(dtype=np.uint8, channels=3, size=(60, 64), noise=0.05) -> Photo:
    """A gradient with grain: ``noise`` 0.2 at 300x320 makes a ~100 KB JPEG, more than the small disk."""
    rng = np.random.default_rng(5)
    ys, xs = np.mgrid[0 : size[0], 0 : size[1]]
    grain = (ys + xs)[..., None] / (size[0] + size[1]) + noise * rng.random((*size, channels))
    return Photo((grain / (1 + noise) * np.iinfo(dtype).max).astype(dtype), None, None, None, "PNG")


def _tiny_gan_weights(path: Path) -> Path:
    arch = GanArch(ngf=4, ndf=4, nz=8)
    return weights.save_weights(
        path, "dcgan", arch, {"generator": Generator(arch), "discriminator": Discriminator(arch)}
    )


WRITERS = {
    "jpeg": ("out.jpg", lambda p: write_photo(_photo(), p)),
    "png": ("out.png", lambda p: write_photo(_photo(np.uint16), p)),
    "tiff": ("out.tif", lambda p: write_photo(_photo(np.uint16, 1), p)),
    "mask": ("mask.png", lambda p: write_mask(np.eye(40, dtype=bool), p)),
    "record": ("record.json", lambda p: write_record({"format": "x", "regions": list(range(50))}, p)),
    "session manifest": ("manifest.json", lambda p: session._write_bytes(p, b'{"format": 1}' * 40)),
    "session entry": ("000001.npz", lambda p: session._write_bytes(p, _npz_bytes())),
    "weights": ("model.pt", _tiny_gan_weights),
}


def _npz_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, values=np.arange(500))
    return buffer.getvalue()


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("existing", [False, True], ids=["new", "over-old"])
def test_a_full_disk_leaves_the_old_file_and_no_temp(writer, existing, tmp_path, faulty_disk):
    name, write = WRITERS[writer]
    target = tmp_path / name
    if existing:
        target.write_bytes(b"the previous version")
    before = snapshot(tmp_path)
    faulty_disk(tmp_path, "full")
    with pytest.raises(WriteError) as info:
        write(target)
    assert str(info.value) == f"cannot write {target}: No space left on device; nothing was changed"
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_write_that_lies_about_its_size_is_caught(writer, tmp_path, faulty_disk):
    name, write = WRITERS[writer]
    target = tmp_path / name
    target.write_bytes(b"the previous version")
    before = snapshot(tmp_path)
    faulty_disk(tmp_path, "lying")
    with pytest.raises(WriteError) as info:
        write(target)
    pattern = rf"cannot write {re.escape(str(target))}: only (\d+) of (\d+) bytes reached the disk "
    match = re.fullmatch(pattern + r"\(is it full\?\); nothing was changed", str(info.value))
    assert match and int(match[1]) < int(match[2])
    assert snapshot(tmp_path) == before


def test_a_writer_by_name_that_leaves_an_empty_file_is_refused(tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(b"old")
    with pytest.raises(WriteError) as info:
        atomic_write(target, lambda tmp: None)
    assert str(info.value) == f"cannot write {target}: the writer produced an empty file; nothing was changed"
    assert snapshot(tmp_path) == {"model.pt": b"old"}


def test_a_file_that_does_not_read_back_is_not_renamed(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def garbage(tmp: Path) -> None:
        raise ValueError("no PNG header")

    with pytest.raises(WriteError) as info:
        atomic_write_bytes(target, b"not a png", garbage)
    assert str(info.value) == (
        f"cannot write {target}: the written file does not read back (no PNG header); nothing was changed"
    )
    assert snapshot(tmp_path) == {"out.png": b"old"}


def test_every_image_writer_reads_its_file_back(tmp_path, monkeypatch):
    # An encoder that "succeeds" but writes the wrong image: caught by the header check.
    import imagecodecs

    real = imagecodecs.png_encode
    monkeypatch.setattr(imagecodecs, "png_encode", lambda a, **k: real(a[:-1], **k))  # one row short
    target = tmp_path / "out.png"
    with pytest.raises(WriteError, match=r"PNG header says 64x59, expected 64x60"):
        write_photo(_photo(), target)
    assert snapshot(tmp_path) == {}


def _inpaint_inputs(folder: Path) -> tuple[Path, Path]:
    photo_path, mask_path = folder / "photo.png", folder / "mask.png"
    write_photo(_photo(size=(300, 320), noise=0.2), photo_path)
    hole = np.zeros((300, 320), bool)
    hole[100:104, 50:90] = True
    write_mask(hole, mask_path)
    return photo_path, mask_path


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_inpaint_on_a_full_disk_fails_with_one_line(suffix, tmp_path, faulty_disk, capsys):
    photo_path, mask_path = _inpaint_inputs(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / f"restored{suffix}"
    out.write_bytes(b"yesterday's result")
    before = snapshot(tmp_path)
    faulty_disk(out_dir, "full")
    lossy = ["--lossy"] if suffix == ".jpg" else []
    code = main(
        ["inpaint", str(photo_path), "--mask", str(mask_path), "-o", str(out), "-q", "--overwrite", *lossy]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err == f"restorer: error: cannot write {out}: No space left on device; nothing was changed\n"
    assert snapshot(tmp_path) == before


# A real full disk: a 64 KiB tmpfs (root only). Pillow's JPEG encoder ignores a short write() and the
# old atomic_write renamed the cut file into place with exit 0.


@pytest.fixture
def small_tmpfs(tmp_path):
    folder = tmp_path / "full"
    folder.mkdir()
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"mount not permitted: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_inpaint_onto_a_really_full_disk(suffix, tmp_path, small_tmpfs, capsys):
    photo_path, mask_path = _inpaint_inputs(tmp_path)
    out = small_tmpfs / f"restored{suffix}"
    out.write_bytes(b"yesterday's result")
    before = snapshot(small_tmpfs)
    lossy = ["--lossy"] if suffix == ".jpg" else []
    code = main(
        ["inpaint", str(photo_path), "--mask", str(mask_path), "-o", str(out), "-q", "--overwrite", *lossy]
    )
    err = capsys.readouterr().err
    assert code == 1, err
    assert err == f"restorer: error: cannot write {out}: No space left on device; nothing was changed\n"
    assert snapshot(small_tmpfs) == before


def test_weights_onto_a_really_full_disk(small_tmpfs):
    target = small_tmpfs / "model.pt"
    with pytest.raises(WriteError) as info:
        _tiny_gan_weights(target)
    assert str(info.value) == f"cannot write {target}: No space left on device; nothing was changed"
    assert snapshot(small_tmpfs) == {}


def test_what_fits_on_the_small_disk_is_written_whole(small_tmpfs):
    target = small_tmpfs / "mask.png"
    write_mask(np.eye(64, dtype=bool), target)
    np.testing.assert_array_equal(read_photo(target).pixels[..., 0] > 0, np.eye(64, dtype=bool))


# --- item 7: malformed weights and unexpected errors -------------------------------------------------


def _payload(arch: dict | None = None, kind: str | None = "dcgan") -> dict:
    gan = GanArch(ngf=4, ndf=4, nz=8)
    payload = {
        "format": weights.FORMAT,
        "kind": kind,
        "arch": {**gan.to_dict(), **(arch or {})},
        "pixel_range": [-1.0, 1.0],
        "provenance": {},
        "nets": {"generator": weights._to_storage(Generator(gan).state_dict(), True)},
    }
    if kind is None:
        del payload["kind"]
    payload["sha256"] = weights.content_digest(payload)  # the checksum matches: only the content is odd
    return payload


BAD_PAYLOADS = {
    "resolution 32": (_payload({"resolution": 32}), "unsupported resolution 32 (64 or 128)"),
    "nz 'abc'": (_payload({"nz": "abc"}), "arch field nz must be a positive whole number, not 'abc'"),
    "nz 0": (_payload({"nz": 0}), "arch field nz must be a positive whole number, not 0"),
    "nz huge": (_payload({"nz": 10**9}), "arch field nz=1000000000 is out of range (at most 16384)"),
    "ngf 2**20": (_payload({"ngf": 2**20}), "arch field ngf=1048576 is out of range (at most 16384)"),
    "ngf 2**13": (
        _payload({"ngf": 2**13}),
        "its architecture would need 168.0 GiB of weights (at most 2 GiB): the file is broken",
    ),
    "no kind": (_payload(kind=None), "the weights file names no model kind"),
    "kind 'vae'": (
        _payload(kind="vae"),
        "unknown model kind 'vae' (expected 'dcgan', 'context-encoder' or 'detector')",
    ),
    "nc 2": (_payload({"nc": 2}), "unsupported channel count nc=2 (1 or 3)"),
    "d_norm": (
        _payload({"d_norm": "layer"}),
        "unknown discriminator normalisation 'layer' (spectral or batch)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PAYLOADS))
def test_malformed_weights_are_refused_before_any_network_is_built(case, tmp_path, monkeypatch):
    payload, message = BAD_PAYLOADS[case]
    path = tmp_path / "bad.pt"
    torch.save(payload, path)
    built = []  # networks built with real storage: sizing them on the meta device is allowed
    real_build = weights._build

    def build(kind, arch):
        if torch.get_default_device().type != "meta":
            built.append(kind)
        return real_build(kind, arch)

    monkeypatch.setattr(weights, "_build", build)
    with pytest.raises(RestorerError) as info:
        weights.load_model(path)
    assert str(info.value) == f"bad.pt: {message}"
    assert built == []


def test_malformed_nets_are_refused(tmp_path):
    payload = _payload()
    payload["nets"] = {"generator": {"weight": "not a tensor"}}
    path = tmp_path / "bad.pt"
    torch.save(payload, path)
    with pytest.raises(RestorerError) as info:
        weights.read_payload(path)
    assert str(info.value) == "bad.pt: the weights for 'generator' are not a table of tensors"


def test_the_command_line_refuses_malformed_weights_in_one_line(tmp_path, capsys):
    photo_path, mask_path = tmp_path / "p.png", tmp_path / "m.png"
    write_photo(_photo(size=(70, 72)), photo_path)
    write_mask(np.eye(70, 72, dtype=bool), mask_path)
    model = tmp_path / "bad.pt"
    torch.save(BAD_PAYLOADS["ngf 2**20"][0], model)
    before = snapshot(tmp_path)
    args = ["inpaint", str(photo_path), "-m", str(mask_path), "-o", str(tmp_path / "o.png")]
    code = main([*args, "--method", "latent", "--model", str(model), "-q"])
    assert code == 1
    assert capsys.readouterr().err == (
        "restorer: error: bad.pt: arch field ngf=1048576 is out of range (at most 16384)\n"
    )
    assert snapshot(tmp_path) == before


def _crashing_run(exc: BaseException):
    def run(args):
        raise exc

    return run


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (ValueError("boom\nsecond line"), "restorer: error: unexpected ValueError: boom"),
        (MemoryError(), "restorer: error: out of memory; try a smaller photo or fewer starts"),
        (
            RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 56 GB."),
            "restorer: error: out of memory (DefaultCPUAllocator: can't allocate memory: you tried to "
            "allocate 56 GB.); try a smaller photo or fewer starts",
        ),
        (KeyError("x"), "restorer: error: unexpected KeyError: 'x'"),
    ],
)
def test_an_unexpected_error_is_one_line_with_a_hint(exc, line, monkeypatch, capsys):
    from restorer.commands import models as models_command

    monkeypatch.setattr(models_command, "run", _crashing_run(exc))
    assert main(["models"]) == 1
    assert capsys.readouterr().err == f"{line} (rerun with --debug for the traceback)\n"


def test_debug_shows_the_traceback(monkeypatch, capsys):
    from restorer.commands import models as models_command

    monkeypatch.setattr(models_command, "run", _crashing_run(ValueError("boom")))
    assert main(["models", "--debug"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.endswith("restorer: error: unexpected ValueError: boom\n")
    assert main(["--debug", "models"]) == 1  # before the command too


def test_keyboard_interrupt_still_exits_130(monkeypatch, capsys):
    from restorer.commands import models as models_command

    monkeypatch.setattr(models_command, "run", _crashing_run(KeyboardInterrupt()))
    assert main(["models"]) == 130
    assert capsys.readouterr().err == "restorer: interrupted\n"


def test_unexpected_message_is_bounded():
    assert len(unexpected_message(RuntimeError("x" * 5000))) < 400
