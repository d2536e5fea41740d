#!/usr/bin/env python3
"""Python names in the Python documentation are the wheel's names.

Usage:
  python3 scripts/python_names.py fix-tablet .jsii.tabl.json   # the README's and docstrings' examples
  python3 scripts/python_names.py fix-doc API.python.md        # the Python API reference
  python3 scripts/python_names.py map                          # print the wrong -> right names

Three jsii tools turn a camelCase name into snake_case, and they disagree on the units jsii knows:
jsii-pacmak, which writes the wheel, keeps `KiB`, `MiB` and `GiB` as one word (codemaker's
toSnakeCase: `memoryLimitMiB` -> `memory_limit_mib`), while jsii-rosetta, which translates the
examples into the tablet that the wheel's description and docstrings are taken from
(lib/languages/python.js, mangleIdentifier), and jsii-docgen, which writes API.python.md (the `case`
package's Case.snake), split them (`memory_limit_mi_b`). A Python user who copies the example then
gets `TypeError: ... unexpected keyword argument 'memory_limit_mi_b'`.

So, for every property, method and parameter name of the library's assembly (.jsii), this script
asks node for the three spellings (from the very functions the tools use: codemaker's toSnakeCase
and Case.snake; rosetta's mangleIdentifier is not exported, so its two regular expressions are
copied below) and rewrites each spelling that differs from jsii-pacmak's into jsii-pacmak's, as a
whole word. It runs after `jsii-rosetta extract` (on the tablet, which ships in the npm package and
feeds jsii-pacmak) and after `jsii-docgen --language python` (on API.python.md).
test/python/wheel_names.py checks the result against the installed wheel.
"""
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Runs in node, from the repository root, so that `require` finds the tools' own dependencies.
NAMES_JS = r"""
const fs = require('fs');
const path = require('path');
const { toSnakeCase } = require(require.resolve('codemaker', { paths: [path.dirname(require.resolve('jsii-pacmak/package.json'))] }));
const Case = require(require.resolve('case', { paths: [path.dirname(require.resolve('jsii-docgen/package.json'))] }));
// jsii-pacmak (lib/targets/python.js): toPythonIdentifier(toSnakeCase(name)); the keyword suffix does
// not concern the units, and names that are Python keywords are not rewritten here.
// jsii-rosetta (lib/languages/python.js, mangleIdentifier), copied: it is not exported.
const rosetta = (s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2').toLowerCase();
const assembly = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const names = new Set();
for (const type of Object.values(assembly.types ?? {})) {
  for (const p of type.properties ?? []) names.add(p.name);
  for (const m of [type.initializer, ...(type.methods ?? [])].filter(Boolean)) {
    if (m.name) names.add(m.name);
    for (const p of m.parameters ?? []) names.add(p.name);
  }
}
const out = {};
for (const name of [...names].sort()) {
  if (name.toUpperCase() === name) continue; // constants keep their name in Python
  out[name] = { pacmak: toSnakeCase(name), rosetta: rosetta(name), docgen: Case.snake(name) };
}
console.log(JSON.stringify(out));
"""


def spellings(assembly: pathlib.Path = ROOT / ".jsii") -> dict:
    """{camelName: {"pacmak": ..., "rosetta": ..., "docgen": ...}} for the assembly's members."""
    if not assembly.is_file():
        sys.exit(f"python_names: FAIL: no {assembly}; compile first (npx projen compile)")
    out = subprocess.run(["node", "-e", NAMES_JS, str(assembly)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def python_names(assembly: pathlib.Path = ROOT / ".jsii") -> dict:
    """{camelName: python_name}, as jsii-pacmak names them in the wheel."""
    return {name: s["pacmak"] for name, s in spellings(assembly).items()}


def wrong_to_right(assembly: pathlib.Path = ROOT / ".jsii") -> dict:
    """{wrong_spelling: pacmak_spelling} for the names the doc tools spell otherwise than the wheel."""
    names = spellings(assembly)
    right = {s["pacmak"] for s in names.values()}
    fixes = {}
    for name, s in names.items():
        for tool in ("rosetta", "docgen"):
            wrong = s[tool]
            # A spelling that is some other member's real Python name is left alone.
            if wrong != s["pacmak"] and wrong not in right:
                if fixes.get(wrong, s["pacmak"]) != s["pacmak"]:
                    sys.exit(f"python_names: FAIL: {wrong} would map to both {fixes[wrong]} and {s['pacmak']}")
                fixes[wrong] = s["pacmak"]
    return fixes


def rewrite(text: str, fixes: dict) -> tuple:
    """Replaces each wrong spelling, as a whole identifier, by the right one; returns (text, count)."""
    if not fixes:
        return text, 0
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, sorted(fixes, key=len, reverse=True)))
                         + r")(?![A-Za-z0-9_])")
    return pattern.subn(lambda m: fixes[m.group(1)], text)


# Translates TypeScript fragments (the code spans of prose) into Python with jsii-rosetta itself, loose
# (no fixture: a nested object literal whose type it cannot see becomes a dict, which jsii accepts for a
# struct). A fragment `name: value` (a prop as written in an object literal) is translated inside a
# call and comes back as `name=value`; `a.b: value` as `a={"b": value}`. Reads a JSON list of
# fragments on stdin, prints a JSON list.
TRANSLATE_JS = r"""
const rosetta = require('jsii-rosetta');
const fragments = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const translator = new rosetta.Translator(false);
const out = fragments.map((fragment) => {
  // `a.b: value` (a nested prop) is `a: { b: value }`.
  const nested = /^([A-Za-z_][\w.]*)\s*:\s([\s\S]*)$/.exec(fragment);
  const prop = nested !== null;
  const literal = prop ? nested[1].split('.').reduceRight((value, key) => `{ ${key}: ${value} }`, nested[2]) : '';
  const source = prop ? `f(${literal});` : `${fragment};`;
  const snippet = rosetta.typeScriptSnippetFromVisibleSource(source, { api: { api: 'moduleReadme', moduleFqn: 'cdk-ecs-staging' } }, false);
  const t = translator.translatorFor(snippet);
  let python = t.renderUsing(new rosetta.PythonVisitor()).trim();
  if (t.diagnostics.some((d) => d.category === 1) || python.includes('\n')) return null;
  if (prop) {
    if (!python.startsWith('f(') || !python.endsWith(')')) return null;
    python = python.slice(2, -1);
  }
  return python;
});
console.log(JSON.stringify(out));
"""

FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```[ \t]*$", re.M | re.S)
# A code span: `x` in Markdown, ``x`` in the reStructuredText of jsii-pacmak's docstrings.
SPAN = re.compile(r"(?<!`)(`{1,2})(?!`)([^`\n]+?)(?<!`)\1(?!`)")
CAMEL = re.compile(r"(?<![\w\"'/-])([a-z][a-z0-9]*[A-Z][A-Za-z0-9]*)(?![\w\"'/-])")
# A TypeScript object literal: `{ name: ...`, `{ name, ...` or `{ name }` (a Python dict quotes its keys).
TS_OBJECT = re.compile(r"\{\s*[A-Za-z_]\w*\s*[:,}]")


def api_names_in(text: str, names: dict) -> list:
    """The camelCase names of the library's API in text (members that keep their name in Python excluded)."""
    return [m for m in CAMEL.findall(text) if m in names and names[m] != m]


def paragraphs(text: str):
    """(start, end) of each paragraph (blank-line separated) of text."""
    start = 0
    for m in re.finditer(r"\n[ \t]*\n", text):
        yield start, m.start()
        start = m.end()
    yield start, len(text)


def spans_to_translate(text: str, names: dict) -> list:
    """The code spans of text's prose (outside fenced blocks) that name the API in TypeScript only:
    a camelCase name whose Python name the paragraph does not give, or an object literal."""
    fenced = [m.span() for m in FENCE.finditer(text)]
    found = []
    for p_start, p_end in paragraphs(text):
        paragraph = text[p_start:p_end]
        for m in SPAN.finditer(paragraph):
            start = p_start + m.start()
            if any(a <= start < b for a, b in fenced):
                continue
            code = m.group(2)
            missing = [n for n in api_names_in(code, names) if not re.search(rf"\b{names[n]}\b", paragraph)]
            if missing or TS_OBJECT.search(code):
                found.append((start, p_start + m.end(), m.group(1), code))
    return found


def translate(fragments: list) -> dict:
    """{fragment: python or None} by jsii-rosetta."""
    unique = sorted(set(fragments))
    if not unique:
        return {}
    out = subprocess.run(["node", "-e", TRANSLATE_JS], cwd=ROOT, input=json.dumps(unique), check=True,
                         capture_output=True, text=True).stdout
    return dict(zip(unique, json.loads(out.strip().splitlines()[-1])))


def pythonize_prose(texts: list, names: dict) -> tuple:
    """Rewrites the TypeScript-only code spans of each text's prose into Python (jsii-rosetta's
    translation; a span it cannot translate keeps its words, with each camelCase name of the API
    replaced by its Python name). Returns (texts, [(before, after)])."""
    todo = [spans_to_translate(t, names) for t in texts]
    translated = translate([code for spans in todo for (_, _, _, code) in spans])
    out, changes = [], []
    for text, spans in zip(texts, todo):
        for start, end, ticks, code in reversed(spans):
            python = translated.get(code)
            if not python or TS_OBJECT.search(python):
                # e.g. `edge.deletionProtection: true`, which is no TypeScript rosetta can read.
                python = CAMEL.sub(lambda m: names.get(m.group(1), m.group(1)), code)
                python = re.sub(r"^([\w.]+): (true|false|\d+)$",
                                lambda m: f"{m.group(1)}={ {'true': 'True', 'false': 'False'}.get(m.group(2), m.group(2))}", python)
            changes.append((code, python))
            text = text[:start] + ticks + python + ticks + text[end:]
        out.append(text)
    return out, changes


def docstring_spans(source: bytes) -> list:
    """(start, end) byte offsets of every docstring literal (module, class, function) in source."""
    import ast
    lines = [0]
    for line in source.splitlines(keepends=True):
        lines.append(lines[-1] + len(line))
    spans = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                c = first.value
                spans.append((lines[c.lineno - 1] + c.col_offset, lines[c.end_lineno - 1] + c.end_col_offset))
    return sorted(spans)


def pythonize_files(markdown: list, modules: list, names: dict) -> list:
    """The prose of Markdown files (the PyPI description) and of the docstrings of Python modules
    (jsii-pacmak's __init__.py), in Python: see pythonize_prose. Returns the changes made."""
    texts, places = [], []
    for path in markdown:
        texts.append(path.read_text(encoding="utf8"))
        places.append((path, None))
    for path in modules:
        source = path.read_bytes()
        for start, end in docstring_spans(source):
            texts.append(source[start:end].decode("utf8"))
            places.append((path, (start, end)))
    new, changes = pythonize_prose(texts, names)
    edits = {}
    for (path, span), before, after in zip(places, texts, new):
        if span is None:
            if after != before:
                path.write_text(after, encoding="utf8")
        elif after != before:
            if after.count("'''") != before.count("'''") or after.count('"""') != before.count('"""'):
                sys.exit(f"python_names: FAIL: {path}: a rewritten docstring would end early: {after[:200]}")
            edits.setdefault(path, []).append((span, after.encode("utf8")))
    for path, spans in edits.items():
        source = path.read_bytes()
        for (start, end), text in sorted(spans, reverse=True):
            source = source[:start] + text + source[end:]
        path.write_bytes(source)
    return changes


# `const x = <expression> as ns.Type;` in TypeScript: jsii-rosetta drops the cast, and pyright then
# sees the expression's own type (node.default_child: an optional IConstruct).
TS_CAST = re.compile(r"^\s*(?:const|let) (\w+) = [^;]+? as ([A-Za-z_][\w.]*);", re.M)


def keep_casts(typescript: str, python: str) -> tuple:
    """The casts of `const x = ... as T;` declarations, as `x = cast(T, ...)` in the Python."""
    count = 0
    for var, type_name in TS_CAST.findall(typescript):
        name = rosetta_snake(var)
        line = re.compile(rf"^(\s*){re.escape(name)} = (?!cast\()(.+?)(\s*#.*)?$", re.M)
        python, n = line.subn(lambda m: f"{m.group(1)}{name} = cast({type_name}, {m.group(2)}){m.group(3) or ''}", python, count=1)
        count += n
    if count and not re.search(r"^from typing import cast$", python, re.M):
        python = "from typing import cast\n" + python
    return python, count


def rosetta_snake(name: str) -> str:
    """jsii-rosetta's mangleIdentifier (lib/languages/python.js), for a local variable's name."""
    if name[:1].isupper():
        return name
    return re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)).lower()


def fix_tablet(path: pathlib.Path, fixes: dict) -> int:
    tablet = json.loads(path.read_text(encoding="utf8"))
    count = 0
    for snippet in tablet.get("snippets", {}).values():
        python = snippet.get("translations", {}).get("python")
        if python:
            python["source"], n = rewrite(python["source"], fixes)
            count += n
            typescript = snippet.get("translations", {}).get("$", {}).get("source", "")
            python["source"], n = keep_casts(typescript, python["source"])
            count += n
    if count:
        # jsii-rosetta writes the tablet as compact JSON (gzipped only when asked to).
        path.write_text(json.dumps(tablet, separators=(",", ":"), ensure_ascii=False), encoding="utf8")
    return count


def keyword_members(text: str) -> tuple:
    """jsii-docgen shows a member named after a Python keyword as is (`def with(`, from constructs'
    Construct.with), jsii-pacmak appends an underscore (toPythonIdentifier: `with_`)."""
    import keyword
    count = 0
    for word in (k for k in keyword.kwlist if k.islower()):
        for pattern, replacement in (
            (rf'^(#+ `){word}(` <a name="){word}(")', rf"\g<1>{word}_\g<2>{word}_\g<3>"),  # heading
            (rf"^def {word}\(", f"def {word}_("),  # signature
            (rf'(<code><a href="#[^"]+\.{word}">){word}(</a></code>)', rf"\g<1>{word}_\g<2>"),  # table
        ):
            text, n = re.subn(pattern, replacement, text, flags=re.M)
            count += n
    return text, count


def fix_doc(path: pathlib.Path, fixes: dict) -> int:
    text, count = rewrite(path.read_text(encoding="utf8"), fixes)
    text, keywords = keyword_members(text)
    count += keywords
    if count:
        path.write_text(text, encoding="utf8")
    return count


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("fix-tablet", "fix-doc", "map"):
        sys.exit(__doc__.split("\n\n")[1])
    fixes = wrong_to_right()
    if sys.argv[1] == "map":
        for wrong, right in sorted(fixes.items()):
            print(f"{wrong} -> {right}")
        return
    for arg in sys.argv[2:]:
        path = pathlib.Path(arg)
        if not path.is_file():
            sys.exit(f"python_names: FAIL: no {path}")
        count = (fix_tablet if sys.argv[1] == "fix-tablet" else fix_doc)(path, fixes)
        print(f"python_names: {path}: {count} rewrites ({', '.join(f'{w} -> {r}' for w, r in sorted(fixes.items()))}"
              + ("; casts kept" if sys.argv[1] == "fix-tablet" else "; members named after a Python keyword: name_") + ")")


if __name__ == "__main__":
    main()
