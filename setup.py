"""Builds the one optional C extension; everything else is in pyproject.toml.

``mlbudget.detection.drift._counting`` counts a numeric drift column in one pass
(``mlbudget/detection/drift/_counting.c``, Python's headers only). It is optional:
where no C compiler is found the install goes on and drift counts with numpy, to
the same results (counting about twice as slow; a whole drift run 10-20 % slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "mlbudget.detection.drift._counting",
            ["mlbudget/detection/drift/_counting.c"],
            optional=True,
            # No fused multiply-add: the bucket position must round as numpy's two passes do.
            extra_compile_args=["-O2", "-ffp-contract=off"],
        )
    ]
)
