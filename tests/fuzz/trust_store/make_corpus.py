#!/usr/bin/env python3
"""Seeds for the trust-store fuzz target: CA bundles (one and two EC CAs, an RSA CA, a leaf
that is no CA, garbage) and CRLs (PEM and DER, signed by a bundle CA or by a stranger). Each
file is bundle, NUL, CRL bytes. Made by the openssl CLI. Run from anywhere; writes ./corpus."""
import pathlib
import subprocess
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "corpus"
CA_EXT = ["-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"]


def run(*args, cwd=None):
    subprocess.run(list(args), check=True, capture_output=True, cwd=cwd)


def ca(tmp, name, newkey):
    run("openssl", "req", "-x509", "-nodes", "-newkey", *newkey, "-keyout", f"{name}.key",
        "-out", f"{name}.crt", "-days", "3650", "-subj", f"/CN={name}/O=Fuzz", *CA_EXT, cwd=tmp)
    return (tmp / f"{name}.crt").read_bytes()


def crl(tmp, name):
    """A CRL of CA `name` revoking one serial, PEM and DER."""
    d = tmp / f"ca-{name}"
    d.mkdir()
    (d / "index.txt").write_text("R\t300101000000Z\t260101000000Z\t1234\tunknown\t/CN=revoked\n")
    (d / "crlnumber").write_text("01\n")
    (d / "ca.cnf").write_text(
        "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\n"
        "default_md=sha256\ndefault_crl_days=3650\n")
    run("openssl", "ca", "-config", "ca.cnf", "-gencrl", "-keyfile", f"../{name}.key",
        "-cert", f"../{name}.crt", "-out", "crl.pem", cwd=d)
    run("openssl", "crl", "-in", "crl.pem", "-outform", "DER", "-out", "crl.der", cwd=d)
    return (d / "crl.pem").read_bytes(), (d / "crl.der").read_bytes()


def main():
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        a = ca(tmp, "a", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
        b = ca(tmp, "b", ["ec", "-pkeyopt", "ec_paramgen_curve:P-384"])
        r = ca(tmp, "r", ["rsa:2048"])
        run("openssl", "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-keyout", "leaf.key", "-out", "leaf.crt", "-days", "30",
            "-subj", "/CN=leaf", cwd=tmp)
        leaf = (tmp / "leaf.crt").read_bytes()
        a_pem, a_der = crl(tmp, "a")
        b_pem, _ = crl(tmp, "b")
        seeds = {
            "one-ca": a + b"\0",
            "two-cas-pem-crl": a + b + b"\0" + a_pem,
            "der-crl": a + b"\0" + a_der,
            "stranger-crl": a + b"\0" + b_pem,
            "rsa-ca": r + b"\0" + a_pem,
            "leaf-not-ca": a + leaf + b"\0",
            "truncated": a[: len(a) // 2] + b"\0" + a_pem[:40],
            "garbage-crl": a + b"\0" + b"\x30\x82\x01\x00garbage",
            "no-nul": a + a_pem,
        }
        for name, data in seeds.items():
            (OUT / name).write_bytes(data)


if __name__ == "__main__":
    main()
