"""The one exception type the engine raises for problems a user can act on."""


class RestorerError(Exception):
    """A user-facing error: its message is one clear line, shown without a traceback."""
