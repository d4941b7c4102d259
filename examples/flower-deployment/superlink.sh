#!/bin/sh
# Coordinator: the SuperLink (TLS on, only registered SuperNodes may connect, no runtime pip/uv installs).
set -eu
CERTS=${CERTS:-certs}
exec flower-superlink \
  --ssl-ca-certfile "$CERTS/ca.crt" --ssl-certfile "$CERTS/server.pem" --ssl-keyfile "$CERTS/server.key" \
  --enable-supernode-auth --disable-runtime-dependency-installation \
  --host 0.0.0.0 --port "${PORT:-8000}" --database "${DATABASE:-superlink.db}"
