#!/usr/bin/env bash
# Installs what Sluice needs to build, run and test on Debian 12 (idempotent).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-14 libclang-rt-14-dev clang-format
  libyaml-cpp-dev libre2-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev nlohmann-json3-dev zlib1g-dev libsqlite3-dev
  python3 python3-pytest python3-requests python3-yaml curl openssl
  haproxy nginx wrk python3-matplotlib procps goaccess prometheus
  awscli python3-boto3
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "setup: dependencies present"
