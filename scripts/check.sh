#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real client tools the tests judge by
# (dnf, apt, pacman, gpg, ...) when they are missing, the npm dependencies, then compiles and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-clients.sh --required

if [[ "${CI:-}" == "true" || ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi
npx projen compile            # jsii: the library and the CLI
npx projen docgen             # API.md from the jsii assembly: it must be the one committed
git diff --exit-code --stat -- API.md || { echo 'API.md is out of date: run `npx projen docgen` and commit it' >&2; exit 1; }
npx projen rosetta:check      # every README and doc-comment TypeScript example compiles
npx projen bindings:check     # jsii-pacmak --code-only for Python and Java; the Python compiles
npx projen test               # bundles, tsc --noEmit, vitest, eslint
npx projen integ:verify       # integ-runner snapshots match, without deploying
