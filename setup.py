"""The compiled part of the engine: one optional C extension (everything else is in pyproject.toml).

`engine/_ranking.c` does the per-query arithmetic of a graph search in one call
(engine/ranking.py). It is optional: where it cannot be built (no C compiler), the install
goes on and the engine uses the numpy code that gives the same results.
"""

import sys

from setuptools import Extension, setup

# Float32 arithmetic exactly as numpy does it: no fused multiply-add, no fast-math reordering.
FLAGS = ["/fp:precise"] if sys.platform == "win32" else ["-O2", "-ffp-contract=off", "-fno-fast-math"]

setup(ext_modules=[Extension("engine._ranking", ["engine/_ranking.c"], extra_compile_args=FLAGS,
                             optional=True)])
