-- The warehouse lives beside Dagster's own database (docker-compose.yaml), never inside it: Dagster
-- migrates its own schema.
CREATE DATABASE warehouse OWNER dagster;
