"""The engine's messages in the window's own words (no Qt).

The engine writes for the command line: a forced method's reason is ``--method latent`` and its
warnings number regions among all the damage found ("region 3 (x=…, y=…, 40x30 px)"), while the
window numbers only the regions being filled ("Region 1 of 2"). Here a method is named by the label
the Method list shows, and a region in a warning by where it is, so no two numbers disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_FLAG = re.compile(r"--method[ =]([\w-]+)")
_REGION = re.compile(r"\bregion \d+ \(x=(\d+), y=(\d+), (\d+)x(\d+) px\)")


def method_label(name: str, labels: Mapping[str, str]) -> str:
    return labels.get(name, name)


def plain_reason(reason: str, labels: Mapping[str, str]) -> str:
    """Why a method fills a region, without command-line flags."""
    if _FLAG.fullmatch(reason.strip()):
        return "chosen in the Method list"
    return plain_text(reason, labels)


def plain_text(text: str, labels: Mapping[str, str]) -> str:
    """Any engine message (an error, a warning) with ``--method X`` as the method's label."""
    text = _FLAG.sub(lambda m: f"the method “{method_label(m.group(1), labels)}”", text)
    return _REGION.sub(lambda m: f"the damage at x {m[1]}, y {m[2]} ({m[3]} × {m[4]} px)", text)


def plain_warning(text: str, labels: Mapping[str, str]) -> str:
    """A warning, starting with a capital letter like the window's other messages."""
    text = plain_text(text, labels)
    return text[:1].upper() + text[1:]
