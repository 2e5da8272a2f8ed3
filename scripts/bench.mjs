// `npm run bench`: every benchmark section side by side with qemu-storage-daemon.
// Usage: npm run bench [-- section ...]   (sections: qmp graph transaction nbd ws)
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const SECTIONS = ['qmp', 'graph', 'transaction', 'nbd', 'ws'];
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of wanted.length ? wanted : SECTIONS) {
  const file = join(import.meta.dirname, 'bench', `${name}.mjs`);
  if (!existsSync(file)) {
    console.log(`(${name}: no benchmark yet)`);
    continue;
  }
  const mod = await import(file);
  await mod.run();
  console.log();
}
