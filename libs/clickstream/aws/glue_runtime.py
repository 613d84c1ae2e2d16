"""What AWS Glue 5.0 gives a job's Python, and what the release must therefore ship itself.

The one place the project keeps Glue 5.0's preinstalled modules. Source: AWS Glue Developer
Guide, "Using Python libraries with AWS Glue", section "Python modules already provided in AWS
Glue", list "AWS Glue version 5.0"
(https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html).
Same page: Glue 5.0 runs Python 3.11 on Amazon Linux 2023 (glibc 2.34); pyspark and py4j come
with Glue's Spark 3.5.4, not from this list, and awsglue with Glue's own libraries.

Deploy installs the project's wheel with `--python-modules-installer-option --no-deps`, so a job
has exactly these modules plus what `--additional-python-modules` names: every third-party module
the project imports that is not below is shipped as a pinned wheel (`shipped_requirements`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

GLUE_VERSION = "5.0"
PYTHON_VERSION = "3.11"
SPARK_VERSION = "3.5.4"
# Wheels Glue 5.0 can install: CPython 3.11 on x86_64 Linux with glibc 2.34 (Amazon Linux 2023).
WHEEL_PLATFORMS = ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64")
# Provided by Glue's Spark and Glue's libraries, outside the pip list below.
SPARK_RUNTIME = {"pyspark": SPARK_VERSION, "py4j": "0.10.9.7", "awsglue": GLUE_VERSION}

# "AWS Glue version 5.0 includes the following Python modules out of the box" (the page above).
GLUE_5_0_PROVIDED: dict[str, str] = {
    "aiobotocore": "2.13.1",
    "aiohappyeyeballs": "2.3.5",
    "aiohttp": "3.10.1",
    "aioitertools": "0.11.0",
    "aiosignal": "1.3.1",
    "appdirs": "1.4.4",
    "attrs": "24.2.0",
    "boto3": "1.34.131",
    "botocore": "1.34.131",
    "certifi": "2024.7.4",
    "charset-normalizer": "3.3.2",
    "contourpy": "1.2.1",
    "cycler": "0.12.1",
    "fonttools": "4.53.1",
    "frozenlist": "1.4.1",
    "fsspec": "2024.6.1",
    "idna": "2.10",
    "jmespath": "0.10.0",
    "kaleido": "0.2.1",
    "kiwisolver": "1.4.5",
    "matplotlib": "3.9.0",
    "multidict": "6.0.5",
    "numpy": "1.26.4",
    "packaging": "24.1",
    "pandas": "2.2.2",
    "pillow": "10.4.0",
    "pip": "23.0.1",
    "plotly": "5.23.0",
    "pyarrow": "17.0.0",
    "pyparsing": "3.1.2",
    "python-dateutil": "2.9.0.post0",
    "pytz": "2024.1",
    "requests": "2.32.2",
    "s3fs": "2024.6.1",
    "s3transfer": "0.10.2",
    "seaborn": "0.13.2",
    "setuptools": "59.6.0",
    "six": "1.16.0",
    "tenacity": "9.0.0",
    "tzdata": "2024.1",
    "urllib3": "1.25.10",
    "virtualenv": "20.4.0",
    "wrapt": "1.16.0",
    "yarl": "1.9.4",
}

# The Glue stand-in of the tests: the listed modules the project's jobs import (pyarrow, numpy,
# pandas for Spark's Arrow path, boto3 for the catalog) and the listed modules they require.
STAND_IN_MODULES = (
    "boto3",
    "botocore",
    "jmespath",
    "numpy",
    "pandas",
    "pyarrow",
    "python-dateutil",
    "pytz",
    "s3transfer",
    "six",
    "tzdata",
    "urllib3",
)

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical_name(name: str) -> str:
    """A distribution name as PEP 503 compares them (PyYAML -> pyyaml, python_dateutil -> ...)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The canonical distribution name of a requirement such as 'PyYAML==6.0.3'."""
    match = _NAME.match(requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonical_name(match.group(1))


def provided(name: str) -> bool:
    """Whether Glue 5.0 has the distribution without pip: its list, or its Spark and libraries."""
    return canonical_name(name) in {canonical_name(n) for n in (*GLUE_5_0_PROVIDED, *SPARK_RUNTIME)}


def shipped_requirements(requirements: Iterable[str]) -> list[str]:
    """The runtime requirements Glue 5.0 lacks: shipped as wheels beside the project's wheel."""
    return [req for req in requirements if not provided(requirement_name(req))]


def stand_in_requirements() -> list[str]:
    """name==version of the listed modules the Glue stand-in holds (besides Spark's pyspark)."""
    return [f"{name}=={GLUE_5_0_PROVIDED[name]}" for name in STAND_IN_MODULES]
