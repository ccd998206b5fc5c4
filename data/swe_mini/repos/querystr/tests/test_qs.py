from querystr import build, parse


def test_simple():
    assert parse("a=1&b=2") == {"a": ["1"], "b": ["2"]}


def test_repeated_keys():
    assert parse("?a=1&a=3") == {"a": ["1", "3"]}


def test_plus_and_percent():
    assert parse("q=hello+world&x=%26") == {"q": ["hello world"], "x": ["&"]}


def test_build_roundtrip():
    params = {"q": ["a b"], "n": ["1", "2"]}
    assert parse(build(params)) == params
