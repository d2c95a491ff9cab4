"""The one exception type users see: a clear, single-line message, raised before outputs are written."""


class AuxrunError(Exception):
    """A user-facing error: bad config value, unknown task, malformed data file.

    The message names the offending file/line/key/value and what was expected. The CLI prints it
    on one line and exits with status 2 instead of showing a traceback.
    """


class ConfigError(AuxrunError):
    pass


class DataError(AuxrunError):
    pass
