#!/usr/bin/env bash
# tests/lint/layering.sh: dependencies point one way: common <- queue, store <- engine <- worker <- http <- cli
# (http/ serves a worker's /metrics, /healthz, /readyz; engine/ replays a workflow and knows nothing of threads, fetching or Redis; worker/ runs the process);
# workflows/ sees only include/chronoforge.h. Exits 1 naming each violation.
set -u
cd "$(dirname "$0")/../.." || exit 1
bad=0
check() {  # DIR PATTERN MESSAGE
  local hits
  hits=$(grep -rnE "#include \"($2)/" "$1" --include='*.[ch]' 2>/dev/null)
  if [ -n "$hits" ]; then echo "layering: $3"; echo "$hits"; bad=1; fi
}
check common 'queue|store|engine|worker|cli|workflows' "common/ must not include other modules"
check queue 'store|engine|worker|cli|workflows' "queue/ must not include store/, engine/, worker/ or cli/"
check store 'queue|engine|worker|cli|workflows' "store/ must not include queue/, engine/, worker/ or cli/"
check engine 'queue|worker|cli|workflows' "engine/ must not include queue/, worker/ or cli/"
check worker 'http|cli|workflows' "worker/ must not include http/, cli/ or workflows/"
check http 'cli|workflows' "http/ must not include cli/ or workflows/"
check cli 'workflows' "cli/ must not include workflows/"
hits=$(grep -rn '#include "' workflows --include='*.[ch]' 2>/dev/null | grep -v '#include "chronoforge.h"' | grep -vE '#include "workflows/')
if [ -n "$hits" ]; then echo "layering: workflows/ may include only chronoforge.h"; echo "$hits"; bad=1; fi
exit $bad
