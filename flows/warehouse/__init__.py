"""The warehouse: the DuckDB file and its lock, the SQL model runner and checks, upgrades, the recorded area."""
