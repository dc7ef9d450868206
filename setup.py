"""The compiled modules: the batch path's hot loops in C (src/rootcause/*/_*.c).

engine._gain: information gain per cost and the top next steps; engine._findings: findings
dicts to the state matrix; adapters._render: contract JSON lines for a scored chunk.
Everything else about the package is declared in pyproject.toml.
"""

from setuptools import Extension, setup

KERNELS = ["engine._gain", "engine._findings", "adapters._render"]

setup(
    ext_modules=[
        Extension(
            f"rootcause.{name}",
            [f"src/rootcause/{name.replace('.', '/')}.c"],
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
