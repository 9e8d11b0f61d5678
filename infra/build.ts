import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type BuildOptions, build, type Plugin } from 'esbuild';
import { FUNCTIONS, type FunctionName } from '../functions/catalog';
import { REPO_ROOT } from './repo-root';

/**
 * The one build of the functions: the bundles CDK deploys (infra) and the ones the local runner and the benches
 * invoke. ESM for Node 24 (Lambda nodejs24.x), minified, with source maps. The AWS SDK is bundled too, not left to
 * the one the runtime ships: that one is updated by AWS on its own schedule and holds only some packages (the
 * runtime interface client run under RIE, dev/lambda/, has none, which is how this was found). Every SDK import is
 * dynamic, so the SDK lands in chunks loaded on first use: the cold start loads the same ~500 KiB as before, the
 * package grows from ~1.0 to ~1.8 MiB. Code only some configurations need (the Kafka client of the Kafka dead-letter
 * sink) is split the same way.
 */

const require = createRequire(import.meta.url);
const WASM_UTILS = path.dirname(require.resolve('@platformatic/wasm-utils'));
const WASM_FILE = 'native.wasm';

/**
 * @platformatic/kafka's checksum helper reads `../dist/native.wasm` next to its own module file. Bundled, that
 * module lives in a chunk at the bundle's root: point it at `./native.wasm` there and ship the file beside it.
 * Fails the build if the library stops reading the file this way, rather than shipping a bundle that cannot load.
 */
const kafkaWasm: Plugin = {
  name: 'kafka-wasm',
  setup(b) {
    b.onLoad({ filter: /wasm-utils[\\/]dist[\\/]index\.js$/ }, ({ path: file }) => {
      const source = readFileSync(file, 'utf8');
      const from = `new URL('../dist/${WASM_FILE}', import.meta.url)`;
      if (!source.includes(from)) throw new Error(`${file} no longer loads ${from}: update infra/build.ts`);
      return { contents: source.replace(from, `new URL('./${WASM_FILE}', import.meta.url)`), loader: 'js' };
    });
    b.onEnd((result) => {
      const outdir = b.initialOptions.outdir;
      if (result.errors.length === 0 && outdir)
        copyFileSync(path.join(WASM_UTILS, WASM_FILE), path.join(outdir, WASM_FILE));
    });
  },
};

export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  // The ES builds of dual packages (the AWS SDK's dist-es): a dynamic import() of a CommonJS build bundled into ESM
  // gives only `default`, not the named exports (`SQSClient is not a constructor`).
  mainFields: ['module', 'main'],
  splitting: true,
  entryNames: 'index',
  chunkNames: 'chunk-[hash]',
  outExtension: { '.js': '.mjs' },
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  // CommonJS dependencies (cassandra-driver, avsc) call require(): give the ESM bundle one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  alias: { 'adm-zip': path.join(REPO_ROOT, 'infra/stubs/adm-zip.cjs') },
  plugins: [kafkaWasm],
  legalComments: 'none',
  logLevel: 'warning',
};

/** The table sink's one bundle, deployed once per sink an environment declares (lib/sink). */
export const TABLE_SINK = 'table-sink';
/** What the build makes: each catalog function's bundle, and the table sink's. */
export type BundleName = FunctionName | typeof TABLE_SINK;
export const BUNDLES: readonly BundleName[] = [...FUNCTIONS, TABLE_SINK];

export const bundleDir = (name: BundleName) => path.join(REPO_ROOT, 'dist', name);

/** A bundle's entry module (its Lambda handler's source). */
export const entryPoint = (name: BundleName) =>
  name === TABLE_SINK
    ? path.join(REPO_ROOT, 'lib', 'sink', 'handler.ts')
    : path.join(REPO_ROOT, 'functions', name, 'handler.ts');

export interface Bundle {
  /** The entry module (the Lambda handler's file, `index.mjs`). */
  file: string;
  /** What a cold start loads: the entry and the chunks it imports statically. */
  bytes: number;
  /** Every file of the deployment package (lazily loaded chunks, the wasm file), source maps excluded. */
  totalBytes: number;
}

/** Builds a function into `outdir` (default `dist/<name>/`, what the local runner and the benches invoke). */
export async function buildFunction(name: BundleName, outdir = bundleDir(name)): Promise<Bundle> {
  rmSync(outdir, { recursive: true, force: true });
  const { metafile } = await build({ ...BUNDLE_OPTIONS, entryPoints: [entryPoint(name)], outdir, metafile: true });
  const file = path.join(outdir, 'index.mjs');
  const outputs = metafile.outputs;
  const loaded = new Set<string>();
  const visit = (output: string) => {
    if (loaded.has(output)) return;
    loaded.add(output);
    for (const i of outputs[output]?.imports ?? []) if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  visit(path.relative(process.cwd(), file));
  const totalBytes = readdirSync(outdir)
    .filter((f) => !f.endsWith('.map'))
    .reduce((sum, f) => sum + statSync(path.join(outdir, f)).size, 0);
  return { file, bytes: [...loaded].reduce((sum, o) => sum + (outputs[o]?.bytes ?? 0), 0), totalBytes };
}

/**
 * A build of this process's own, under dist/ but never dist/<name> itself, which another process may be reading;
 * removed when this process exits. For the commands that load bundles while tests or `npm start` run (`npm run dlq`, `npm run chaos`).
 */
export async function privateBuild(name: BundleName): Promise<Bundle> {
  mkdirSync(path.dirname(bundleDir(name)), { recursive: true });
  const outdir = mkdtempSync(`${bundleDir(name)}-own-`);
  process.on('exit', () => rmSync(outdir, { recursive: true, force: true }));
  return buildFunction(name, outdir);
}

/**
 * The same build, synchronously, copied into `outdir`: CDK's local asset bundling (infra/function-code.ts) calls it
 * while it synthesizes and cannot await, and esbuild plugins need the asynchronous API, so it runs this file's CLI.
 * It builds `dist/<name>/` and copies it (chunk names hash the source maps, whose paths depend on where they are
 * written): the deployed files are then exactly the ones the local runner and the benches load.
 */
export function buildFunctionSync(name: BundleName, outdir: string): void {
  execFileSync(path.join(REPO_ROOT, 'node_modules/.bin/tsx'), [path.join(REPO_ROOT, 'infra/build.ts'), name], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  cpSync(bundleDir(name), outdir, { recursive: true });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const only = process.argv[2];
  const named = BUNDLES.find((b) => b === only);
  if (only !== undefined && !named) throw new Error(`no bundle ${only}: ${BUNDLES.join(', ')}`);
  for (const name of named ? [named] : BUNDLES) {
    const { file, bytes, totalBytes } = await buildFunction(name);
    console.log(
      `${name.padEnd(20)} ${(bytes / 1024).toFixed(0).padStart(5)} KiB loaded at cold start, ${(totalBytes / 1024).toFixed(0).padStart(5)} KiB package  ${path.relative(REPO_ROOT, file)}`,
    );
  }
}
