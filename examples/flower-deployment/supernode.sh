#!/bin/sh
# Member: one SuperNode on the member's own host. Its data and ledger stay here; only DP-SGD updates leave.
#   MEMBER=energy-isac-member-1 DATA=/srv/legion/member.npz LEDGER=/srv/legion/ledger.sqlite \
#   SUPERLINK=superlink.example.org:8000 ./supernode.sh
set -eu
: "${MEMBER:?}" "${DATA:?}" "${SUPERLINK:?}"
exec flower-supernode \
  --root-certificates "${CA:-certs/ca.crt}" --superlink "$SUPERLINK" \
  --auth-supernode-private-key "${KEY:-keys/$MEMBER.key}" \
  --host 127.0.0.1 --port "${PORT:-9094}" \
  --node-config "data-path=\"$DATA\" member-id=\"$MEMBER\" ledger-path=\"${LEDGER:-ledger.sqlite}\" ledger-epsilon=${BUDGET:-10.0}"
