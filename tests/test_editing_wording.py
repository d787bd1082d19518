"""The engine's command-line wording turned into the window's."""

from __future__ import annotations

from restorer.editing.wording import plain_reason, plain_text, plain_warning

LABELS = {"latent": "Face model: latent optimisation", "patch": "Patch fill (textures)"}


def test_a_forced_method_is_not_described_by_its_flag():
    assert plain_reason("--method latent", LABELS) == "chosen in the Method list"
    assert plain_reason("thin scratch (max width 3 px)", LABELS) == "thin scratch (max width 3 px)"
    text = plain_text("model x is a ce model; --method latent needs a dcgan model", LABELS)
    assert text == "model x is a ce model; the method “Face model: latent optimisation” needs a dcgan model"
    assert "--" not in plain_text("use --method=patch", LABELS)


def test_warnings_name_regions_by_place_not_by_a_second_numbering():
    warning = "region 3 (x=10, y=20, 40x30 px): too large for a 64 px window; not filled"
    assert plain_warning(warning, LABELS) == (
        "The damage at x 10, y 20 (40 × 30 px): too large for a 64 px window; not filled"
    )
