#!/usr/bin/env bash
# Builds a portable wheel (pip wheel .), installs it in a fresh virtual environment and runs
# the test suite from a copy of tests/ outside the source tree.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip wheel "$root" --no-deps -w "$work/dist" -C cmake.define.LPGX_NATIVE=OFF
wheel=$(ls "$work"/dist/lpgx-*.whl)
pip install "${wheel}[test]"
cp -r "$root/tests" "$root/examples" "$work/"
cd "$work"
python -c "import lpgx, sys; assert not lpgx.__file__.startswith('$root'), lpgx.__file__; print('lpgx from', lpgx.__file__)"
python -m pytest -q -p no:cacheprovider tests
