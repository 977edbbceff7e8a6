#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real client tools the tests judge by
# (dnf, apt, pacman, gpg, ...) when they are missing, the npm dependencies, then compiles and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  dnf dnf-plugins-core createrepo-c rpm            # yum/dnf: client, reference indexer, rpmbuild
  apt apt-utils dpkg-dev                           # apt: client, apt-ftparchive, dpkg-scanpackages
  pacman-package-manager makepkg libarchive-tools  # pacman: client, repo-add, makepkg, bsdtar
  gnupg gpgv sqv openssl zstd xz-utils gcc         # signatures (sqv: what apt verifies with), compression, fixture builds
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing client tools: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ "${CI:-}" == "true" || ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi
npx projen compile            # jsii: the library, the CLI, API.md
npx projen rosetta:check      # every README and doc-comment TypeScript example compiles
npx projen test               # bundles, tsc --noEmit, vitest, eslint
npx projen integ:verify       # integ-runner snapshots match, without deploying
