from setuptools import Extension, setup

setup(
    name="fastsum",
    version="0.1",
    package_dir={"": "src"},
    packages=["fastsum"],
    ext_modules=[Extension("fastsum._core", ["src/fastsum/_core.c"])],
)
