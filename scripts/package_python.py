#!/usr/bin/env python3
"""The Python wheel and sdist, with PyPI project URLs (npx projen package:python).

Usage:
  python3 scripts/package_python.py --outdir dist/python \\
      --project-url Source=URL [--project-url Name=URL ...] -- jsii-pacmak <options>

jsii-pacmak writes `project_urls = {"Source": <repository url>}` into the generated setup.py and has
no option for more (jsii-pacmak 1.140, lib/targets/python.js: neither `jsii.targets.python` nor
package.json's `homepage`/`bugs` reach project_urls). So this script runs the given jsii-pacmak
command with `--code-only` (code generation, with the rosetta tablet's translations, is pacmak's
own), replaces `project_urls` in the generated setup.py with the --project-url pairs, in order, and
then builds the sdist and the wheel the way pacmak's Python target does (Python.build): a venv with
--system-site-packages, `pip install -r` pacmak's requirements-dev.txt (its pinned setuptools, build
and twine), `python -m build`, `twine check`. Anything that does not look as expected fails: a
setup.py without pacmak's kwargs block, a project_urls other than pacmak's lone "Source" (a newer
pacmak may support more: then drop this script), or METADATA/PKG-INFO without the Project-URL lines.
The sdist and the wheel reach --outdir only when every check passed.

Before building, what a Python user reads is made Python (scripts/python_names.py): the generated
README (the PyPI description) and docstrings name no camelCase-only prop or method and hold no
TypeScript object literal (jsii-rosetta translates their code spans), and none keeps a name that the
doc tools spell otherwise than the wheel (`memory_limit_mi_b`: the tablet must have been fixed).

From a fresh clone (no .jsii or no rosetta tablet yet), it first runs `npx projen compile` and
`npx projen post-compile`, which write them.
"""
import argparse
import ast
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import python_names  # noqa: E402  (scripts/python_names.py)

ROOT = pathlib.Path(__file__).resolve().parent.parent

# The kwargs block of jsii-pacmak's setup.py: kwargs = json.loads(\n    """\n{...}\n"""\n)
KWARGS = re.compile(r'^kwargs = json\.loads\(\n    """\n(\{.*?\})\n"""\n\)$', re.M | re.S)


def fail(message: str) -> None:
    sys.exit(f"package_python: FAIL: {message}")


def run(cmd: list, attempts: int = 1, **kwargs) -> None:
    """Runs cmd; like pacmak, retries network-bound steps with a doubling back-off."""
    delay = 0.15
    for attempt in range(1, attempts + 1):
        print(f"package_python: $ {' '.join(map(str, cmd))}", flush=True)
        if subprocess.run(cmd, **kwargs).returncode == 0:
            return
        if attempt < attempts:
            print(f"package_python: failed, {attempts - attempt} attempts left, retrying in {delay:.2f}s", flush=True)
            time.sleep(delay)
            delay *= 2
    fail(f"command failed: {' '.join(map(str, cmd))}")


def parse_urls(pairs: list) -> dict:
    urls = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not name or not re.match(r"^https://\S+$", url):
            fail(f"--project-url takes Name=https://..., got {pair!r}")
        if name in urls:
            fail(f"--project-url {name} given twice")
        urls[name] = url
    if "Source" not in urls:
        fail("--project-url Source=... is required (it replaces the Source that jsii-pacmak writes)")
    return urls


def patch_setup_py(setup_py: pathlib.Path, urls: dict) -> None:
    text = setup_py.read_text(encoding="utf8")
    blocks = KWARGS.findall(text)
    if len(blocks) != 1:
        fail(f"{setup_py}: expected one `kwargs = json.loads(\"\"\"{{...}}\"\"\")` block as jsii-pacmak writes it, "
             f"found {len(blocks)}; did jsii-pacmak change its setup.py?")
    kwargs = json.loads(blocks[0])
    generated = kwargs.get("project_urls")
    if not isinstance(generated, dict) or list(generated) != ["Source"]:
        fail(f"{setup_py}: expected jsii-pacmak's project_urls {{\"Source\": ...}}, found {generated!r}; "
             "if jsii-pacmak now sets more project URLs, configure them there and drop this script")
    print(f"package_python: project_urls {generated} -> {urls}")
    kwargs["project_urls"] = urls
    # Same layout as pacmak's JSON.stringify(kwargs, null, 4).
    patched = json.dumps(kwargs, indent=4, ensure_ascii=False)
    start, end = KWARGS.search(text).span(1)
    text = text[:start] + patched + text[end:]
    # What setup.py will pass to setuptools: the string literal as Python reads it, then json.loads.
    [call] = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Attribute) and n.func.attr == "loads"]
    if json.loads(call.args[0].value) != kwargs:
        fail(f"{setup_py}: the patched kwargs do not read back as written")
    setup_py.write_text(text, encoding="utf8")


def project_urls_in(metadata: str) -> list:
    headers = metadata.split("\n\n", 1)[0]
    return re.findall(r"^Project-URL: (.*)$", headers, re.M)


def check_artifacts(outdir: pathlib.Path, urls: dict) -> None:
    expected = [f"{name}, {url}" for name, url in urls.items()]
    wheels, sdists = sorted(outdir.glob("*.whl")), sorted(outdir.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"expected one wheel and one sdist in {outdir}, found {[p.name for p in outdir.iterdir()]}")
    with zipfile.ZipFile(wheels[0]) as zf:
        [name] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        found = {wheels[0].name: project_urls_in(zf.read(name).decode())}
    with tarfile.open(sdists[0]) as tf:
        [member] = [m for m in tf.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")]
        found[sdists[0].name] = project_urls_in(tf.extractfile(member).read().decode())
    for artifact, lines in found.items():
        if lines != expected:
            fail(f"{artifact}: Project-URL lines {lines}, expected {expected}")
        print(f"package_python: {artifact}: " + "; ".join(f"Project-URL: {line}" for line in lines))


def pythonize(source: pathlib.Path) -> None:
    """The generated README and docstrings in Python (see the module docstring)."""
    readme = source / "README.md"
    modules = sorted((source / "src").glob("*/__init__.py"))
    if not readme.is_file() or not modules:
        fail(f"jsii-pacmak wrote no README.md or no src/<module>/__init__.py in {source}")
    wrong = python_names.wrong_to_right(ROOT / ".jsii")
    for path in [readme, *modules]:
        text = path.read_text(encoding="utf8")
        _, count = python_names.rewrite(text, wrong)
        if count:
            fail(f"{path.name} holds {count} names the wheel spells otherwise ({', '.join(sorted(wrong))}): the rosetta "
                 "tablet was not fixed; run npx projen post-compile (python3 scripts/python_names.py fix-tablet .jsii.tabl.json)")
    changes = python_names.pythonize_files([readme], modules, python_names.python_names(ROOT / ".jsii"))
    print(f"package_python: {len(changes)} TypeScript code spans of the prose (README, docstrings) in Python, "
          f"{len(set(changes))} distinct")


def ensure_compiled() -> None:
    """A fresh clone has neither the assembly nor the rosetta tablet that jsii-pacmak reads."""
    missing = [name for name in (".jsii", ".jsii.tabl.json") if not (ROOT / name).is_file()]
    if missing:
        print(f"package_python: no {' or '.join(missing)} (a fresh clone): compiling first", flush=True)
        run(["npx", "projen", "compile"], cwd=ROOT)
        run(["npx", "projen", "post-compile"], cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outdir", required=True, help="where the sdist and the wheel go (pacmak's: dist/python)")
    parser.add_argument("--project-url", action="append", default=[], metavar="NAME=URL")
    parser.add_argument("pacmak", nargs=argparse.REMAINDER, help="-- jsii-pacmak <options> (--target python)")
    args = parser.parse_args()
    pacmak = args.pacmak[1:] if args.pacmak[:1] == ["--"] else args.pacmak
    if not pacmak or "jsii-pacmak" not in os.path.basename(pacmak[0]) or "python" not in pacmak:
        fail(f"expected `-- jsii-pacmak ... --target python ...` after the options, got {pacmak}")
    urls = parse_urls(args.project_url)
    ensure_compiled()
    outdir = pathlib.Path(args.outdir).resolve()
    requirements = subprocess.run(
        ["node", "-p", "require.resolve('jsii-pacmak/lib/targets/python/requirements-dev.txt')"],
        check=True, capture_output=True, text=True).stdout.strip()

    with tempfile.TemporaryDirectory(prefix="package-python-") as tmp:
        tmp = pathlib.Path(tmp)
        # 1. jsii-pacmak generates the code (docstrings and README translated from the rosetta tablet).
        run([*pacmak, "--code-only", "--force", "--outdir", str(tmp / "code")])
        source = tmp / "code" / "python"
        if not (source / "setup.py").is_file():
            fail(f"jsii-pacmak --code-only wrote no setup.py in {source}")
        # 2. The project URLs; 3. the prose in Python.
        patch_setup_py(source / "setup.py", urls)
        pythonize(source)
        # 4. The sdist and the wheel, as jsii-pacmak's Python.build does it.
        venv = tmp / "venv"
        run(["python3", "-m", "venv", "--system-site-packages", str(venv)])
        python = str(venv / "bin" / "python")
        env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
        run([python, "-m", "pip", "install", "--no-input", "-r", requirements], attempts=5, cwd=source, env=env)
        built = tmp / "dist"
        run([python, "-m", "build", "--outdir", str(built), str(source)], attempts=5, cwd=source, env=env)
        run([python, "-m", "twine", "check", *sorted(map(str, built.iterdir()))], cwd=source, env=env)
        check_artifacts(built, urls)
        outdir.mkdir(parents=True, exist_ok=True)
        for artifact in sorted(built.iterdir()):
            shutil.copy2(artifact, outdir / artifact.name)
            print(f"package_python: {outdir / artifact.name}")


if __name__ == "__main__":
    main()
