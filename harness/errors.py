"""Errors a user can act on: each names the config key or file that caused it."""


class HarnessError(Exception):
    """Base class; the CLI prints these without a traceback."""


class ConfigError(HarnessError):
    def __init__(self, key: str, message: str):
        super().__init__(f"config error at `{key}`: {message}")
        self.key = key


class DataError(HarnessError):
    pass
