#!/usr/bin/env bash
# Python smoke test (npx projen test:python).
#
# Installs the wheel from dist/python into a fresh venv (.venv-smoke) together with the
# aws-cdk-lib and constructs versions the TypeScript side uses, synthesizes
# examples/python/app.py and examples/app.ts, and fails unless every *.template.json of the two
# cloud assemblies is identical (after JSON normalisation with sorted keys). Then checks that the
# wheel's description and docstrings are Python and that its METADATA has the PyPI page's
# Project-URL lines (test/python/wheel_docs.py), that every name they and API.python.md use is the
# installed wheel's and their prose names the API in Python (test/python/wheel_names.py), that the
# README's Python section says what Python users meet (test/python/python_errors.py), and that the
# README's Python examples and the PyPI page's blocks (fragments inside the README's prelude)
# type-check under pyright (the npm devDependency) against the wheel.
#
# Build the wheel first: npx projen compile && npx projen package:python
# Environment:
#   PY_APP   Python app to synthesize (default: examples/python/app.py)
#   KEEP=1   keep .venv-smoke and the synthesized assemblies (their directory is printed)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$PWD"
PY_APP="${PY_APP:-examples/python/app.py}"
VENV="$ROOT/.venv-smoke"
START=$SECONDS

fail() { echo "python smoke: FAIL: $*" >&2; exit 1; }

shopt -s nullglob
wheels=(dist/python/*.whl)
shopt -u nullglob
if [ "${#wheels[@]}" -eq 0 ]; then
  fail "no wheel in dist/python; build it with: npx projen compile && npx projen package:python"
fi
if [ "${#wheels[@]}" -gt 1 ]; then
  fail "more than one wheel in dist/python (${wheels[*]}); remove the stale ones and rebuild"
fi
WHEEL="$ROOT/${wheels[0]}"
[ -f "$PY_APP" ] || fail "no Python app at $PY_APP"

# The TypeScript example imports src/ directly, the Python app runs the wheel: a wheel older than
# src/ is the usual cause of a difference.
STALE_HINT=""
if [ -n "$(find src -newer "$WHEEL" -type f -print -quit)" ]; then
  STALE_HINT="$(basename "$WHEEL") is older than src/ ($(find src -newer "$WHEEL" -type f | head -3 | tr '\n' ' ')); rebuild it with: npx projen compile && npx projen package:python"
  echo "python smoke: WARNING: $STALE_HINT" >&2
fi

# The wheel embeds the npm tarball, which takes everything .npmignore does not exclude (.gitignore
# does not count): a local venv or cloud assembly in the repo root ends up on PyPI.
python3 - "$WHEEL" <<'PY'
import io, re, sys, tarfile, zipfile

wheel = sys.argv[1]
# node_modules may hold the package's bundled dependencies (package.json bundledDependencies), nothing else.
bundled = set(__import__("json").load(open("package.json")).get("bundledDependencies", []))
junk = re.compile(r"^package/(\.venv[^/]*|node_modules|cdk\.out|\.bench-build|\.ci|test-output|test-reports|coverage)(/|$)")
def is_junk(name):
    m = junk.match(name)
    if not m:
        return None
    if m.group(1) == "node_modules":
        dep = re.match(r"^package/node_modules/((@[^/]+/)?[^/]+)", name)
        if dep and dep.group(1) in bundled:
            return None
    return m.group(1)
with zipfile.ZipFile(wheel) as zf:
    [tgz] = [n for n in zf.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(zf.read(tgz))) as tf:
        found = sorted({j for j in map(is_junk, tf.getnames()) if j})
if found:
    sys.exit(f"python smoke: FAIL: the wheel's npm tarball {tgz} contains local directories {found} "
             "(wheel size {:.1f} MB); exclude them from the npm package (.npmignore) and rebuild".format(
                 __import__("os").path.getsize(wheel) / 1e6))
PY

# The Python app must run on the same aws-cdk-lib and constructs as the TypeScript example.
node_version() { node -p "require('./node_modules/$1/package.json').version"; }
CDK_VERSION="$(node_version aws-cdk-lib)"
CONSTRUCTS_VERSION="$(node_version constructs)"

OUT="$(mktemp -d "${TMPDIR:-/tmp}/cdk-ecs-staging-smoke.XXXXXX")"
if [ "${KEEP:-}" = 1 ]; then
  echo "python smoke: keeping .venv-smoke and the synthesized assemblies in $OUT"
else
  # Also removes the venv: npm packs whatever .npmignore lets through, so it must not outlive the test.
  trap 'rm -rf "$OUT" "$VENV"' EXIT
fi

echo "python smoke: fresh venv in .venv-smoke ($(python3 --version)); installing $(basename "$WHEEL"), aws-cdk-lib==$CDK_VERSION, constructs==$CONSTRUCTS_VERSION"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  "aws-cdk-lib==$CDK_VERSION" "constructs==$CONSTRUCTS_VERSION" "$WHEEL"

# Synthesizes a Python app and its TypeScript twin and fails unless their templates are identical.
#   compare_apps <python app> <TypeScript example: app | preview> <name of the output directory>
compare_apps() {
  local py_app="$1" ts_example="$2" name="$3"
  echo "python smoke: synthesizing $py_app"
  "$VENV/bin/python" "$py_app" "$OUT/$name-py"

  echo "python smoke: synthesizing examples/$ts_example.ts"
  TS_NODE_PROJECT=tsconfig.dev.json npx ts-node test/python/synth-ts.ts "$OUT/$name-ts" "$ts_example"

  local status=0
  python3 - "$OUT/$name-ts" "$OUT/$name-py" <<'PY' || status=$?
import difflib
import json
import pathlib
import sys

ts_dir, py_dir = (pathlib.Path(p) for p in sys.argv[1:3])


def templates(d):
    return {p.name: p for p in sorted(d.glob("*.template.json"))}


def normalise(path):
    # Same normalisation as `python3 -m json.tool --sort-keys`.
    return json.dumps(json.loads(path.read_text()), indent=4, sort_keys=True, ensure_ascii=False) + "\n"


ts, py = templates(ts_dir), templates(py_dir)
if not ts:
    sys.exit(f"python smoke: FAIL: the TypeScript example synthesized no *.template.json in {ts_dir}")
if ts.keys() != py.keys():
    print("python smoke: FAIL: the apps synthesize different templates", file=sys.stderr)
    print(f"  only TypeScript: {sorted(ts.keys() - py.keys())}", file=sys.stderr)
    print(f"  only Python:     {sorted(py.keys() - ts.keys())}", file=sys.stderr)
    sys.exit(1)

differ = []
resources = 0
for name in ts:
    a, b = normalise(ts[name]), normalise(py[name])
    if a != b:
        differ.append(name)
        sys.stdout.writelines(difflib.unified_diff(
            a.splitlines(keepends=True), b.splitlines(keepends=True),
            fromfile=f"typescript/{name}", tofile=f"python/{name}"))
    resources += len(json.loads(a).get("Resources", {}))

if differ:
    print(f"python smoke: FAIL: templates differ: {', '.join(differ)} (diff above: - TypeScript, + Python)", file=sys.stderr)
    sys.exit(1)
print(f"python smoke: templates identical ({len(ts)} templates, {resources} resources)")
PY
  if [ "$status" -ne 0 ]; then
    [ -z "$STALE_HINT" ] || echo "python smoke: hint: $STALE_HINT" >&2
    exit "$status"
  fi
}

compare_apps "$PY_APP" app example
# The preview example: an environment that allows previews and the preview stack of one pull request.
compare_apps examples/python/preview.py preview preview
# What a Python user reads: the PyPI description and the docstrings, translated by jsii-rosetta,
# and the PyPI page's links (Project-URL).
python3 test/python/wheel_docs.py "$WHEEL"

# Every name a Python user reads (the PyPI description, the module docstring, API.python.md) is the
# installed wheel's, the prose names the API in Python; the PyPI page's fragments, inside the README's
# prelude, go to pyright below with the README's examples.
"$VENV/bin/python" test/python/wheel_names.py "$WHEEL" API.python.md README.md "$OUT/readme"

# What a Python user meets first, as the README's Python section says it: run from Python.
"$VENV/bin/python" test/python/python_errors.py README.md

# The README's Python examples (complete apps) type-check under pyright against the wheel.
mkdir -p "$OUT/readme"
python3 - README.md "$OUT/readme" <<'PY'
import pathlib, re, sys
readme, out = pathlib.Path(sys.argv[1]).read_text(), pathlib.Path(sys.argv[2])
blocks = re.findall(r"^```python\n(.*?)^```", readme, re.M | re.S)
if len(blocks) < 2:
    sys.exit(f"python smoke: FAIL: expected the README's Python examples, found {len(blocks)} python blocks")
for i, code in enumerate(blocks, 1):
    (out / f"readme_example_{i}.py").write_text(code)
print(f"python smoke: pyright over the README's {len(blocks)} Python examples and the PyPI page's blocks")
PY
npx pyright --pythonpath "$VENV/bin/python" "$OUT"/readme/*.py

echo "python smoke: done in $((SECONDS - START))s"
