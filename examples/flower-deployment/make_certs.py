"""Create the federation's TLS material (private CA + SuperLink certificate) and one SuperNode key pair per member.

Run once, by the coordinator (TLS) and by each member (its own node key; only the .pub file leaves the member):

    python make_certs.py tls --host superlink.example.org --host 203.0.113.10 --out certs/
    python make_certs.py node-key --name energy-isac-member-1 --out keys/

For production, prefer your organisations' PKI for the SuperLink certificate; the CA certificate (ca.crt) is what
every SuperNode and the `flwr` CLI trust.
"""

from __future__ import annotations

import argparse

from legion_misp.learning.flower_deploy import make_node_key, make_tls_material


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    tls = sub.add_parser("tls", help="CA and SuperLink certificate")
    tls.add_argument("--host", action="append", required=True, help="DNS name or IP of the SuperLink (repeat)")
    tls.add_argument("--days", type=int, default=365)
    tls.add_argument("--out", required=True)
    key = sub.add_parser("node-key", help="SuperNode authentication key pair (EC P-384, OpenSSH format)")
    key.add_argument("--name", required=True)
    key.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.what == "tls":
        material = make_tls_material(args.out, args.host, days=args.days)
        print(f"CA {material.ca_cert}\nserver certificate {material.server_cert}\nserver key {material.server_key}")
    else:
        private, public = make_node_key(args.out, args.name)
        print(f"private key (stays with the member) {private}\npublic key (send to the coordinator) {public}")


if __name__ == "__main__":
    main()
