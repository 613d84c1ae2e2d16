"""clickstream-etl: Firehose clickstream raw zone to curated, partitioned Parquet."""

__version__ = "0.1.0"
