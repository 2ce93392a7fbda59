"""Population scoring: a whole health system's patients ranked on Apache Spark."""
