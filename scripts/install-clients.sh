#!/usr/bin/env bash
# Installs the real client tools the demo check and the tests judge by, from Debian's packages,
# when they are missing. With --required (CI, scripts/check.sh) a machine without apt-get fails;
# without it (npm run demo) such a machine is told what to install and goes on.
set -euo pipefail

packages=(
  dnf dnf-plugins-core createrepo-c rpm            # yum/dnf: client, reference indexer, rpmbuild
  apt apt-utils dpkg-dev                           # apt: client, apt-ftparchive, dpkg-scanpackages
  pacman-package-manager makepkg libarchive-tools  # pacman: client, repo-add, makepkg, bsdtar
  gnupg gpgv sqv openssl zstd xz-utils gcc fakeroot # signatures (sqv: what apt verifies with), compression, fixture builds
)

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "not a Debian machine: install ${packages[*]} (or their equivalents) for the real-client checks" >&2
  [[ "${1:-}" == "--required" ]] && exit 1
  exit 0
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing client tools (run as root, or sudo apt-get install): ${missing[*]}" >&2
    [[ "${1:-}" == "--required" ]] && exit 1
    exit 0
  fi
  echo "installing client tools: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
