"""Packaging for clickstream-etl. Every dependency pin of the project lives here."""

import re
from pathlib import Path

from setuptools import find_packages, setup

# The version lives in one place: libs/clickstream/__init__.py.
VERSION = re.search(
    r'^__version__ = "([^"]+)"',
    (Path(__file__).parent / "libs" / "clickstream" / "__init__.py").read_text(),
    re.M,
).group(1)

# Runtime pins match AWS Glue 5.0 (Spark 3.5.4, Python 3.11); EMR 7.x runs Spark 3.5.x.
INSTALL_REQUIRES = [
    "pyspark==3.5.4",
    "pyarrow==17.0.0",
    "pandas==2.2.3",
    "numpy==1.26.4",
    "boto3==1.44.5",
    "PyYAML==6.0.3",
]

EXTRAS_REQUIRE = {
    "test": [
        "pytest==9.2.0",
        "pytest-xdist==3.8.0",
        "chispa==0.12.0",
        "moto[server]==5.2.5",
        "sqlglot==30.30.0",
        # An independent reader of the Delta tables (delta-rs); 0.25.x works with pyarrow 17.
        "deltalake==0.25.5",
    ],
    "lint": ["ruff==0.17.6"],
    "demo": ["matplotlib==3.9.4"],
    "bench": ["duckdb==1.4.1", "psutil==7.1.3"],
    # Only on Glue itself do these find their JVM jars; locally they import, nothing more.
    "glue": ["awsgluedataplanepython==5.0.0"],
    # Delta's jars come from the platform on Glue 5.0 and EMR 7.x. Local sessions load the JVM
    # jars (S3A, Delta) that `make jars` copies from Maven Central: their pins are in jvm/pom.xml.
    "delta": ["delta-spark==3.3.0"],
}

setup(
    name="clickstream-etl",
    version=VERSION,
    description="PySpark batch ETL from a Kinesis Firehose clickstream raw zone to curated Parquet",
    python_requires=">=3.11,<3.12",
    package_dir={"": "libs"},
    packages=find_packages("libs"),
    package_data={"clickstream": ["py.typed"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["clickstream=clickstream.cli:main"]},
)
