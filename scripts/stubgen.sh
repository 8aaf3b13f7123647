#!/usr/bin/env bash
# Regenerates python/lpgx/_core.pyi from the installed extension (pip install pybind11-stubgen).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
pybind11-stubgen lpgx._core -o "$out" --numpy-array-use-type-var >/dev/null
sed -e 's/-> dict:/-> dict[str, typing.Any]:/' -e 's/: dict)/: dict[str, typing.Any])/' "$out/lpgx/_core.pyi" > python/lpgx/_core.pyi
echo "wrote python/lpgx/_core.pyi"
