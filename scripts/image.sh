#!/usr/bin/env bash
# Builds wharf's image from a binary built on this host (the Dockerfile's `prebuilt` target; no
# base image is pulled), and the stand-in image of the Compose stack's application services.
#   WHARF_IMAGE (default wharf:dev), STANDIN_IMAGE (default wharf-standin:dev)
# The binaries are static glibc builds (target/static), so the images need no libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

triple="$(uname -m)-unknown-linux-gnu"
static() {
  # The exact flags of the tests' echo image (crates/wharf-testkit/src/docker.rs), so release
  # dependencies are shared, plus any given for this build.
  RUSTFLAGS="-C target-feature=+crt-static${extra:+ $extra}" "${CARGO:-cargo}" build --locked -q \
    --target "$triple" --target-dir target/static "$@"
}
# wharf with the `image` profile (fat LTO, stripped, not position-independent: no relocation
# table; the image stays under 22 MB); the stand-in with `release`, whose dependencies the
# tests' echo image already built.
extra="-C relocation-model=static" static --profile image -p wharf --bin wharf
extra="" static --release -p wharf-testkit --bin wharf-standin

rm -rf dist
mkdir -p dist/etc/ssl/certs
cp "target/static/$triple/image/wharf" dist/wharf
# Trust roots for ACME and https servers without a rootCAs: the host's Debian bundle.
cp /etc/ssl/certs/ca-certificates.crt dist/etc/ssl/certs/
docker build -q --target prebuilt --build-arg VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" \
  -t "${WHARF_IMAGE:-wharf:dev}" . >/dev/null

standin=$(mktemp -d)
trap 'rm -rf "$standin"' EXIT
cp "target/static/$triple/release/wharf-standin" "$standin/wharf-standin"
strip "$standin/wharf-standin"
cp docker/standin.Dockerfile "$standin/Dockerfile"
docker build -q -t "${STANDIN_IMAGE:-wharf-standin:dev}" "$standin" >/dev/null
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' \
  | grep -E "^(${WHARF_IMAGE:-wharf:dev}|${STANDIN_IMAGE:-wharf-standin:dev}) "
