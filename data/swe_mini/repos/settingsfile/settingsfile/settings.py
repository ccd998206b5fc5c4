_MISSING = object()


class SettingsError(Exception):
    """Base class of every error raised by this package."""


class MissingSetting(SettingsError, KeyError):
    """A key that is not set and has no default."""

    def __str__(self):
        return f"setting {self.args[0]!r} is not set"


class Settings:
    def __init__(self, values):
        self._values = dict(values)

    @classmethod
    def parse(cls, text):
        values = {}
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise SettingsError(f"line {lineno}: expected key = value, got {line!r}")
            values[key.strip()] = value.strip()
        return cls(values)

    def get(self, key, default=_MISSING):
        if key in self._values:
            return self._values[key]
        if default is not _MISSING:
            return default
        raise KeyError(key)

    def get_int(self, key, default=_MISSING):
        raw = self.get(key, default)
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"setting {key!r} is not an integer: {raw!r}") from None
