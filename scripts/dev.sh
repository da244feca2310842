#!/usr/bin/env bash
# The Stripe emulator and `dagster dev` side by side, with a Dagster home that survives restarts.
# Open http://127.0.0.1:3000; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/data/dagster_home}"
mkdir -p "$DAGSTER_HOME"
[ -f "$DAGSTER_HOME/dagster.yaml" ] || cp deploy/dagster.local.yaml "$DAGSTER_HOME/dagster.yaml"

emulator_port="${EMULATOR_PORT:-12111}"
# EMULATOR_ARGS: more `stripe-emulator serve` options, e.g. "--data-load-time 2026-11-10T06:00:00Z".
read -r -a emulator_args <<<"${EMULATOR_ARGS:-}"
.venv/bin/stripe-emulator serve --host 127.0.0.1 --port "$emulator_port" "${emulator_args[@]}" &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true' EXIT INT TERM

export STRIPE_API_KEY="${STRIPE_API_KEY:-sk_test_51DevKeyForTheLocalEmulator000000}"
export STRIPE_API_BASE="http://127.0.0.1:$emulator_port"
export STRIPE_FILES_BASE="$STRIPE_API_BASE"
# Every run of this Dagster home paces its Stripe requests through one bucket, as deploy/ does: the
# emulator answers 429 past Stripe's test-mode limit, 25 requests a second.
export STRIPE_RATE_LIMIT_DIR="${STRIPE_RATE_LIMIT_DIR:-$DAGSTER_HOME/stripe-rate-limit}"
# The example dbt project downstream of the landed tables (WAREHOUSE_DBT_PROJECT= loads none).
export WAREHOUSE_DBT_PROJECT="${WAREHOUSE_DBT_PROJECT-$PWD/examples/dbt_finance}"

dagster_port="${DAGSTER_PORT:-3000}"
echo "Dagster UI http://127.0.0.1:$dagster_port (DAGSTER_PORT), Stripe emulator $STRIPE_API_BASE (EMULATOR_PORT)," \
  "Dagster home $DAGSTER_HOME"
.venv/bin/dagster dev -w workspace.yaml --host 127.0.0.1 --port "$dagster_port"
