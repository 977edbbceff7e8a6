#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real client tools the tests judge by
# (dnf, apt, pacman, gpg, ...) when they are missing, the npm dependencies, then compiles and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-clients.sh --required

if [[ "${CI:-}" == "true" || ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi
npx projen compile            # jsii: the library, the CLI, API.md
npx projen rosetta:check      # every README and doc-comment TypeScript example compiles
npx projen bindings:check     # jsii-pacmak --code-only for Python and Java; the Python compiles
npx projen test               # bundles, tsc --noEmit, vitest, eslint
npx projen integ:verify       # integ-runner snapshots match, without deploying
