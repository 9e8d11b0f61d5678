import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { cdkSynth, readFunctions } from '../../../dev/lambda/template';
import { loadStackConfig } from '../../../dev/stack/config';
import { cfnLintBinary } from '../../../dev/stack/stack';
import { FUNCTIONS, type FunctionName } from '../../../functions/catalog';
import { buildFunction } from '../../../infra/build';
import { loadPipelineConfig } from '../../../infra/config';
import { synthesize, withFailedBatchesTo } from './synth';

/** cfn-lint's exit code is a bit mask: 2 = errors, 4 = warnings, 8 = informational. */
const ERRORS = 2;

async function lint(templateFile: string): Promise<{ errors: boolean; rules: string[] }> {
  const bin = await cfnLintBinary(loadStackConfig());
  const result = await promisify(execFile)(bin, ['--format', 'parseable', templateFile]).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );
  // parseable lines: file:line:col:endline:endcol:RULE:message
  const rules = result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(':')[5] ?? line);
  return { errors: (result.code & ERRORS) !== 0, rules };
}

/** What `cdk synth` (the CLI, offline, the functions bundled) writes: run once, in a child process awaited. */
let cli: string;
beforeAll(async () => {
  cli = await cdkSynth(mkdtempSync(path.join(tmpdir(), 'cdk-cli-')));
}, 600_000);

describe('the deployed bundles', () => {
  it('deploys byte for byte the bundle that infra/build.ts builds for the local runner', async () => {
    const deployed = readFunctions(cli);
    for (const name of FUNCTIONS) {
      const asset = deployed.get(name)?.assetDir ?? 'missing';
      const { file } = await buildFunction(name);
      const dist = path.dirname(file);
      const files = (dir: string) => readdirSync(dir).sort();
      expect(files(asset)).toEqual(files(dist));
      expect(files(asset)).toContain('index.mjs');
      for (const f of files(asset))
        expect(readFileSync(path.join(asset, f)).equals(readFileSync(path.join(dist, f)))).toBe(true);
      expect(readFileSync(path.join(asset, 'index.mjs.map')).length).toBeGreaterThan(0);
    }
  }, 120_000);
});

describe('the event-source mappings, as the local mapping reads them from the template', () => {
  it("gives each function its deployed batch settings and controls, AWS's defaults where the template is silent", () => {
    const example = loadPipelineConfig('example');
    for (const [name, definition] of readFunctions(cli)) {
      const configured = example.functions[name as FunctionName];
      expect(definition.mapping).toEqual({
        topic: configured.topic,
        batchSize: configured.batchSize,
        batchingWindowMs: 1_000,
        // Infinite retries and no record age: the template leaves both out, which AWS reads as -1.
        controls: { maximumRetryAttempts: -1, maximumRecordAgeSeconds: -1, bisectBatchOnFunctionError: false },
        reportBatchItemFailures: true,
        onFailure: undefined,
      });
    }
    const withS3 = readFunctions(synthesize(withFailedBatchesTo('s3'), undefined, { assetMetadata: true }).outdir);
    expect(withS3.get('segment-builder')?.mapping.onFailure).toBe('s3');
  });
});

describe('cfn-lint over the synthesized templates', () => {
  it('finds no error in what `cdk synth` writes (the CLI, offline), nor with failed batches to S3, nor in the self-managed Kafka variant', async () => {
    const selfManaged = withFailedBatchesTo('sqs');
    selfManaged.kafka = {
      type: 'self-managed',
      bootstrapServers: ['b-1.kafka.internal:9096'],
      secretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:kafka-scram-AbCdEf',
    };
    const variants = [synthesize(withFailedBatchesTo('s3')).outdir, synthesize(selfManaged).outdir];
    for (const outdir of [cli, ...variants]) {
      const templates = readdirSync(outdir).filter((file) => file.endsWith('.template.json'));
      expect(templates.length).toBeGreaterThan(0);
      for (const template of templates) {
        const { errors, rules } = await lint(path.join(outdir, template));
        expect(errors, rules.join('\n')).toBe(false);
        // The only warning: W3005, a DependsOn CDK itself writes (role policy before function). Anything new shows.
        expect(new Set(rules.filter((rule) => rule !== 'W3005'))).toEqual(new Set());
      }
    }
  }, 600_000);

  it('reports an error it should (the harness is not blind): an unknown Lambda runtime', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cfn-lint-')), 'broken.template.json');
    writeFileSync(
      file,
      JSON.stringify({
        Resources: {
          Fn: {
            Type: 'AWS::Lambda::Function',
            Properties: {
              Runtime: 'nodejs99.x',
              Handler: 'index.handler',
              Role: 'arn:aws:iam::111122223333:role/r',
              Code: { ZipFile: 'x' },
            },
          },
        },
      }),
    );
    const { errors, rules } = await lint(file);
    expect(errors).toBe(true);
    expect(rules).toContain('E3030');
  }, 600_000);
});
