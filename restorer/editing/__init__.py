"""The editing layer: everything the window does that needs no Qt and no torch.

``document`` (the photo, its mask, the context box, the pending result), ``history`` (undo with a
size limit), ``session`` (autosave and recovery), ``export`` (what an export writes), ``retry``
(out-of-memory retries and one-line error messages), ``preview`` (live preview frames) and the
display maths ``pyramid`` and ``view_transform``. An import-linter contract keeps Qt, torch and
``restorer.gui`` out, so all of it is tested headless; ``restorer.gui`` draws it.
"""
