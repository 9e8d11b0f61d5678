import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addPipelineStack } from '../../../infra/app';
import { ENVIRONMENTS_DIR, parsePipelineConfig } from '../../../infra/config';
import type { PipelineStack } from '../../../infra/pipeline-stack';

/** The example environment's raw JSON, a fresh copy each call so a test can change it. */
type RawConfig = Record<string, unknown> & {
  functions: Record<'identity-linker' | 'navigation-enricher' | 'segment-builder', Record<string, unknown>>;
};

export function exampleConfig(): RawConfig {
  return JSON.parse(readFileSync(path.join(ENVIRONMENTS_DIR, 'example.json'), 'utf8'));
}

export interface Synthesized {
  stack: PipelineStack;
  template: Template;
  outdir: string;
  templateFile: string;
}

/** Synthesizes the app as `cdk synth` does (cdk-nag included) into a fresh cloud assembly directory. */
export function synthesize(raw: unknown = exampleConfig(), amend?: (stack: PipelineStack) => void): Synthesized {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cdk-out-'));
  const app = new App({ outdir });
  const stack = addPipelineStack(app, parsePipelineConfig(raw, 'test config'), 'test');
  amend?.(stack);
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  return {
    stack,
    template: Template.fromJSON(artifact.template),
    outdir,
    templateFile: path.join(outdir, artifact.templateFile),
  };
}
