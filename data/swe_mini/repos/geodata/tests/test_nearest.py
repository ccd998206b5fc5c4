from geodata import cities, distance, nearest


def test_table_loaded():
    assert len(cities()) >= 4


def test_same_point():
    assert distance((10.0, 20.0), (10.0, 20.0)) == 0


def test_nearest_north_south():
    assert nearest(60.0, 10.8) == "Oslo"
