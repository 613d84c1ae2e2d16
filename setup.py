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

# The runtime requirements' own dependencies, pinned: the EMR environment archive holds exactly
# these (make install downloads them as constraints), so the same sources give the same archive.
RUNTIME_LOCK = [
    "botocore==1.44.8",
    "jmespath==1.1.0",
    "python-dateutil==2.9.0.post0",
    "pytz==2026.6",
    "s3transfer==0.19.3",
    "six==1.17.0",
    "tzdata==2026.6",
    "urllib3==2.8.0",
]

EXTRAS_REQUIRE = {
    "lock": RUNTIME_LOCK,
    "test": [
        "pytest==9.2.0",
        "pytest-xdist==3.8.0",
        "chispa==0.12.0",
        "moto[server]==5.2.5",
        "sqlglot==30.30.0",
        # An independent reader of the Delta tables (delta-rs); 0.25.x works with pyarrow 17.
        "deltalake==0.25.5",
        # An independent reader of the Iceberg tables (PyIceberg, from their metadata files).
        "pyiceberg==0.10.0",
        # The query-engine tier's client of the Trino server (tests/trino; make trino fetches it).
        "trino==0.340.0",
        # The IAM policy linter the iam-policy documents are checked with (Duo Labs).
        "parliament==1.6.4",
    ],
    "lint": ["ruff==0.17.6"],
    "demo": ["matplotlib==3.9.4"],
    "bench": ["duckdb==1.4.1", "psutil==7.1.3"],
    # make package: PyPA's build frontend and the backend it runs without isolation (offline).
    "package": ["build==1.3.0", "setuptools==80.9.0"],
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
