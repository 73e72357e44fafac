#!/usr/bin/env bash
# Install the Debian packages the tests start servers from, where missing:
# PostgreSQL (the service's tests run on SQLite and on a throwaway
# PostgreSQL cluster) and nats-server (the bus tests start a throwaway
# JetStream server). Without root the tests that need them are skipped.
set -euo pipefail

missing=()
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null; then
    missing+=(postgresql)
fi
# Debian installs the binary as /usr/sbin/nats-server, which is not on every
# user's PATH.
if ! command -v nats-server > /dev/null && [ ! -x /usr/sbin/nats-server ]; then
    missing+=(nats-server)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "not root, so not installing ${missing[*]}; tests that need them will be skipped" >&2
    exit 0
fi
echo "installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
