#!/usr/bin/env node
// `npm run gen`: compiles the QAPI compiler (src/qapi/compiler only, see
// tsconfig.gen.json) into build/qapi-gen/, then runs it from the repo root.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.gen.json')], { stdio: 'inherit' });
} catch {
  process.stderr.write('qapi-gen: compiling the QAPI compiler failed\n');
  process.exit(1);
}
const { main } = await import(pathToFileURL(path.join(root, 'build', 'qapi-gen', 'main.js')).href);
process.exitCode = main(process.argv.slice(2), root);
