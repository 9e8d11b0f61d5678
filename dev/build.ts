import { statSync } from 'node:fs';
import path from 'node:path';
import { type BuildOptions, build, buildSync } from 'esbuild';
import { REPO_ROOT } from './stack/config';

/**
 * The one build of the functions: the bundles CDK deploys (infra) and the ones the local runner and the benches
 * invoke. ESM for Node 24 (Lambda nodejs24.x), minified, with source maps. The AWS SDK v3 stays external: the Lambda
 * runtime provides it, and leaving it out keeps each bundle small.
 */
export const FUNCTIONS = ['identity-linker', 'navigation-enricher', 'segment-builder'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  // CommonJS dependencies (cassandra-driver, avsc) call require(): give the ESM bundle one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  external: ['@aws-sdk/*', '@smithy/*'],
  alias: { 'adm-zip': path.join(REPO_ROOT, 'dev/stubs/adm-zip.cjs') },
  legalComments: 'none',
  logLevel: 'warning',
};

export const bundleDir = (name: FunctionName) => path.join(REPO_ROOT, 'dist', name);

const entryPoint = (name: FunctionName) => path.join(REPO_ROOT, 'functions', name, 'handler.ts');

/** Builds `dist/<name>/index.mjs` (+ map): what the local runner and the benches invoke. */
export async function buildFunction(name: FunctionName): Promise<{ file: string; bytes: number }> {
  const outfile = path.join(bundleDir(name), 'index.mjs');
  await build({ ...BUNDLE_OPTIONS, entryPoints: [entryPoint(name)], outfile });
  return { file: outfile, bytes: statSync(outfile).size };
}

/**
 * The same build into any directory, synchronously: CDK's local asset bundling (infra/function-code.ts) calls it
 * while it synthesizes, and its bundling hook cannot await.
 */
export function buildFunctionSync(name: FunctionName, outdir: string): void {
  buildSync({ ...BUNDLE_OPTIONS, entryPoints: [entryPoint(name)], outfile: path.join(outdir, 'index.mjs') });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const name of FUNCTIONS) {
    const { file, bytes } = await buildFunction(name);
    console.log(`${name.padEnd(20)} ${(bytes / 1024).toFixed(0).padStart(5)} KiB  ${path.relative(REPO_ROOT, file)}`);
  }
}
