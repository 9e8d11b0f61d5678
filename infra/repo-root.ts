import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root: where the build finds `functions/` and writes `dist/`, whichever directory runs it. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
