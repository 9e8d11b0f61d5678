import path from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import { type BundleName, buildFunctionSync, entryPoint } from './build';

/**
 * A function's deployment package, built by the project's one esbuild configuration (infra/build.ts) through CDK's
 * local asset bundling, so what `cdk deploy` uploads is byte for byte what the local runner and the benches invoke.
 *
 * Why not `NodejsFunction`: it runs its own esbuild command line built from its own options, a second build
 * configuration that could drift from infra/build.ts (ESM banner, adm-zip stub, externals). This is the mechanism
 * `NodejsFunction` itself uses (a local bundler with the asset hashed by its output), minus that second config.
 */
export function functionCode(name: BundleName): Code {
  return Code.fromAsset(path.dirname(entryPoint(name)), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: the local bundler below always succeeds or throws. CDK requires an image to fall back to.
      image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs24.x'),
      local: {
        tryBundle(outputDir) {
          buildFunctionSync(name, outputDir);
          return true;
        },
      },
    },
  });
}
