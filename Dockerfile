# wharf's container image: one statically linked binary, CA certificates and a non-root user in
# an otherwise empty (`scratch`) image.
#
#   docker build -t wharf .                        # from source (BuildKit, Docker's default builder)
#   scripts/image.sh                               # from a binary built on this host:
#                                                  #   docker build --target prebuilt -t wharf .
#
# Both end in the `runtime` stage below, so the two images differ only in where the binary was
# built. The `prebuilt` target comes first because the legacy builder (no BuildKit) builds every
# stage before the one it targets, and a machine without a registry cannot pull the Rust image.

ARG VERSION=0.1.0

# What every wharf image is, whatever built the binary.
FROM scratch AS runtime
ARG VERSION
LABEL org.opencontainers.image.title="wharf" \
      org.opencontainers.image.description="A reverse proxy that replaces Traefik v3 as a drop-in container at the edge of Docker Compose deployments" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY docker/etc/passwd docker/etc/group /etc/
# Traefik's ports: web, websecure, and the `traefik` entrypoint (API, dashboard, ping, metrics).
# Docker lets unprivileged processes bind ports below 1024 inside a container
# (net.ipv4.ip_unprivileged_port_start=0), so the non-root user can listen on 80 and 443.
EXPOSE 80 443 8080
USER 65532:65532
# Traefik's `healthcheck` command: /ping if enabled, else /health/ready, on the static config's
# entrypoint; exits 0 or 1 (there is no shell or curl in the image).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/wharf", "healthcheck"]
ENTRYPOINT ["/wharf"]

# From a binary built on the host: scripts/image.sh fills dist/ (wharf, the CA bundle) first.
FROM runtime AS prebuilt
COPY dist/ /

# From source: a static glibc build with the `image` profile (fat LTO, stripped; pingora's
# zlib-ng needs cmake).
FROM rust:1.95-bookworm AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cmake ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN target="$(uname -m)-unknown-linux-gnu" \
 && RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" cargo build --profile image --locked -p wharf --target "$target" \
 && mkdir -p /dist/etc/ssl/certs \
 && cp "target/$target/image/wharf" /dist/wharf \
 && cp /etc/ssl/certs/ca-certificates.crt /dist/etc/ssl/certs/

FROM runtime AS wharf
COPY --from=build /dist/ /
