"""The PySide6 desktop window. Modules without Qt in their name (view_transform, pyramid, history,
session, document) import no Qt, so their logic is testable and reusable on its own."""
