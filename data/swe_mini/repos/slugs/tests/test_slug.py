from slugs import slugify


def test_ascii_words():
    assert slugify("Hello, World!") == "hello-world"


def test_custom_separator():
    assert slugify("a b c", sep="_") == "a_b_c"


def test_strip_edges():
    assert slugify("  --Tidy--  ") == "tidy"
