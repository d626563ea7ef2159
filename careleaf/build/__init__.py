"""Building the catalog: incremental, in render workers with a time limit, written atomically."""
