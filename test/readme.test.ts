import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..');
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

function blocks(language: string): string[] {
  return [...readme.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

describe('README', () => {
  it('has a Quick start of exactly two commands, the second being what CI runs', () => {
    const quick = readme.split('## Quick start')[1].split('\n## ')[0];
    const commands = blocks('sh').find((b) => quick.includes(b))!.trim().split('\n');
    expect(commands).toEqual(['npm ci && npm run demo -- --check', 'bash scripts/check.sh']);
    expect(readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8')).toMatch(/^bash scripts\/check\.sh$/m);
  });

  it('Python examples are valid Python (the TypeScript ones are compiled by `npx projen rosetta:check`)', () => {
    const python = blocks('python');
    expect(python.length).toBeGreaterThan(0);
    for (const code of python) {
      execFileSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: code });
    }
  });
});
