import pytest

from settingsfile import Settings, SettingsError

TEXT = """
# a comment
name = demo
port = 8080
"""


def test_parse():
    s = Settings.parse(TEXT)
    assert s.get("name") == "demo"
    assert s.get_int("port") == 8080


def test_default():
    assert Settings.parse(TEXT).get("missing", "x") == "x"


def test_get_int_invalid():
    with pytest.raises(SettingsError):
        Settings.parse(TEXT).get_int("name")


def test_missing_key_is_keyerror():
    with pytest.raises(KeyError):
        Settings.parse(TEXT).get("absent")
