"""Exceptions whose message is the whole story; the CLI prints them without a traceback."""


class UserFacingError(RuntimeError):
    """Bad input or a missing resource, explained in the message (e.g. a missing file, a wrong vocab)."""


class VocabMismatchError(UserFacingError):
    """A checkpoint or store was written with a different vocabulary than the one loaded."""
