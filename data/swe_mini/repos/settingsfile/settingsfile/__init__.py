"""Read `key = value` settings files. Every error raised here is a SettingsError."""

from .settings import MissingSetting, Settings, SettingsError

__all__ = ["MissingSetting", "Settings", "SettingsError"]
