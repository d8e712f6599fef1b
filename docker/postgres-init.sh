#!/bin/sh
# Runs once, as the superuser, when the database volume is first created: the owner role
# runs migrations; the app role only reads and writes rows, so row-level security binds it.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE voronka_owner LOGIN BYPASSRLS PASSWORD '${VORONKA_OWNER_PASSWORD}';
CREATE ROLE voronka_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD '${VORONKA_APP_PASSWORD}';
CREATE DATABASE voronka OWNER voronka_owner;
SQL
