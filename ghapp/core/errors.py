"""The core's one exception type: a message a user can act on."""


class GhappError(Exception):
    """Bad input the core cannot evaluate (the CLI exits 2 with this message)."""
