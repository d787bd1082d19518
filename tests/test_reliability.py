"""Fault injection (issue 14): tiny holes in every fill and method, checked writes on a full disk,
malformed weights, and unexpected errors on the command line.

Each fault asserts the exact message, the exit code, and that the folder holds no new or changed
file afterwards.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
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


# --- item 6: malformed session manifests; the lock that replaced process-id probing -----------------


def _crashed_session(root: Path, photos: Path) -> Path:
    """A session as a crashed window leaves it: two strokes saved, its lock dropped by the OS."""
    from gui_support import photo_file, stroke

    from restorer.editing.document import Document

    path = photo_file(photos)
    doc = Document(read_photo(path), path)
    stroke(doc, (10, 10), (40, 30))
    stroke(doc, (50, 50), (70, 60))
    store = session.SessionStore.create(root)
    store.save(doc, {"settings": {"method": "auto"}})
    store.release()  # what the OS does when the process dies
    return store.folder


def _edit_manifest(change):
    def edit(folder: Path) -> None:
        path = folder / "manifest.json"
        path.write_text(json.dumps(change(json.loads(path.read_text()))))

    return edit


def _unlink_entry(folder: Path) -> None:
    (folder / "entries" / "000002.npz").unlink()


BAD_MANIFESTS = {
    "a JSON list": (_edit_manifest(lambda m: [m]), "its manifest holds a list, not a session"),
    "null": (_edit_manifest(lambda m: None), "its manifest holds null, not a session"),
    "pid 'abc'": (
        _edit_manifest(lambda m: {**m, "pid": "abc"}),
        "its process id 'abc' is not a whole number",
    ),
    "position 'x'": (
        _edit_manifest(lambda m: {**m, "position": "x"}),
        "its history position 'x' is not a whole number from 0 to 2",
    ),
    "position -1": (
        _edit_manifest(lambda m: {**m, "position": -1}),
        "its history position -1 is not a whole number from 0 to 2",
    ),
    "position 3": (
        _edit_manifest(lambda m: {**m, "position": 3}),
        "its history position 3 is not a whole number from 0 to 2",
    ),
    "no photo": (
        _edit_manifest(lambda m: {k: v for k, v in m.items() if k != "photo"}),
        "it names no photo",
    ),
    "size [1]": (
        _edit_manifest(lambda m: {**m, "size": [1]}),
        "its photo size [1] is not two positive whole numbers",
    ),
    "entry outside the folder": (
        _edit_manifest(lambda m: {**m, "entries": ["../../x.npz", "000002.npz"]}),
        "its list of history entries is unreadable",
    ),
    "baked_count without a file": (
        _edit_manifest(lambda m: {**m, "baked_count": 4}),
        "its trimmed-history count 4 does not match its file",
    ),
    "missing entry file": (_unlink_entry, "its history file entries/000002.npz is missing"),
    "no format": (
        _edit_manifest(lambda m: {k: v for k, v in m.items() if k != "format"}),
        "its manifest names no session format (None)",
    ),
    "not JSON": (lambda f: (f / "manifest.json").write_text('{"format": '), "its manifest is not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_a_malformed_session_manifest_is_listed_as_broken_with_its_reason(case, tmp_path):
    root = tmp_path / "sessions"
    folder = _crashed_session(root, tmp_path)
    damage, reason = BAD_MANIFESTS[case]
    damage(folder)
    before = snapshot(tmp_path)
    [info] = session.recoverable_sessions(root)  # before: AttributeError, ValueError, KeyError
    assert (info.folder, info.problem, info.changes) == (folder, reason, 0)
    assert info.photo.name and isinstance(info.updated, str)  # the prompt can name it
    with pytest.raises(RestorerError) as raised:
        session.load_session(info)
    assert str(raised.value) == f"the session cannot be recovered: {reason}"
    assert snapshot(tmp_path) == before


def test_garbage_restore_settings_keep_the_work_with_default_settings(tmp_path):
    root = tmp_path / "sessions"
    folder = _crashed_session(root, tmp_path)
    _edit_manifest(lambda m: {**m, "settings": {"box": "garbage", "method": "auto"}})(folder)
    [info] = session.recoverable_sessions(root)
    assert info.problem is None and info.changes == 2 and info.settings == {}
    _edit_manifest(lambda m: {**m, "settings": {"box": [-5, 0, 10, 10]}})(folder)
    assert session.recoverable_sessions(root)[0].settings == {}
    doc, _, _ = session.load_session(session.recoverable_sessions(root)[0])
    assert doc.history.position == 2


def test_a_damaged_history_file_fails_recovery_in_one_line(tmp_path):
    root = tmp_path / "sessions"
    folder = _crashed_session(root, tmp_path)
    (folder / "entries" / "000002.npz").write_bytes(b"PK\x03\x04 not a zip")
    [info] = session.recoverable_sessions(root)
    with pytest.raises(RestorerError, match=r"^the session's history is damaged \(BadZipFile: "):
        session.load_session(info)


def test_a_session_locked_by_a_running_window_is_not_offered_until_it_dies(tmp_path):
    root = tmp_path / "sessions"
    folder = _crashed_session(root, tmp_path)
    holder = (  # another window: takes the lock and keeps it until killed
        "import sys, filelock; lock = filelock.FileLock(sys.argv[1]); lock.acquire(); "
        "print('held', flush=True); sys.stdin.read()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", holder, str(folder / "lock")], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout.readline() == b"held\n"
        assert session.recoverable_sessions(root) == []  # the pid in the manifest is ours, ignored
        with pytest.raises(RestorerError, match="is open in another Restorer window"):
            session.SessionStore.adopt(session.SessionInfo(folder, {}), [])
    finally:
        child.kill()  # no release: the OS drops the lock of a dead process
        child.wait()
    [info] = session.recoverable_sessions(root)
    assert info.problem is None and info.changes == 2


def test_a_store_holds_its_lock_while_the_window_runs(tmp_path):
    root = tmp_path / "sessions"
    folder = _crashed_session(root, tmp_path)
    [info] = session.recoverable_sessions(root)
    _, entries, _ = session.load_session(info)
    store = session.SessionStore.adopt(info, entries)
    assert session.recoverable_sessions(root) == []  # this process's own window: live
    store.mark_kept()  # kept for later: the lock goes, the session is offered next time
    assert [s.folder for s in session.recoverable_sessions(root)] == [folder]
    store.delete()
    assert not folder.exists()


# --- item 8: exit status, SIGTERM, stale temps, messages, fast input checks ---------------------------


def _tail(err: str) -> str:
    return err.strip().splitlines()[-1]


def test_nothing_filled_exits_3_and_writes_nothing(tmp_path, capsys):
    photo_path, mask_path = tmp_path / "p.png", tmp_path / "m.png"
    write_photo(_photo(), photo_path)
    write_mask(np.ones((60, 64), bool), mask_path)  # every pixel damaged: no window has context
    before = snapshot(tmp_path)
    args = ["inpaint", str(photo_path), "-m", str(mask_path), "-o", str(tmp_path / "o.png"), "-q"]
    assert main(args) == 3  # was 0, with the photo copied unchanged
    assert capsys.readouterr().err == (
        "restorer: warning: region 1 (x=0, y=0, 64x60 px): hole too large for its window (100% of 64x60); "
        "not filled\n"
        "restorer: error: no region could be filled (see the warnings above); nothing was written\n"
    )
    assert snapshot(tmp_path) == before
    write_mask(np.zeros((60, 64), bool), mask_path)
    before = snapshot(tmp_path)
    assert main(args) == 3
    assert capsys.readouterr().err == (
        f"restorer: error: {mask_path} marks no damage: nothing to fill; nothing was written\n"
    )
    assert snapshot(tmp_path) == before


def test_batch_with_nothing_to_fill_exits_3(tmp_path, capsys):
    images, out = tmp_path / "scans", tmp_path / "out"
    images.mkdir()
    write_photo(_photo(), images / "a.png")
    write_mask(np.zeros((60, 64), bool), images / "a-mask.png")
    before = snapshot(tmp_path)
    assert main(["batch", str(images), str(images), str(out), "-q"]) == 3
    assert capsys.readouterr().err.splitlines()[-2:] == [
        "restorer: 0 of 1 photo(s) restored; 1 failed:",
        f"  a.png: {images / 'a-mask.png'} marks no damage: nothing to fill; nothing was written",
    ]
    assert snapshot(tmp_path) == before and list(out.iterdir()) == []


def test_sigterm_mid_run_exits_143_and_leaves_nothing(tmp_path):
    photo_path, mask_path = _inpaint_inputs(tmp_path)
    out = tmp_path / "restored.png"
    before = snapshot(tmp_path)
    command = [sys.executable, "-m", "restorer", "inpaint", str(photo_path), "-m", str(mask_path)]
    slow = ["--method", "latent", "--iterations", "100000", "--device", "cpu"]  # runs until stopped
    child = subprocess.Popen([*command, "-o", str(out), *slow], stderr=subprocess.PIPE, text=True)
    started = child.stderr.readline()  # printed when the first region starts: mid-run from here
    assert started.startswith("region 1/"), started
    child.send_signal(signal.SIGTERM)
    err = child.stderr.read()
    assert child.wait(timeout=60) == 143  # was -15: Python died on the spot
    assert err == "restorer: terminated\n"
    assert snapshot(tmp_path) == before


def test_sigterm_during_the_write_removes_the_temp_file(tmp_path, monkeypatch, capsys):
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to tell our temp file apart")
    photo_path, mask_path = _inpaint_inputs(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "restored.png").write_bytes(b"yesterday's result")
    before = snapshot(tmp_path)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:  # the temp file is complete and about to be checked and renamed
        if _is_our_temp(fd, out_dir):
            os.kill(os.getpid(), signal.SIGTERM)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    args = ["inpaint", str(photo_path), "-m", str(mask_path), "-o", str(out_dir / "restored.png")]
    assert main([*args, "-q", "--overwrite", "--method", "classic"]) == 143
    assert capsys.readouterr().err == "restorer: terminated\n"
    assert snapshot(tmp_path) == before
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back for whatever runs next


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temp_files_of_a_killed_run_are_swept_at_start(tmp_path, capsys):
    photo_path, mask_path = _inpaint_inputs(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dead, now = _dead_pid(), time.time()
    ages = {
        f".restored.png.{dead}-0123abcd.tmp": 120,  # its writer is gone: swept
        ".restored.png.89abcdef.tmp": 7200,  # an older version's name, two hours untouched: swept
        f".restored.png.{dead}-11111111.tmp": 5,  # just written: perhaps another machine's writer
        f".restored.png.{os.getpid()}-22222222.tmp": 600,  # a live writer's
        ".notes.tmp": 7200,  # not a name of ours
    }
    for name, age in ages.items():
        (out_dir / name).write_bytes(b"partial")
        os.utime(out_dir / name, (now - age, now - age))
    args = ["inpaint", str(photo_path), "-m", str(mask_path), "-o", str(out_dir / "restored.png")]
    assert main([*args, "--method", "classic"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"restorer: removed 2 temp file(s) an interrupted run left in {out_dir}"
    kept = sorted(p.name for p in out_dir.iterdir())
    assert kept == sorted([*list(ages)[2:], "restored.png"])


@pytest.mark.parametrize("detector", ["classic", "learned"])
def test_detect_on_a_one_pixel_high_photo_names_the_size(detector, tmp_path, capsys):
    if detector == "learned":
        from restorer.core.detect_learned import installed_detector

        if installed_detector() is None:
            pytest.skip("no trained detector installed")
    write_photo(Photo(np.full((1, 64, 3), 128, np.uint8), None, None, None, "PNG"), tmp_path / "row.png")
    before = snapshot(tmp_path)
    args = ["detect", str(tmp_path / "row.png"), "-o", str(tmp_path / "mask.png"), "--detector", detector]
    assert main(args) == 1
    assert capsys.readouterr().err == (  # was: "needs an (H, W, C) photo, got shape (1, 64, 3)"
        "restorer: error: the photo is 64x1 pixels: damage detection needs at least 3 pixels in each "
        "direction\n"
    )
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("value", "line"),
    [
        (
            "1e308",
            "argument --lambda/--lam: must be at most 1000 (the default is 0.003; larger weights make the "
            "search ignore the photo and overflow), not 1e308",
        ),
        ("nan", "argument --lambda/--lam: must be a finite number >= 0, not nan"),
    ],
)
def test_an_absurd_prior_weight_is_refused_by_name(value, line, tmp_path, capsys):
    photo_path, mask_path = tmp_path / "p.png", tmp_path / "m.png"
    write_photo(_photo(), photo_path)
    write_mask(np.eye(60, 64, dtype=bool), mask_path)
    before = snapshot(tmp_path)
    args = ["inpaint", str(photo_path), "-m", str(mask_path), "-o", str(tmp_path / "o.png")]
    assert main([*args, "--method", "latent", "--lambda", value]) == 2  # was 1: "Invalid learning rate: nan"
    assert _tail(capsys.readouterr().err) == f"restorer inpaint: error: {line}"
    assert snapshot(tmp_path) == before


def test_nan_weights_are_refused_by_name(tmp_path, capsys):
    payload = _payload()
    generator = payload["nets"]["generator"]
    first = next(k for k, v in generator.items() if v.is_floating_point())
    generator[first] = torch.full_like(generator[first], float("nan"))
    payload["sha256"] = weights.content_digest(payload)  # saved that way: training diverged
    torch.save(payload, tmp_path / "bad.pt")
    photo_path, mask_path = tmp_path / "p.png", tmp_path / "m.png"
    write_photo(_photo(size=(70, 72)), photo_path)
    write_mask(np.eye(70, 72, dtype=bool), mask_path)
    before = snapshot(tmp_path)
    args = ["inpaint", str(photo_path), "-m", str(mask_path), "-o", str(tmp_path / "o.png")]
    assert main([*args, "--method", "latent", "--model", str(tmp_path / "bad.pt"), "-q"]) == 1
    assert capsys.readouterr().err == (  # was: "the pixels around the hole contain NaN or infinite values"
        f"restorer: error: bad.pt: the weights for 'generator' hold NaN or infinite values ({first}): "
        "the model is broken\n"
    )
    assert snapshot(tmp_path) == before


def test_a_fill_that_produced_nan_is_named_not_the_photo():
    from restorer.core.patches import compose

    window = np.full((8, 8, 3), 0.5, np.float32)
    hole = np.zeros((8, 8), bool)
    hole[3:5, 3:5] = True
    candidate = np.full_like(window, np.nan)
    for blend in (True, False):
        with pytest.raises(RestorerError) as raised:
            compose(window, hole, candidate, blend)
        assert str(raised.value) == (
            "the fill produced NaN or infinite values (a model whose weights or search overflowed); "
            "try another method or model"
        )


@pytest.mark.parametrize("spelling", [["--box", "-5,0,10,10"], ["--box=-5,0,10,10"]])
def test_a_negative_box_is_read_as_a_value_and_refused_by_name(spelling, tmp_path, capsys):
    photo_path, mask_path = tmp_path / "p.png", tmp_path / "m.png"
    write_photo(_photo(), photo_path)
    write_mask(np.eye(60, 64, dtype=bool), mask_path)
    before = snapshot(tmp_path)
    args = ["inpaint", str(photo_path), "-m", str(mask_path), "-o", str(tmp_path / "o.png")]
    assert main([*args, *spelling]) == 2
    assert _tail(capsys.readouterr().err) == (  # was: "argument --box: expected one argument"
        "restorer inpaint: error: argument --box: x must be >= 0, not -5 (in '-5,0,10,10')"
    )
    assert snapshot(tmp_path) == before


FAST_FAILURES = {
    "missing photo": (["missing.png", "-m", "m.png", "-o", "o.png"], "missing.png does not exist"),
    "missing mask": (["p.png", "-m", "missing.png", "-o", "o.png"], "missing.png does not exist"),
    "bad suffix": (
        ["p.png", "-m", "m.png", "-o", "o.bmp"],
        "cannot tell the format of o.bmp: use .png, .tif, .tiff, .jpg or .jpeg",
    ),
}


@pytest.mark.parametrize("case", sorted(FAST_FAILURES))
def test_a_bad_path_fails_before_the_engine_is_imported(case, tmp_path):
    write_photo(_photo(), tmp_path / "p.png")
    write_mask(np.eye(60, 64, dtype=bool), tmp_path / "m.png")
    args, message = FAST_FAILURES[case]
    before = snapshot(tmp_path)
    probe = (
        "import sys\nfrom restorer.cli import main\ncode = main(sys.argv[1:])\n"
        "print(code, sorted(m for m in ('torch', 'scipy') if m in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe, "inpaint", *args], cwd=tmp_path, capture_output=True, text=True
    )
    # Before: scipy and the pipeline were imported first (1.4 s); now 0.35 s, most of it numpy.
    assert run.stdout == "1 []\n"
    assert run.stderr == f"restorer: error: {message}\n"
    assert snapshot(tmp_path) == before
