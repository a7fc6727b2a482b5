#!/usr/bin/env bash
# Runs testssl.sh (Debian's testssl) against Sluice's HTTPS listeners on the default policy
# (ELBSecurityPolicy-2016-08) and on ELBSecurityPolicy-TLS13-1-2-2021-06, and fails when it
# reports any HIGH or CRITICAL finding. The certificate is an ECDSA P-256 leaf signed by a
# CA made here, which testssl is told to trust (--add-ca), so that the chain of trust is
# judged as it would be for a real certificate (90 days, a CRL distribution point: testssl
# grades a certificate that expires within 30 days or names no revocation source HIGH). Reports go to docs/testssl/ (or $OUT).
#   usage: scripts/testssl.sh [SLUICE_BINARY]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/sluice}
out=${OUT:-$root/docs/testssl}
command -v testssl >/dev/null || { echo "testssl: install the Debian package testssl.sh"; exit 2; }
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=Sluice testssl CA" -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout site.key -out site.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\ncrlDistributionPoints=URI:http://crl.invalid/sluice-testssl-ca.crl\n' > ext.cnf
openssl x509 -req -in site.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 90 \
  -extfile ext.cnf -out site.crt 2>/dev/null
cat site.crt ca.crt > chain.crt

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p_default=$(free_port)
p_tls13=$(free_port)
cat > lb.yaml <<YAML
Certificates:
  - {Name: site, CertificateFile: chain.crt, PrivateKeyFile: site.key}
LoadBalancers:
  - Name: testssl
    Listeners:
      - {Protocol: HTTPS, Port: $p_default, BindAddress: 127.0.0.1, Certificates: [site],
         DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]}
      - {Protocol: HTTPS, Port: $p_tls13, BindAddress: 127.0.0.1, Certificates: [site],
         SslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06,
         DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]}
YAML
"$bin" run --config lb.yaml --workers 1 2> sluice.log &
pid=$!
for _ in $(seq 100); do grep -q "ready:" sluice.log && break; sleep 0.1; done
grep -q "ready:" sluice.log || { cat sluice.log; exit 1; }

mkdir -p "$out"
status=0
for case in "ELBSecurityPolicy-2016-08:$p_default" "ELBSecurityPolicy-TLS13-1-2-2021-06:$p_tls13"; do
  policy=${case%%:*}
  port=${case##*:}
  rm -f "$out/$policy.json" "$out/$policy.log"
  testssl --quiet --color 0 --warnings off --add-ca "$work/ca.crt" --ip 127.0.0.1 \
    --logfile "$out/$policy.log" --jsonfile "$out/$policy.json" "localhost:$port" >/dev/null || true
  [ -s "$out/$policy.json" ] || { echo "testssl: no report for $policy"; status=1; continue; }
  bad=$(/usr/bin/python3 - "$out/$policy.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
if not any(r.get("id") == "cert_chain_of_trust" for r in rows):
    print("  ERROR: the report is incomplete (no certificate section): testssl did not run")
for r in rows:
    if r.get("severity") in ("HIGH", "CRITICAL"):
        print(f"  {r['severity']}: {r['id']}: {r['finding']}")
PY
)
  if [ -n "$bad" ]; then
    echo "testssl $policy: HIGH or CRITICAL findings:"
    echo "$bad"
    status=1
  else
    echo "testssl $policy: no HIGH or CRITICAL finding (report: ${out#$root/}/$policy.log)"
  fi
done
exit $status
