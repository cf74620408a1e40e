#!/bin/sh
# Run once by the PostgreSQL image, when its data directory is first created: idara's and
# Prefect's roles and databases, each with its own password (deploy/.env). Later password
# changes are made with ALTER ROLE (docs/deploy.md); this script does not run again.
set -eu
: "${IDARA_DB_PASSWORD:?IDARA_DB_PASSWORD is not set}"
: "${PREFECT_DB_PASSWORD:?PREFECT_DB_PASSWORD is not set}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=idara_password="$IDARA_DB_PASSWORD" --set=prefect_password="$PREFECT_DB_PASSWORD" <<'SQL'
CREATE ROLE idara LOGIN PASSWORD :'idara_password';
CREATE DATABASE idara OWNER idara;
REVOKE ALL ON DATABASE idara FROM PUBLIC;
CREATE ROLE prefect LOGIN PASSWORD :'prefect_password';
CREATE DATABASE prefect OWNER prefect;
REVOKE ALL ON DATABASE prefect FROM PUBLIC;
SQL
