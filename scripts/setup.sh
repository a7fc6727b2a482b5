#!/usr/bin/env bash
# Installs what Sluice needs to build, run and test on Debian 12 (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-14 libclang-rt-14-dev clang-format
  libyaml-cpp-dev libre2-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev nlohmann-json3-dev zlib1g-dev libdeflate-dev libsqlite3-dev
  python3 python3-pytest python3-requests python3-yaml curl openssl
  haproxy nginx wrk python3-matplotlib procps goaccess prometheus
  # NGINX's stream module (a dynamic module on Debian, with its SSL module), for the bench's
  # tcp-ka-13b and tls-tcp-ka-13b (NGINX stream)
  libnginx-mod-stream
  awscli python3-boto3 python3-websockets time
  # UDP listeners' DNS test: a real resolver (unbound, run on its own port by the test; the
  # package's service is not needed) and dig
  unbound dnsutils
  # Client IP preservation's test: network namespaces and veth pairs (ip), and capsh to run
  # Sluice without CAP_NET_ADMIN
  iproute2 libcap2-bin
  # HTTP/2: nghttp2 (the codec), and h2load/nghttp and Python's h2 as test clients; h2o, the
  # bench's HTTP/2 peer (bench/configs/h2o.conf.in; the harness runs its own, never the service)
  libnghttp2-dev nghttp2-client python3-h2 h2o
  # gRPC targets and clients for the HTTP2/GRPC target-group tests (generic handlers: no codegen)
  python3-grpcio
  # The systemd service: sd_notify (libsystemd), and the Debian package (CPack runs
  # dpkg-shlibdeps from dpkg-dev; lintian checks the result)
  libsystemd-dev dpkg-dev lintian
  # The admin dashboard's browser tests (tests/integration/test_dashboard.py): headless
  # Chromium driven through chromedriver by Selenium
  chromium chromium-driver python3-selenium
)
# node and npm, for the AWS SDK for JavaScript test (tests/js). Only when `node` is absent: the
# machine image ships NodeSource's nodejs 20, which bundles npm and conflicts with Debian's npm
# package (asking apt for `npm` there fails the whole install). Debian 12's own nodejs is 18,
# below the SDK's engines (>= 20): tests/integration/test_js_sdk.py says so if it gets that.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The JS SDK test's packages, exactly as tests/js/package-lock.json pins them; reinstalled only
# when the lock file changes (npm ci starts from an empty node_modules each time it runs).
lock_sum=$(sha256sum tests/js/package-lock.json | cut -d' ' -f1)
stamp=tests/js/node_modules/.sluice-lock-sha256
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  echo "setup: npm ci --prefix tests/js"
  npm ci --prefix tests/js --no-audit --no-fund >/dev/null
  echo "$lock_sum" >"$stamp"
fi
echo "setup: dependencies present"
