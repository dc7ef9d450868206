"""The compiled modules: the engine's two hot loops in C (src/rootcause/engine/_*.c).

_gain: information gain per cost and the top next steps; _findings: findings dicts to the
state matrix. Everything else about the package is declared in pyproject.toml.
"""

from setuptools import Extension, setup

KERNELS = ["_gain", "_findings"]

setup(
    ext_modules=[
        Extension(
            f"rootcause.engine.{name}",
            [f"src/rootcause/engine/{name}.c"],
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
        for name in KERNELS
    ]
)
