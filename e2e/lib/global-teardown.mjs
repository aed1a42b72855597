// Removes the shared kit's temporary data directory after the run.
import fs from 'node:fs';

export default async function globalTeardown() {
  const dir = process.env.E2E_DATA_DIR;
  if (dir && dir.includes('pushstart-e2e-')) fs.rmSync(dir, { recursive: true, force: true });
}
