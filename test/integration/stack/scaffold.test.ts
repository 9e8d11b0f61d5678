import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../../dev/stack/config';
import { REPO_ROOT } from '../../../infra/repo-root';

const run = promisify(execFile);

/**
 * `npm run new` as a team would use it, in a clone of this repository (its committed state): the new function's own
 * test passes at once against the local stack, `cdk synth` deploys it with its mapping and dashboard, and nothing
 * outside its folder and the catalog changed.
 */
describe('npm run new -- page-views --topic page-views', () => {
  it('scaffolds a function that passes its own test and deploys, touching only its folder and the catalog', async () => {
    const clone = path.join(await mkdtemp(path.join(tmpdir(), 'scaffold-')), 'repo');
    await run('git', ['clone', '--quiet', '--no-hardlinks', REPO_ROOT, clone]);
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(clone, 'node_modules'));
    // The clone's tests reach the same local stack (its servers, its credentials and CA).
    const env = { ...process.env, STACK_HOME: loadStackConfig().home, NO_COLOR: '1', FORCE_COLOR: '0' };
    const inClone = (command: string, args: string[]) => run(command, args, { cwd: clone, env, maxBuffer: 1 << 26 });

    await inClone('npx', ['tsx', 'dev/new-function.ts', 'page-views', '--topic', 'page-views']);
    const { stdout: status } = await inClone('git', ['status', '--porcelain', '--untracked-files=all']);
    expect(status.split('\n').filter(Boolean).sort()).toEqual([
      ' M functions/catalog.ts',
      '?? functions/page-views/definition.ts',
      '?? functions/page-views/handler.ts',
      '?? functions/page-views/migrations.ts',
      '?? functions/page-views/page-views.test.ts',
    ]);

    const { stdout: tested } = await inClone('npx', ['vitest', 'run', 'functions/page-views']);
    expect(tested).toMatch(/Tests\s+1 passed/);

    // The app as `cdk synth` runs it (infra/app.ts, cdk-nag included), without bundling: the bundles are checked in
    // cdk-cli.test.ts, and the CLI refuses the context key that turns bundling off.
    mkdirSync(path.join(clone, 'cdk.out'));
    const synth = path.join(clone, 'cdk.out', 'synth.ts'); // ignored by git, resolves the clone's dependencies
    writeFileSync(
      synth,
      `import { App } from 'aws-cdk-lib';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { addPipelineStack } from '../infra/app';
import { loadPipelineConfig } from '../infra/config';
const app = new App({ outdir: 'cdk.out', context: { [BUNDLING_STACKS]: [] } });
addPipelineStack(app, loadPipelineConfig('example'), 'example');
app.synth();
`,
    );
    await inClone('npx', ['tsx', synth]);
    const template = JSON.parse(readFileSync(path.join(clone, 'cdk.out', 'pipeline-example.template.json'), 'utf8'));
    const resources = Object.values(template.Resources) as { Type: string; Properties: Record<string, unknown> }[];
    const tagged = resources.filter(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        (r.Properties.Tags as { Key: string; Value: string }[]).some(
          (t) => t.Key === 'processor' && t.Value === 'page-views',
        ),
    );
    expect(tagged).toHaveLength(1);
    const mapping = resources.find(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping' && JSON.stringify(r.Properties.Topics) === '["page-views"]',
    );
    expect(mapping?.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    const dashboard = resources.find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    expect(JSON.stringify(dashboard)).toContain('page-views');
  }, 600_000);
});
