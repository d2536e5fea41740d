"""What a Python user reads in the wheel is Python (run by test/python/smoke.sh).

Usage: python wheel_docs.py <wheel>

Checks the wheel's METADATA (the PyPI description) and the docstrings of its module: every fenced
code block is `python` (or a shell/text block), each `python` block parses as Python, and none holds
TypeScript (`const `, `new `, `this,`): jsii-rosetta translated the README's and the docstrings'
TypeScript snippets, and jsii-pacmak took the translations from the tablet.
"""
import ast
import re
import sys
import zipfile

FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)\n(.*?)^```", re.M | re.S)
TYPESCRIPT = re.compile(r"\bconst |\bnew [A-Z]|\bthis,|\bthis\.|: \{ |=> ")
ALLOWED = {"python", "bash", "console", "text", ""}


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
        description = zf.read(metadata).decode().split("\n\n", 1)[1]
        [init] = [n for n in zf.namelist() if n.endswith("cdk_ecs_staging/__init__.py")]
        module = ast.parse(zf.read(init).decode())

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


if __name__ == "__main__":
    main()
