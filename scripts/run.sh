#!/usr/bin/env bash
# The main job: a node serving the demo ledger (seeded on first run) on an
# embedded RocksDB store in ./demo-data, and the demo's pseudonym service
# (SPEC §6.3) beside it on 127.0.0.1:8085, the URL the demo ledger records;
# then the demo's two auditors sign the statistics they recompute.
# Ctrl-C stops both cleanly. Options are the node's (`aidledger-node demo
# --help`); with --data or --listen the service follows them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The whole workspace's binaries, not `-p node` alone: built alone, the
# node resolves its dependencies' features differently (the CLI turns on
# libc's extra_traits), and the test command would then build RocksDB a
# second time. scripts/same-rocksdb.sh checks that the two agree.
cargo build --release --workspace --bins
bin="$CARGO_TARGET_DIR/release"

data=./demo-data
listen=127.0.0.1:8080
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --data) data="${args[i + 1]:-$data}" ;;
        --data=*) data="${args[i]#--data=}" ;;
        --listen) listen="${args[i + 1]:-$listen}" ;;
        --listen=*) listen="${args[i]#--listen=}" ;;
    esac
done

# The node writes the demo service's key (derived from the public seed in
# node/demo/demo.toml: demo only) when it opens the demo ledger; the
# service starts once it is there. It reads organisations' keys from the
# node per request, so it may start before the node listens.
service() {
    for _ in $(seq 600); do
        [[ -f "$data/pseudonym-service/service.key" ]] && break
        sleep 0.1
    done
    exec "$bin/aidledger" pseudonym serve --dir "$data/pseudonym-service" \
        --node "http://$listen" --listen 127.0.0.1:8085
}
# The demo's two auditors (node/demo/demo.toml) replay the ledger once the
# node answers, recompute its statistics and post them signed (SPEC §4.3),
# so that the page shows audited figures. Their keys are demo keys.
auditors() {
    local vkey
    for _ in $(seq 600); do
        [[ -f "$data/auditors/log.vkey" ]] && break
        sleep 0.1
    done
    vkey=$(cat "$data/auditors/log.vkey")
    for _ in $(seq 600); do
        "$bin/aidledger" verify --node "http://$listen" --vkey "$vkey" \
            --sign-stats "$data/auditors/audit.jiangsu.demo.key" \
            --name audit.jiangsu.demo >/dev/null 2>&1 && break
        sleep 0.5
    done
    "$bin/aidledger" verify --node "http://$listen" --vkey "$vkey" \
        --sign-stats "$data/auditors/inspection.jiangsu.demo.key" \
        --name inspection.jiangsu.demo | tail -n 1
}
service &
service_pid=$!
auditors &
auditors_pid=$!
trap 'kill "$service_pid" "$auditors_pid" 2>/dev/null || true' EXIT
"$bin/aidledger-node" demo "$@"
