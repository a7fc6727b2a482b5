#!/usr/bin/env python3
"""Seeds for the certificate fuzz target: valid pairs (ECDSA and RSA, self-signed by the
openssl CLI with fixed dates around 2026-12-04), mismatched pairs, a chain of two, truncated
and corrupted PEM. Each file is chain, NUL, key. Run from anywhere; writes ./corpus beside it."""
import pathlib
import subprocess
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "corpus"


def make(tmp, name, newkey):
    key, crt = tmp / f"{name}.key", tmp / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-newkey", *newkey, "-keyout", str(key),
                    "-out", str(crt), "-days", "3650", "-subj", f"/CN={name}.test",
                    "-addext", f"subjectAltName=DNS:{name}.test,DNS:*.{name}.test"],
                   check=True, capture_output=True)
    return crt.read_bytes(), key.read_bytes()


def main():
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        ec = make(tmp, "ec", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
        rsa = make(tmp, "rsa", ["rsa:2048"])
        seeds = {
            "ec": ec[0] + b"\0" + ec[1],
            "rsa": rsa[0] + b"\0" + rsa[1],
            "mismatch": ec[0] + b"\0" + rsa[1],
            "chain": ec[0] + rsa[0] + b"\0" + ec[1],
            "truncated": ec[0][: len(ec[0]) // 2] + b"\0" + ec[1],
            "corrupt": ec[0].replace(b"M", b"!", 3) + b"\0" + ec[1][:-40],
            "no-nul": ec[0] + ec[1],
            "empty": b"\0",
        }
        for name, data in seeds.items():
            (OUT / name).write_bytes(data)


if __name__ == "__main__":
    main()
