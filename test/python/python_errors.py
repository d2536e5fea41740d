"""What a Python user meets first, as the README's "Python" section tells it (run by test/python/smoke.sh).

Usage: <venv>/bin/python python_errors.py <README.md>

Runs in the venv where the wheel is installed:

1. The README's example of matching the library's errors (`'[cdk-ecs-staging]' in str(e)`) runs as shown.
2. jsii's errors for a string where a list is expected and for a plain string where a StagingSecret
   is expected are RuntimeErrors that hold the very words the README quotes.
3. The README's cdk.json context line is the one aws-cdk-lib asks for, for a stack with an account
   and a region; with it, the environment synthesizes on those zones with nothing missing.
4. StagingSecret() (no factory) fails at once: the class has no public initializer.
"""
import json
import pathlib
import re
import sys
import tempfile

import aws_cdk as cdk
from cdk_ecs_staging import EcsStagingEnvironment, StagingSecret

FENCE = re.compile(r"^ *```([a-z]*)\n(.*?)^ *```", re.M | re.S)
ACCOUNT, REGION = "123456789012", "eu-west-1"
failures: list = []


def words(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def expect_error(readme: str, label: str, call, quoted: list) -> None:
    try:
        call()
    except RuntimeError as e:
        message = words(str(e))
        for part in quoted:
            if words(part) not in message:
                failures.append(f"{label}: the error does not say {part!r}:\n{e}")
            if words(part) not in words(readme):
                failures.append(f"{label}: the README does not quote {part!r}")
        print(f"python errors: {label}: RuntimeError, {len(quoted)} quoted parts found")
        return
    except Exception as e:  # noqa: BLE001 - the README promises a RuntimeError
        failures.append(f"{label}: {type(e).__name__}, not the RuntimeError the README says: {e}")
        return
    failures.append(f"{label}: no error")


def new_environment(context=None, account=None):
    app = cdk.App(outdir=tempfile.mkdtemp(prefix="python-errors-"), context=context or {})
    stack = cdk.Stack(app, "Staging", env=cdk.Environment(account=account, region=REGION))
    return app, stack, EcsStagingEnvironment(stack, "Staging")


def main() -> None:
    readme = pathlib.Path(sys.argv[1]).read_text(encoding="utf8")
    blocks = FENCE.findall(readme)

    # 1. The README's example, run as shown.
    [matching] = [code for lang, code in blocks if lang == "python" and "[cdk-ecs-staging]\" in str(e)" in code]
    exec(compile(re.sub(r"^  ", "", matching, flags=re.M), "README.md (matching the library's errors)", "exec"), {})
    print("python errors: the README's example of matching '[cdk-ecs-staging]' ran as shown")

    # 2. jsii's errors for the wrong types.
    _, _, env = new_environment()
    expect_error(readme, "a string where a list is expected", lambda: env.add_service("api", path_patterns="/api/*"), [
        "Passed to parameter options of method cdk-ecs-staging.EcsStagingEnvironment#addService:",
        "Key 'pathPatterns': Unable to deserialize value as array<string> | undefined",
        "Value is not an array",
    ])
    expect_error(readme, "a plain string where a StagingSecret is expected",
                 lambda: env.add_service("web", secrets={"DB_PASSWORD": "hunter2"}),
                 ["Key 'DB_PASSWORD': Unable to deserialize value as cdk-ecs-staging.StagingSecret"])

    # 3. The availability zones of a stack with an account and a region.
    [cdk_json] = [json.loads(code) for lang, code in blocks if lang == "json" and "availability-zones:" in code]
    readme_context = cdk_json["context"]

    def synth(context):
        app, stack, _ = new_environment(context=context, account=ACCOUNT)
        outdir = pathlib.Path(app.synth().directory)
        manifest = json.loads((outdir / "manifest.json").read_text())
        template = (outdir / f"{stack.artifact_id}.template.json").read_text()
        return [m["key"] for m in manifest.get("missing", [])], sorted(set(re.findall(r'"AvailabilityZone": "([a-z0-9-]+)"', template)))

    missing, _ = synth({})
    if list(readme_context) != missing:
        failures.append(f"cdk.json: the README's context keys {list(readme_context)} are not what aws-cdk-lib asks for: {missing}")
    still_missing, zones = synth(readme_context)
    if still_missing:
        failures.append(f"cdk.json: with the README's context, still missing: {still_missing}")
    if not zones or not set(zones) <= {z for value in readme_context.values() for z in value}:
        failures.append(f"cdk.json: the subnets' zones {zones} are not the README's")
    print(f"python errors: cdk.json context {missing} is what aws-cdk-lib asks for; with it the subnets use {zones}")

    # 4. A secret comes from StagingSecret's factories: the class has no initializer, so StagingSecret()
    #    fails at once instead of making a secret that fails only when a service binds it.
    try:
        StagingSecret()
    except Exception as e:  # noqa: BLE001 - whatever jsii raises, as long as it raises here
        print(f"python errors: StagingSecret() fails at once: {type(e).__name__}: {e}")
    else:
        failures.append("StagingSecret(): made a secret without a factory; it must fail at once")
    if not StagingSecret.generate().runtime_access is False:
        failures.append("StagingSecret.generate(): runtime_access is not False by default")

    if failures:
        print("\n\n".join(failures), file=sys.stderr)
        sys.exit(f"python errors: FAIL: {len(failures)} differences from the README")
    print("python errors: the README's Python section says what Python users meet")


if __name__ == "__main__":
    main()
