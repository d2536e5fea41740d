import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { pythonName } from '../src/private/errors';

// Python users read the same docstrings (help(), API.python.md): a prop or method named in camelCase
// must come with its Python name, and nothing may point at material a user does not have.

const SRC = path.join(__dirname, '..', 'src');

interface Docstring {
  readonly where: string;
  readonly text: string;
}

/** The JSDoc comments directly before a node (its leading `/** ... *\/` comments). */
function jsdocOf(sourceFile: ts.SourceFile, node: ts.Node): string[] {
  return (ts.getLeadingCommentRanges(sourceFile.text, node.getFullStart()) ?? [])
    .map((range) => sourceFile.text.slice(range.pos, range.end))
    .filter((comment) => comment.startsWith('/**'));
}

function isHidden(member: ts.ClassElement | ts.TypeElement): boolean {
  const modifiers = ts.canHaveModifiers(member) ? ts.getModifiers(member) ?? [] : [];
  const name = member.name && (ts.isIdentifier(member.name) || ts.isStringLiteral(member.name)) ? member.name.text : '';
  return modifiers.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword) || name.startsWith('_') || (member.name !== undefined && ts.isPrivateIdentifier(member.name));
}

/** The docstrings of the public API: exported classes, interfaces and enums in src/*.ts and their non-private members. */
function publicDocstrings(): Docstring[] {
  const result: Docstring[] = [];
  for (const file of fs.readdirSync(SRC).filter((f) => f.endsWith('.ts'))) {
    const sourceFile = ts.createSourceFile(file, fs.readFileSync(path.join(SRC, file), 'utf8'), ts.ScriptTarget.Latest, true);
    const add = (where: string, node: ts.Node) => jsdocOf(sourceFile, node).forEach((text) => result.push({ where: `${file}: ${where}`, text }));
    for (const statement of sourceFile.statements) {
      const exported = ts.canHaveModifiers(statement) && (ts.getModifiers(statement) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
      if (!exported) continue;
      if (ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement)) {
        const typeName = statement.name?.text ?? '?';
        add(typeName, statement);
        for (const member of statement.members as ts.NodeArray<ts.ClassElement | ts.TypeElement>) {
          if (ts.isConstructorDeclaration(member)) {
            // Even a private constructor: its @param tags and parameter properties document public properties.
            add(`${typeName}.constructor`, member);
            for (const parameter of member.parameters) add(`${typeName}.${parameter.name.getText(sourceFile)}`, parameter);
          } else if (!isHidden(member)) {
            add(`${typeName}.${member.name?.getText(sourceFile) ?? '?'}`, member);
          }
        }
      } else if (ts.isEnumDeclaration(statement)) {
        add(statement.name.text, statement);
        for (const member of statement.members) add(`${statement.name.text}.${member.name.getText(sourceFile)}`, member);
      }
    }
  }
  return result;
}

/** What a reader sees of a docstring outside code examples (rosetta translates those) and URLs. */
function prose(docstring: string): string {
  return docstring
    .replace(/```[\s\S]*?```/g, '')
    .replace(/@example[\s\S]*?(?=\n\s*\*\s*@|\*\/)/g, '')
    .replace(/https?:\/\/\S+/g, '')
    // `@param fooBar text`: jsii turns the tag into the parameter's own docs; the name is not shown.
    .replace(/@param\s+\w+/g, '@param');
}

/** Problems a Python user would meet in one docstring. */
function problems(docstring: string): string[] {
  const text = prose(docstring);
  const found: string[] = [];
  for (const [name] of text.matchAll(/\b[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*\b/g)) {
    if (!text.includes(pythonName(name))) found.push(`${name} without ${pythonName(name)}`);
  }
  for (const [code] of text.matchAll(/`[^`\n]*\b(?:this|new|const)\b[^`\n]*`/g)) found.push(`TypeScript in prose: ${code}`);
  for (const [word] of text.matchAll(/walkthrough|checklist|\{@link/gi)) found.push(`refers to ${word}`);
  // An @ after a space starts a JSDoc tag: jsii ends the docstring there (the rest goes to a nameless custom tag).
  for (const [tag] of text.matchAll(/(?<=^|\s)@(?![a-z])\S*/gm)) found.push(`a bare ${tag} cuts the docstring`);
  return found;
}

describe('docstrings of the public API', () => {
  test('name props and methods in both languages, show no TypeScript outside examples, and refer to nothing the user lacks', () => {
    // GIVEN
    const docstrings = publicDocstrings();
    // THEN: the scan sees the API (hundreds of documented members), so an empty pass means nothing broke it
    expect(docstrings.length).toBeGreaterThan(250);
    const failures = docstrings.flatMap(({ where, text }) => problems(text).map((p) => `${where}: ${p}`));
    expect(failures).toEqual([]);
  });

  test('the check catches what it is meant to catch', () => {
    expect(problems('/** With `autoScaling`, the template leaves the count to the scaler. */')).toEqual(['autoScaling without auto_scaling']);
    expect(problems('/** @default - a fixed `desiredCount` / `desired_count` */')).toEqual([]);
    expect(problems('/** See `StagingSchedule.workingHours()`. */')).toEqual(['workingHours without working_hours']);
    expect(problems('/** e.g. `ecr.Repository.fromRepositoryName(this, \'Web\', \'name\')` / `from_repository_name()` */'))
      .toEqual([expect.stringMatching(/^TypeScript in prose/)]);
    expect(problems('/** The values the validation checklist looks up. */')).toEqual(['refers to checklist']);
    expect(problems('/**\n * Runs it.\n *\n * @param instanceType the NAT instance type\n * @example\n * const fooBar = 1;\n */')).toEqual([]);
    expect(problems('/** Memory of the task, `memoryLimitMiB` / `memory_limit_mib`. */')).toEqual([]);
    expect(problems('/**\n * Letters, digits and `_ . : / = + - @`, not starting with `aws:`.\n */')).toEqual(['a bare @`, cuts the docstring']);
  });
});
