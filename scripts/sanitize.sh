#!/usr/bin/env bash
# Build lpgx with AddressSanitizer + UndefinedBehaviorSanitizer (-DLPGX_SANITIZE=ON) into a
# separate venv and run the test suite under it. Exits non-zero on any test failure and on
# any sanitizer report (also from the subprocesses the tests start).
#
#   scripts/sanitize.sh                      # the whole suite
#   scripts/sanitize.sh tests/test_model.py  # any pytest arguments
#
# Environment: LPGX_SAN_VENV (default /tmp/lpgx-san-venv), LPGX_SAN_BUILD (build folder,
# default /tmp/lpgx-san-build), PYTHON (the interpreter for the venv, default python3),
# CXX (default g++: the sanitizer runtime preloaded into Python must be the compiler's),
# LPGX_SAN_SKIP_BUILD=1 to reuse the last build.
#
# Needs only what gcc ships (libasan/libubsan, Debian package libgcc-12-dev, pulled in by
# g++). The Python interpreter is not instrumented, so libasan is LD_PRELOADed; leak
# detection is off (CPython keeps its allocations at exit) and freed-memory RSS tests skip.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${LPGX_SAN_VENV:-/tmp/lpgx-san-venv}
BUILD=${LPGX_SAN_BUILD:-/tmp/lpgx-san-build}
PYTHON=${PYTHON:-python3}
export CXX=${CXX:-g++}

start=$(date +%s)
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi
if [[ "${LPGX_SAN_SKIP_BUILD:-0}" != 1 ]]; then
  echo "== building lpgx with ASan+UBSan into $VENV (build folder $BUILD)"
  # RelWithDebInfo: optimised like Release, but with symbols (pybind11 strips Release modules)
  # so the reports have file:line; NATIVE=OFF keeps the build portable.
  "$VENV/bin/pip" install -q "$ROOT[test]" \
    -C cmake.define.LPGX_SANITIZE=ON -C cmake.define.LPGX_NATIVE=OFF \
    -C cmake.build-type=RelWithDebInfo -C build-dir="$BUILD"
fi
built=$(date +%s)

# (not via import: the instrumented module only loads with libasan preloaded)
CORE=$(ls "$VENV"/lib/python3*/site-packages/lpgx/_core*.so 2>/dev/null | head -n 1 || true)
LIBASAN=$("$CXX" -print-file-name=libasan.so)
if [[ ! -e "$LIBASAN" ]]; then
  echo "error: $CXX has no libasan.so (Debian: apt-get install libgcc-12-dev, which g++ pulls in)" >&2
  exit 2
fi
LIBASAN=$(readlink -f "$LIBASAN")
LINKED=$( [[ -n "$CORE" ]] && ldd "$CORE" || true )  # (not `ldd | grep -q`: SIGPIPE + pipefail)
if [[ -z "$CORE" || "$LINKED" != *libasan* || "$LINKED" != *libubsan* ]]; then
  echo "error: $CORE is not linked against libasan/libubsan: was it built with LPGX_SANITIZE=ON?" >&2
  exit 2
fi

LOGDIR=$(mktemp -d /tmp/lpgx-sanitizer-logs.XXXXXX)
echo "== running pytest under $LIBASAN (reports in $LOGDIR)"
# libstdc++ right after libasan: otherwise ASan's __cxa_throw interceptor finds no real
# __cxa_throw when an extension (matplotlib's ft2font) dlopens C++ code later, and aborts
# with "CHECK failed: ... real___cxa_throw != 0" at the first C++ exception.
LIBSTDCXX=$(readlink -f "$("$CXX" -print-file-name=libstdc++.so)")
export LD_PRELOAD="$LIBASAN:$LIBSTDCXX${LD_PRELOAD:+:$LD_PRELOAD}"
# abort_on_error: a report kills the process (and fails its test) instead of a clean exit;
# allocator_may_return_null: the tests' refused absurd allocations must surface as
# MemoryError, not as an ASan "allocation-size-too-big" abort.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:strict_init_order=1:check_initialization_order=1:detect_stack_use_after_return=1:log_path=$LOGDIR/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:report_error_type=1:log_path=$LOGDIR/ubsan"
export PYTHONFAULTHANDLER=1
set +e
(cd "$ROOT" && "$VENV/bin/python" -m pytest -q -p no:cacheprovider "${@:-tests}")
status=$?
set -e
end=$(date +%s)

# A report is an ASan/UBSan error or a sanitizer CHECK failure. ASan also logs a WARNING when
# allocator_may_return_null turns an absurd request into NULL (numpy then raises
# MemoryError, as the tests expect): shown, but not a failure.
REPORT_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|CHECK failed|UndefinedBehaviorSanitizer'
reports=$(grep -l -E "$REPORT_RE" -r "$LOGDIR" 2>/dev/null | sort || true)
for f in $(find "$LOGDIR" -type f -size +0 | sort); do
  if grep -q -E "$REPORT_RE" "$f"; then
    echo "---- sanitizer report $f" >&2
    cat "$f" >&2
  else
    echo "---- sanitizer note $f: $(head -c 300 "$f")"
  fi
done
if [[ -n "$reports" ]]; then
  [[ $status -eq 0 ]] && status=1
elif [[ -z "$(find "$LOGDIR" -type f -size +0)" ]]; then
  rmdir "$LOGDIR" 2>/dev/null || true
fi
echo "== sanitize.sh: build $((built - start)) s, tests $((end - built)) s, pytest exit $status," \
     "$(echo "$reports" | grep -c . || true) sanitizer report(s)"
exit $status
