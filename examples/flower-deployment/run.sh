#!/bin/sh
# Coordinator: register the members' public keys once, then start a run. FLWR_HOME/config.toml names the SuperLink
# (see config.toml). EVAL is the coordinator's own labelled validation/test file (X_val, y_val, X_test, y_test).
set -eu
export FLWR_HOME=${FLWR_HOME:-$PWD/flwr-home} FLWR_TELEMETRY_ENABLED=0
for key in keys/*.pub; do
  flwr supernode register "$key" legion --name "$(basename "$key" .pub)" || true  # already registered is fine
done
flwr run app legion --stream --run-config \
  "num-server-rounds=3 epsilon=1.64 delta=1e-05 min-nodes=${MEMBERS:-3} aggregator=\"${AGGREGATOR:-multi-krum}\" eval-path=\"$EVAL\" model-out=\"$PWD/model.json\" summary-path=\"$PWD/summary.json\""
