"""Reference titles from their sources (CSV snapshots, AWS DMS files, JDBC) into a change log."""
