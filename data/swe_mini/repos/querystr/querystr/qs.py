from urllib.parse import quote_plus, unquote_plus


def parse(qs):
    """'a=1&b=2&a=3' -> {'a': ['1', '3'], 'b': ['2']}"""
    out = {}
    for part in qs.lstrip("?").split("&"):
        if not part:
            continue
        key, value = part.split("=")
        out.setdefault(unquote_plus(key), []).append(unquote_plus(value))
    return out


def build(params):
    """{'a': ['1', '3']} -> 'a=1&a=3'"""
    pairs = []
    for key, values in params.items():
        if isinstance(values, str):
            values = [values]
        for v in values:
            pairs.append(f"{quote_plus(key)}={quote_plus(v)}")
    return "&".join(pairs)
