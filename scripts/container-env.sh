#!/usr/bin/env bash
# Usage: scripts/container-env.sh
# Makes this machine able to build and run the project's containers without Docker or a
# registry, once (every step is skipped when already done):
#   1. podman, runc and debootstrap from Debian's packages;
#   2. podman set to the runc runtime (crun refuses hybrid cgroups) and to container
#      ulimits within the host's hard limits (podman's defaults are refused);
#   3. local base images built from Debian's packages, in place of the registry's:
#        localhost/debian-min:bookworm   debootstrap's minimal bookworm
#        localhost/python-base:bookworm  python3.11 + venv (BASE_IMAGE of the Dockerfile)
#        localhost/redis-base:bookworm   Debian's redis-server (REDIS_IMAGE of compose)
#        localhost/nginx-base:bookworm   Debian's nginx-light (NGINX_IMAGE of compose)
# Exits non-zero, saying why, where containers cannot run here (not root, no apt, a
# runtime that fails): `make test` then skips the container tests.
set -euo pipefail
cd "$(dirname "$0")/.."

MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
say() { echo "container-env: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  say "needs root (rootless podman is not set up by this script)"
  exit 1
fi
for tool in podman runc debootstrap; do
  scripts/ensure-package.sh "$tool" || { say "cannot install $tool"; exit 1; }
done

conf=/etc/containers/containers.conf
wanted='[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"'
if [ "$(cat "$conf" 2>/dev/null)" != "$wanted" ]; then
  [ -f "$conf" ] && cp "$conf" "$conf.before-container-env"
  mkdir -p "$(dirname "$conf")"
  printf '%s\n' "$wanted" > "$conf"
  say "wrote $conf"
fi

has_image() { podman image exists "$1"; }

if ! has_image localhost/debian-min:bookworm; then
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  say "debootstrap bookworm from $MIRROR (about 30 s)"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >/dev/null
  # As Debian's official slim images: no package cache or lists, and no documentation,
  # manuals or translations, now or from later installs (copyright files stay).
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/usr/share/info/*
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/locale/*' > "$rootfs/etc/dpkg/dpkg.cfg.d/slim"
  printf '%s\n' 'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' \
    > "$rootfs/etc/apt/apt.conf.d/slim"
  tar -C "$rootfs" -c . | podman import - localhost/debian-min:bookworm >/dev/null 2>&1
  rm -rf "$rootfs"
  trap - EXIT
fi

# Each stand-in is built from a Containerfile written here; the build context holds
# the host's extra CA certificates, which this machine's TLS proxy needs for pip. They
# go into these local base images only, never into an image built from the official
# ones.
build_base() {
  local tag="$1" packages="$2" context
  has_image "$tag" && return 0
  context="$(mktemp -d)"
  cp /usr/local/share/ca-certificates/*.crt "$context/" 2>/dev/null || true
  cat > "$context/Containerfile" <<EOF
FROM localhost/debian-min:bookworm
COPY . /usr/local/share/ca-certificates/
RUN rm -f /usr/local/share/ca-certificates/Containerfile \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      ca-certificates $packages \\
 && update-ca-certificates && apt-get clean && rm -rf /var/lib/apt/lists/*
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
EOF
  say "building $tag"
  podman build --quiet -t "$tag" "$context" >/dev/null
  rm -rf "$context"
}
build_base localhost/python-base:bookworm "python3.11 python3.11-venv python-is-python3"
build_base localhost/redis-base:bookworm "redis-server redis-tools"
build_base localhost/nginx-base:bookworm "nginx-light bash"

if ! podman run --rm localhost/debian-min:bookworm true; then
  say "podman cannot run a container here"
  exit 1
fi
