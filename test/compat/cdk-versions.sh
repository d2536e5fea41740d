#!/usr/bin/env bash
# aws-cdk-lib compatibility (npx projen test:cdk-versions): the supported range is the peer
# dependency's floor up to the newest aws-cdk-lib on the registry.
#
# - The floor is what the checkout pins and installs (devDependency = peer floor); `npx projen test`
#   and the Python smoke test run on it. This script checks that the pin still is the floor.
# - The newest: in a temporary copy of the checkout whose node_modules differ only by aws-cdk-lib,
#   runs the unit tests (jest, without the linters' and integ snapshots' files) and the Python smoke
#   test (the wheel in dist/python with aws-cdk-lib==<newest> from PyPI against the TypeScript example).
#   The integ snapshots stay on the pinned version: aws-cdk-lib 2.260 and later write a cloud-assembly
#   schema that integ-runner cannot read.
#
# Build the wheel first (npx projen build, or compile + package:python).
# Environment:
#   CDK_NEWEST   aws-cdk-lib version to test (default: the registry's latest)
#   JEST_ARGS    test files / jest options for the newest (default: the unit test files below)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$PWD"
START=$SECONDS

fail() { echo "cdk versions: FAIL: $*" >&2; exit 1; }

floor="$(node -p "require('./package.json').peerDependencies['aws-cdk-lib'].replace(/^[\^~]/, '')")"
pinned="$(node -p "require('./node_modules/aws-cdk-lib/package.json').version")"
[ "$floor" = "$pinned" ] || fail "the installed aws-cdk-lib ($pinned) is not the peer dependency's floor ($floor): the main test run must test the floor"
echo "cdk versions: floor $floor (installed; tested by npx projen test and the Python smoke test)"

# The newest that both registries serve: PyPI's release of a version can trail npm's by a day or two.
if [ -n "${CDK_NEWEST:-}" ]; then
  newest="$CDK_NEWEST"
else
  npm_newest="$(npm view aws-cdk-lib version)"
  pypi_newest="$(python3 -m pip index versions aws-cdk-lib --disable-pip-version-check 2>/dev/null | sed -n 's/^aws-cdk-lib (\(.*\))$/\1/p')"
  [ -n "$pypi_newest" ] || fail "could not read aws-cdk-lib's versions on PyPI (python3 -m pip index versions aws-cdk-lib)"
  newest="$(printf '%s\n%s\n' "$npm_newest" "$pypi_newest" | sort -V | head -1)"
  echo "cdk versions: newest on npm $npm_newest, on PyPI $pypi_newest"
fi
echo "cdk versions: newest tested $newest"
if [ "$newest" = "$floor" ]; then
  echo "cdk versions: the newest is the floor: nothing more to test"
  exit 0
fi

shopt -s nullglob
wheels=(dist/python/*.whl)
shopt -u nullglob
[ "${#wheels[@]}" -eq 1 ] || fail "expected one wheel in dist/python (found ${#wheels[@]}); build it with: npx projen compile && npx projen package:python"

COPY="$(mktemp -d "${TMPDIR:-/tmp}/cdk-ecs-staging-newest.XXXXXX")"
trap 'rm -rf "$COPY"' EXIT

# The checkout without its generated and installed folders; node_modules as hard links (no copy of the
# data), except aws-cdk-lib, which is the registry's tarball of the newest (it bundles its dependencies).
tar --exclude=./node_modules --exclude=./.git --exclude='./.venv*' --exclude=./.tools --exclude=./cdk.out \
  --exclude=./.ci/node --exclude=./.bench-build --exclude=./test-reports --exclude=./coverage --exclude=./lib \
  -cf - . | tar -xf - -C "$COPY"
cp -al node_modules "$COPY/node_modules"
rm -rf "$COPY/node_modules/aws-cdk-lib"
(cd "$COPY" && npm pack --silent "aws-cdk-lib@$newest" >/dev/null)
mkdir "$COPY/node_modules/aws-cdk-lib"
tar -xzf "$COPY/aws-cdk-lib-$newest.tgz" --strip-components=1 -C "$COPY/node_modules/aws-cdk-lib"
rm "$COPY/aws-cdk-lib-$newest.tgz"
# The linters the jest global setup would install: the checkout's own, already installed.
for tool in .venv-cfnlint .venv-checkov .venv-zizmor .tools; do
  [ -e "$tool" ] && ln -s "$ROOT/$tool" "$COPY/$tool"
done

cd "$COPY"
echo "cdk versions: aws-cdk-lib $(node -p "require('./node_modules/aws-cdk-lib/package.json').version") in $COPY"

# Unit tests: every domain's test file; the posture files (cdk-nag, Control Tower, cfn-lint, checkov)
# and the integ snapshots are pinned to the floor's assembly schema and run there.
# shellcheck disable=SC2086
npx jest --ci --coverage=false ${JEST_ARGS:-test/networking.test.ts test/edge.test.ts test/service.test.ts test/routing.test.ts test/secrets.test.ts test/observability.test.ts test/pipeline.test.ts test/staging-environment.test.ts test/handoff.test.ts}

# The Python app on the newest aws-cdk-lib, against the TypeScript example on the same version.
bash test/python/smoke.sh

echo "cdk versions: newest $newest passed in $((SECONDS - START))s"
