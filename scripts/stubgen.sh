#!/usr/bin/env bash
# Regenerates python/lpgx/_core.pyi from the installed extension (pip install pybind11-stubgen).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
pybind11-stubgen lpgx._core -o "$out" --numpy-array-use-type-var >/dev/null
# The enums' generated "Members:" docstrings repeat each kind table: dropped (the names are the members).
python - "$out/lpgx/_core.pyi" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r'\n    """\n    Members:\n(?:.*\n)*?    """', "", s)
open(p, "w").write(s)
PY
sed -e 's/-> dict:/-> dict[str, typing.Any]:/' -e 's/: dict)/: dict[str, typing.Any])/' -e 's/-> list:/-> list[typing.Any]:/' "$out/lpgx/_core.pyi" > python/lpgx/_core.pyi
echo "wrote python/lpgx/_core.pyi"
