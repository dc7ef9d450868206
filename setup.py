"""The one compiled module: the information-gain kernel (src/rootcause/engine/_gain.c).

Everything else about the package is declared in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "rootcause.engine._gain",
            ["src/rootcause/engine/_gain.c"],
            # -O3 vectorises the loops over findings; -fno-trapping-math lets it turn their
            # float selects into blends (no FP exception is ever inspected). No -ffast-math:
            # the arithmetic stays IEEE, in the written order.
            extra_compile_args=[
                "-O3",
                "-fno-trapping-math",
                "-std=c11",
                "-Wall",
                "-Wextra",
                "-Wno-unused-parameter",
            ],
        )
    ]
)
