#!/usr/bin/env bash
# Development certificates and secrets for docker-compose.yml (`make certs`, `make secrets`).
# Existing files are kept: put real ones in certs/ and secrets/ and this never overwrites them
# (.gitignore keeps both out of git).
#   certs:   certs/ca.crt (a local CA: trust it in a browser or pass it to curl --cacert) and
#            certs/motovaultpro.{crt,key} for motovaultpro.com, *.motovaultpro.com and
#            traefik.motovaultpro.local, signed by it.
#   secrets: secrets/api-token (the bearer token admin-backend's /auth/verify accepts) and the
#            databases' passwords, random.
# STACK_DIR: where certs/ and secrets/ go (default: the repository, beside docker-compose.yml).
set -euo pipefail
cd "${STACK_DIR:-$(dirname "$0")/..}"

certs() {
  mkdir -p certs
  if [ -s certs/motovaultpro.crt ] && [ -s certs/motovaultpro.key ]; then
    echo "certs/: keeping the existing certificate"
    return
  fi
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca.key"
  openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days 825 \
    -subj "/O=MotoVaultPro development/CN=MotoVaultPro development CA" -out certs/ca.crt
  openssl ecparam -name prime256v1 -genkey -noout -out certs/motovaultpro.key
  openssl req -new -key certs/motovaultpro.key -subj "/CN=motovaultpro.com" -out "$tmp/leaf.csr"
  printf '%s\n' \
    "subjectAltName=DNS:motovaultpro.com,DNS:*.motovaultpro.com,DNS:traefik.motovaultpro.local" \
    "extendedKeyUsage=serverAuth" "basicConstraints=CA:FALSE" > "$tmp/ext"
  openssl x509 -req -in "$tmp/leaf.csr" -CA certs/ca.crt -CAkey "$tmp/ca.key" -CAserial "$tmp/ca.srl" -CAcreateserial \
    -days 825 -sha256 -extfile "$tmp/ext" -out certs/motovaultpro.crt 2>/dev/null
  # The proxy runs as a non-root user and reads the key through a read-only bind mount.
  # A development key only: give a real one to that user alone.
  chmod 0644 certs/motovaultpro.key
  echo "certs/: made motovaultpro.crt (signed by certs/ca.crt)"
}

secrets() {
  mkdir -p secrets
  local name
  for name in api-token admin-postgres-password platform-postgres-password vehicles-db-password; do
    if [ ! -s "secrets/$name" ]; then
      openssl rand -hex 24 > "secrets/$name"
      chmod 0644 "secrets/$name"
      echo "secrets/: made $name"
    fi
  done
}

for what in "${@:-certs secrets}"; do
  for w in $what; do
    case "$w" in
      certs) certs ;;
      secrets) secrets ;;
      *) echo "usage: $0 [certs] [secrets]" >&2; exit 2 ;;
    esac
  done
done
