"""What a Python user reads in the wheel is Python (run by test/python/smoke.sh).

Usage: python wheel_docs.py <wheel>

Checks the wheel's METADATA (the PyPI description) and the docstrings of its module: every fenced
code block is `python` (or a shell/text block), each `python` block parses as Python, and none holds
TypeScript (`const `, `new `, `this,`): jsii-rosetta translated the README's and the docstrings'
TypeScript snippets, and jsii-pacmak took the translations from the tablet.

Also checks the links of the PyPI page: the METADATA's Project-URL lines (and the sdist's PKG-INFO,
when an sdist lies beside the wheel) are Source, Documentation, Issues and Changelog, in that order
(scripts/package_python.py sets them: jsii-pacmak alone writes Source only).
"""
import ast
import pathlib
import re
import sys
import tarfile
import zipfile

FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)\n(.*?)^```", re.M | re.S)
TYPESCRIPT = re.compile(r"\bconst |\bnew [A-Z]|\bthis,|\bthis\.|: \{ |=> ")
# JSON (an IAM policy) reads the same in every language: nothing to translate.
ALLOWED = {"python", "bash", "console", "text", "json", ""}
REPO = "https://github.com/cdk-ecs-staging/cdk-ecs-staging"
PROJECT_URLS = [
    f"Project-URL: Source, {REPO}",
    f"Project-URL: Documentation, {REPO}/blob/main/API.python.md",
    f"Project-URL: Issues, {REPO}/issues",
    f"Project-URL: Changelog, {REPO}/releases",
]


def check_project_urls(where: str, metadata: str, errors: list) -> None:
    headers = metadata.split("\n\n", 1)[0]
    found = re.findall(r"^Project-URL: .*$", headers, re.M)
    if found != PROJECT_URLS:
        errors.append(f"{where}: Project-URL lines\n  " + "\n  ".join(found or ["(none)"])
                      + "\nexpected\n  " + "\n  ".join(PROJECT_URLS))


def check(where: str, markdown: str, errors: list) -> int:
    blocks = 0
    for lang, code in FENCE.findall(markdown):
        if lang not in ALLOWED:
            errors.append(f"{where}: a ```{lang} block (not translated to Python):\n{code[:300]}")
            continue
        if lang != "python":
            continue
        blocks += 1
        for line in code.splitlines():
            if TYPESCRIPT.search(line) and not line.lstrip().startswith("#"):
                errors.append(f"{where}: TypeScript in a python block: {line.strip()}")
        try:
            ast.parse(code)
        except SyntaxError as e:
            errors.append(f"{where}: a python block that is not Python ({e.msg}, line {e.lineno}):\n{code[:300]}")
    return blocks


def main() -> None:
    wheel = sys.argv[1]
    errors: list = []
    with zipfile.ZipFile(wheel) as zf:
        [metadata] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        metadata_text = zf.read(metadata).decode()
        description = metadata_text.split("\n\n", 1)[1]
        [init] = [n for n in zf.namelist() if n.endswith("cdk_ecs_staging/__init__.py")]
        module = ast.parse(zf.read(init).decode())

    check_project_urls("METADATA", metadata_text, errors)
    sdists = sorted(pathlib.Path(wheel).parent.glob("*.tar.gz"))
    for sdist in sdists:
        with tarfile.open(sdist) as tf:
            [pkg_info] = [m for m in tf.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")]
            check_project_urls(f"{sdist.name} PKG-INFO", tf.extractfile(pkg_info).read().decode(), errors)

    readme_blocks = check("METADATA (PyPI description)", description, errors)
    if readme_blocks < 3:
        errors.append(f"METADATA: expected the README's python examples, found {readme_blocks} python blocks")

    module_doc = ast.get_docstring(module) or ""
    module_blocks = check("cdk_ecs_staging module docstring", module_doc, errors)
    if module_blocks < 3:
        errors.append(f"module docstring: expected the README's python examples, found {module_blocks} python blocks")

    docstrings = 0
    for node in ast.walk(module):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            doc = ast.get_docstring(node) or ""
            docstrings += check(f"docstring of {node.name}", doc, errors)
            if "{@link" in doc:
                errors.append(f"docstring of {node.name}: a raw {{@link}} tag")

    if errors:
        print("\n\n".join(errors), file=sys.stderr)
        sys.exit(f"wheel docs: FAIL: {len(errors)} problems in {wheel}")
    print(f"wheel docs: METADATA {readme_blocks} python blocks, module docstring {module_blocks}, "
          f"class and member docstrings {docstrings}: all Python, no TypeScript")
    print(f"wheel docs: {len(PROJECT_URLS)} Project-URL lines (Source, Documentation, Issues, Changelog) in METADATA"
          + (f" and in {', '.join(s.name for s in sdists)}" if sdists else ""))


if __name__ == "__main__":
    main()
