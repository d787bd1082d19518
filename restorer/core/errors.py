"""The one exception type the engine raises for problems a user can act on, and its kinds."""


class RestorerError(Exception):
    """A user-facing error: its message is one clear line, shown without a traceback."""


class WriteError(RestorerError):
    """A file could not be written completely; whatever was at its path before is unchanged."""
