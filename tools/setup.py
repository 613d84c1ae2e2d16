"""Packaging of clickstream-tools: sample generator, demo, benchmark, JVM class-archive builder.

These tools run the product; they are not part of it. ``make install`` installs them (editable)
next to the product, and the wheel and zip that Glue and EMR install leave them out. Their
third-party pins live with every other pin, in the project's setup.py (its demo and bench extras).
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

# One version for the product and its tools: libs/clickstream/__init__.py.
VERSION = re.search(
    r'^__version__ = "([^"]+)"',
    (Path(__file__).resolve().parent.parent / "libs" / "clickstream" / "__init__.py").read_text(),
    re.M,
).group(1)

setup(
    name="clickstream-tools",
    version=VERSION,
    description="Sample data, demo, benchmark and JVM class archive for clickstream-etl",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["clickstream_tools", "clickstream_tools.*"]),
    install_requires=[f"clickstream-etl[demo,bench]=={VERSION}"],
)
