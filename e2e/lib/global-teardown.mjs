// Removes the shared kit's temporary folders after the run: its data and the
// copy of the binary it ran from.
import fs from 'node:fs';

export default async function globalTeardown() {
  for (const [name, prefix] of [
    ['E2E_DATA_DIR', 'pushstart-e2e-'],
    ['E2E_KIT_DIR', 'pushstart-bin-'],
  ]) {
    const dir = process.env[name];
    if (dir && dir.includes(prefix)) fs.rmSync(dir, { recursive: true, force: true });
  }
}
