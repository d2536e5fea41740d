"""Every name a Python user reads exists in the installed wheel (run by test/python/smoke.sh).

Usage: <venv>/bin/python wheel_names.py <wheel> <API.python.md> <README.md> <outdir>

Runs in the venv where the wheel is installed, and checks what a Python user reads against the real
binding (`inspect.signature`, `hasattr`), not against another doc tool:

1. Every `python` block of the PyPI description (the wheel's METADATA) and of the module docstring:
   each call of a class, static method or method of the library uses only keyword arguments that
   its installed signature accepts, and each attribute read of the library exists. Values are
   followed through assignments, return annotations and property annotations, so that
   `env.add_service("web", ...).add_pipeline(source=...)` is checked against StagingService.
2. API.python.md: every member it names (the headings' anchors, the tables' links, the signatures
   of its `python` blocks) exists under that name in the wheel: a parameter in the signature of its
   method or initializer, a property or method on its class.
3. The prelude: the README states one prelude (its imports, the enclosing stack) that makes every
   fragment of the PyPI page complete. Each fragment of the description is written to <outdir>
   inside that prelude (a `# name: Type` comment, rosetta's mark for a value the fragment is given,
   becomes a parameter of the stack's initializer), each complete app as it is, for pyright.
   The prelude must import every name that rosetta/default.ts-fixture imports.
4. Prose: no camelCase-only name of the library's API and no TypeScript object literal in the
   description's or the docstrings' prose (scripts/python_names.py rewrites them at packaging).
"""
import ast
import inspect
import io
import json
import pathlib
import re
import sys
import tarfile
import zipfile

import cdk_ecs_staging as lib

# A fenced block, also indented (in a list item); blocks() gives (language, dedented code).
FENCE = re.compile(r"^( *)```([A-Za-z0-9_+-]*)\n(.*?)^\1```", re.M | re.S)


def blocks(markdown: str) -> list:
    return [(lang, re.sub(rf"^{indent}", "", code, flags=re.M)) for indent, lang, code in FENCE.findall(markdown)]

PRELUDE_MARK = "# The prelude of every fragment on this page"
errors: list = []


# --- 1. Calls and attribute reads in the Python blocks ------------------------------------------------

class Instance:
    def __init__(self, cls):
        self.cls = cls


def library_class(obj):
    return inspect.isclass(obj) and getattr(obj, "__module__", "").startswith(lib.__name__)


def annotation_type(annotation):
    """An instance of the library class an annotation (jsii-pacmak writes strings) names, or None."""
    if not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", "")
    m = re.fullmatch(r"""["']*([A-Za-z_][A-Za-z0-9_]*)["']*""", annotation.strip())
    if m and library_class(getattr(lib, m.group(1), None)):
        return Instance(getattr(lib, m.group(1)))
    return None


def check_call(where, fn, node, label):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    for kw in node.keywords:
        if kw.arg is not None and kw.arg not in params:
            errors.append(f"{where}, line {node.lineno}: {label}() has no keyword argument "
                          f"{kw.arg!r} (the wheel's signature: {', '.join(params)})")


class Checker:
    def __init__(self, where: str):
        self.where = where
        self.env: dict = {}

    def lookup(self, name):
        if name in self.env:
            return self.env[name]
        # Fragments use the prelude's names without importing them.
        obj = getattr(lib, name, None)
        return obj if library_class(obj) else None

    def type_of(self, node):
        """The library class, or Instance of it, that node evaluates to; None when unknown."""
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            owner = self.type_of(node.value)
            if owner is lib:
                if not hasattr(lib, node.attr):
                    errors.append(f"{self.where}, line {node.lineno}: {lib.__name__}.{node.attr} does not exist")
                    return None
                return getattr(lib, node.attr)
            if library_class(owner) or isinstance(owner, Instance):
                cls = owner.cls if isinstance(owner, Instance) else owner
                if not hasattr(cls, node.attr):
                    errors.append(f"{self.where}, line {node.lineno}: {cls.__name__}.{node.attr} does not exist")
                    return None
                attr = inspect.getattr_static(cls, node.attr)
                if isinstance(attr, property) and isinstance(owner, Instance):
                    return annotation_type(inspect.signature(attr.fget).return_annotation)
                return ("method", cls, node.attr, isinstance(owner, Instance))
            return None
        if isinstance(node, ast.Call):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                self.type_of(arg)
            fn = self.type_of(node.func)
            if library_class(fn):
                check_call(self.where, fn.__init__, node, fn.__name__)
                return Instance(fn)
            if isinstance(fn, tuple) and fn[0] == "method":
                _, cls, name, bound = fn
                member = getattr(cls, name)
                check_call(self.where, member, node, f"{cls.__name__}.{name}")
                try:
                    return annotation_type(inspect.signature(member).return_annotation)
                except (TypeError, ValueError):
                    return None
            return None
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.type_of(child)
        return None

    def run(self, tree):
        for node in tree.body if isinstance(tree, ast.Module) else [tree]:
            self.statement(node)

    def statement(self, node):
        if isinstance(node, ast.ImportFrom) and node.module == lib.__name__:
            for alias in node.names:
                if alias.name != "*" and not hasattr(lib, alias.name):
                    errors.append(f"{self.where}, line {node.lineno}: `from {lib.__name__} import {alias.name}`: no such name")
                elif alias.name != "*":
                    self.env[alias.asname or alias.name] = getattr(lib, alias.name)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == lib.__name__:
                    self.env[alias.asname or alias.name] = lib
            return
        if isinstance(node, ast.Assign):
            value = self.type_of(node.value)
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.env[target.id] = value
            return
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.If, ast.For, ast.With, ast.Try)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self.statement(child)
                elif isinstance(child, ast.expr):
                    self.type_of(child)
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.type_of(child)


def given_values(code: str) -> dict:
    """rosetta's `# name: Type` comments: values a fragment takes as given."""
    return dict(re.findall(r"^# ([a-z_][a-z0-9_]*): ([A-Za-z_][\w.]*)$", code, re.M))


def check_block(where: str, code: str) -> None:
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        errors.append(f"{where}: not Python ({e.msg}, line {e.lineno})")
        return
    checker = Checker(where)
    for name, type_name in given_values(code).items():
        obj = getattr(lib, type_name, None)
        if library_class(obj):
            checker.env[name] = Instance(obj)
    checker.run(tree)


# --- 2. API.python.md ----------------------------------------------------------------------------

def resolve(fqn_parts: list, shown: str, where: str) -> None:
    """fqn_parts: the anchor after `cdk-ecs-staging.`, e.g. ['StagingService', 'addPipeline', 'parameter', 'source']."""
    cls = getattr(lib, fqn_parts[0], None)
    if cls is None:
        errors.append(f"{where}: {lib.__name__}.{fqn_parts[0]} does not exist")
        return
    rest = fqn_parts[1:]
    if not rest:
        if shown != fqn_parts[0]:
            errors.append(f"{where}: shows {shown!r} for the class {fqn_parts[0]}")
        return
    if len(rest) == 3 and rest[1] == "parameter":
        member = cls.__init__ if rest[0] == "Initializer" else None
        if member is None:
            candidates = [n for n in dir(cls) if n.replace("_", "").lower() == rest[0].lower()]
            member = getattr(cls, candidates[0]) if candidates else None
        if member is None:
            errors.append(f"{where}: no method {rest[0]} on {cls.__name__} for the parameter {shown}")
            return
        params = inspect.signature(member).parameters
        if shown not in params:
            errors.append(f"{where}: {cls.__name__}.{rest[0]} has no parameter {shown!r} in the wheel "
                          f"(it has: {', '.join(params)})")
        return
    if len(rest) == 2 and rest[0] == "property" or len(rest) == 1 and rest[0] != "Initializer":
        if not hasattr(cls, shown):
            errors.append(f"{where}: {cls.__name__} has no attribute {shown!r} in the wheel")


def check_reference(path: pathlib.Path) -> int:
    text = path.read_text(encoding="utf8")
    checked = 0
    # Headings: ##### `name` <a name="name" id="cdk-ecs-staging.Type.member..."></a>
    for m in re.finditer(r'^#+ `?([^`<\n]+?)`?(?:<sup>.*?</sup>)? <a name="([^"]*)" id="cdk-ecs-staging\.([^"]+)"></a>', text, re.M):
        line = text.count("\n", 0, m.start()) + 1
        resolve(m.group(3).split("."), m.group(1).strip(), f"{path.name}:{line} heading")
        if m.group(2) != m.group(1).strip():
            errors.append(f"{path.name}:{line}: anchor name {m.group(2)!r} for {m.group(1)!r}")
        checked += 1
    # Table links: <code><a href="#cdk-ecs-staging.Type.member...">name</a></code>
    for m in re.finditer(r'<code><a href="#cdk-ecs-staging\.([^"]+)">([^<]+)</a></code>', text):
        parts = m.group(1).split(".")
        if len(parts) == 1 and m.group(2) != parts[0]:
            continue  # a type link shows the type's name
        line = text.count("\n", 0, m.start()) + 1
        resolve(parts, m.group(2), f"{path.name}:{line} table")
        checked += 1
    # Signatures in python blocks, under the heading of their member.
    heading = None
    for m in re.finditer(r'(?:id="cdk-ecs-staging\.([^"]+)")|(?:^```python\n(.*?)^```)', text, re.M | re.S):
        if m.group(1):
            heading = m.group(1).split(".")
            continue
        code, line = m.group(2), text.count("\n", 0, m.start()) + 1
        if heading is None:
            continue
        cls = getattr(lib, heading[0], None)
        call = re.match(r"(?:import \w+\n\n)?(?:def (\w+)|\w+\.(\w+)(?:\.(\w+))?)\(\n?(.*?)\)", code, re.S)
        if call and cls is not None:
            method, type_name, static = call.group(1), call.group(2), call.group(3)
            if method:
                member = getattr(cls, method, None)
            elif static:
                member = getattr(getattr(lib, type_name, None), static, None)
            else:
                member = getattr(getattr(lib, type_name, None), "__init__", None)
            label = method or static or type_name
            if member is None:
                errors.append(f"{path.name}:{line}: {label} is not in the wheel (under {'.'.join(heading)})")
                continue
            params = inspect.signature(member).parameters
            for p in re.findall(r"^\s*\*{0,2}(\w+):", call.group(4), re.M):
                if p not in params:
                    errors.append(f"{path.name}:{line}: {label}() has no parameter {p!r} in the wheel "
                                  f"(it has: {', '.join(params)})")
            checked += 1
            continue
        prop = re.fullmatch(r"(\w+): .*\n", code)
        if prop and cls is not None:
            if not hasattr(cls, prop.group(1)):
                errors.append(f"{path.name}:{line}: {cls.__name__} has no attribute {prop.group(1)!r} in the wheel")
            checked += 1
    return checked


# --- 3. The prelude and the fragments for pyright ------------------------------------------------

def fixture_names(fixture: str) -> set:
    """The names rosetta/default.ts-fixture gives the README's examples."""
    names = set()
    for clause in re.findall(r"^import (.*?) from '[^']+';", fixture, re.M | re.S):
        m = re.match(r"\* as (\w+)", clause)
        names.update([m.group(1)] if m else re.findall(r"\w+", clause))
    return names


def write_for_pyright(description: str, readme: str, fixture: str, outdir: pathlib.Path) -> int:
    preludes = [code for lang, code in blocks(readme) if lang == "python" and code.startswith(PRELUDE_MARK)]
    if len(preludes) != 1:
        errors.append(f"README.md: expected one python block that starts with {PRELUDE_MARK!r}, found {len(preludes)}")
        return 0
    prelude = preludes[0]
    bound = set()
    for node in ast.walk(ast.parse(prelude)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    missing = sorted(fixture_names(fixture) - bound)
    if missing:
        errors.append(f"README.md: the prelude does not import {missing}, which rosetta/default.ts-fixture gives the examples")
    placeholder = re.search(r"^( +)\.\.\.\n", prelude, re.M)
    init = re.search(r"def __init__\(self, scope: Construct, id: str\)", prelude)
    if not placeholder or not init:
        errors.append("README.md: the prelude needs `def __init__(self, scope: Construct, id: str)` and a `...` line where a fragment goes")
        return 0
    count = 0
    for i, (lang, code) in enumerate(blocks(description), 1):
        if lang != "python" or code.startswith(PRELUDE_MARK):
            continue
        if code.startswith(("import ", "from ")) and not re.search(r"\bself\b", code) and not given_values(code):
            source = code  # a complete program
        else:
            given = "".join(f", {n}: {t}" for n, t in given_values(code).items())
            body = "".join(placeholder.group(1) + line + "\n" if line.strip() else "\n" for line in code.splitlines())
            source = prelude[:placeholder.start()] + body + prelude[placeholder.end():]
            source = source.replace(init.group(0), f"def __init__(self, scope: Construct, id: str{given})", 1)
        (outdir / f"pypi_block_{i:02d}.py").write_text(source, encoding="utf8")
        count += 1
    return count


# --- 4. Prose ------------------------------------------------------------------------------------

def check_prose(where: str, text: str, names: dict) -> None:
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
    import python_names
    for start, _, _, code in python_names.spans_to_translate(text, names):
        line = text.count("\n", 0, start) + 1
        errors.append(f"{where}, line {line}: TypeScript in the prose: `{code}`")


def main() -> None:
    wheel, reference, readme, outdir = sys.argv[1:5]
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        [metadata] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        description = zf.read(metadata).decode().split("\n\n", 1)[1]
        [tgz] = [n for n in zf.namelist() if n.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(zf.read(tgz))) as tf:
            assembly = json.load(tf.extractfile("package/.jsii"))
            fixture = (pathlib.Path(__file__).resolve().parents[2] / "rosetta" / "default.ts-fixture").read_text()

    block_count = 0
    for where, text in (("PyPI description", description), ("module docstring", lib.__doc__ or "")):
        for i, (lang, code) in enumerate(blocks(text), 1):
            if lang == "python":
                check_block(f"{where}, python block {i}", code)
                block_count += 1
    reference_checks = check_reference(pathlib.Path(reference))

    # camelCase name -> the wheel's name, for every member of the assembly that has a Python name.
    names = {}
    for type_ in assembly["types"].values():
        cls = getattr(lib, type_["name"], None)
        members = [*type_.get("properties", []), *type_.get("methods", [])]
        for callable_ in [type_.get("initializer"), *type_.get("methods", [])]:
            members += (callable_ or {}).get("parameters", [])
        for member in members:
            name = member["name"]
            if name != name.lower() and name != name.upper():
                names.setdefault(name, re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower())
    # The wheel decides: a name's Python form is the one the installed binding has.
    wheel_words = set()
    for obj in vars(lib).values():
        if library_class(obj):
            wheel_words.update(dir(obj))
            for member in vars(obj).values():
                fn = member.fget if isinstance(member, property) else member
                try:
                    wheel_words.update(inspect.signature(fn).parameters)
                except (TypeError, ValueError):
                    pass
    for camel, snake in list(names.items()):
        candidates = [w for w in wheel_words if w.replace("_", "") == camel.lower()]
        if candidates:
            names[camel] = candidates[0]
    check_prose("PyPI description", description, names)
    module_doc_checked = 0
    for obj in [lib, *(o for o in vars(lib).values() if library_class(o))]:
        docs = [(obj.__name__, obj.__doc__ or "")]
        if inspect.isclass(obj):
            for name, member in vars(obj).items():
                fn = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
                if getattr(fn, "__doc__", None):
                    docs.append((f"{obj.__name__}.{name}", fn.__doc__))
        for where, doc in docs:
            check_prose(f"docstring of {where}", doc, names)
            module_doc_checked += 1

    fragments = write_for_pyright(description, pathlib.Path(readme).read_text(encoding="utf8"), fixture, outdir)

    if errors:
        print("\n".join(errors), file=sys.stderr)
        sys.exit(f"wheel names: FAIL: {len(errors)} names a Python user reads are not the wheel's")
    print(f"wheel names: {block_count} python blocks of the description and module docstring, {reference_checks} "
          f"names and signatures of {pathlib.Path(reference).name}: all in the installed wheel; prose of the "
          f"description and {module_doc_checked} docstrings in Python; {fragments} blocks written for pyright")


if __name__ == "__main__":
    main()
