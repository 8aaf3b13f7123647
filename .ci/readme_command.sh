#!/usr/bin/env bash
# Runs quick-start command N exactly as the README states it (the lines between the
# markers `<!-- quickstart-N -->` and the closing fence), from the repository root.
set -euo pipefail
n=$1
cd "$(dirname "$0")/.."
cmd=$(awk -v tag="<!-- quickstart-$n -->" '
  $0 == tag {found=1; next}
  found && /^```/ {if (open) exit; open=1; next}
  found && open {print}' README.md)
if [ -z "$cmd" ]; then
  echo "README.md has no quickstart-$n block" >&2
  exit 1
fi
echo "+ $cmd"
bash -euo pipefail -c "$cmd"
