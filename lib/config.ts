import { ConfigError } from './errors';

/**
 * Reading typed values out of an environment-like map, once, at cold start. Every failure names the key, so a
 * bad deployment fails its first invocation with a message an operator can act on.
 */
export type Env = Readonly<Record<string, string | undefined>>;

export function requireString(env: Env, key: string): string {
  const value = env[key]?.trim();
  if (!value) throw new ConfigError(key, 'is required');
  return value;
}

export function optionalString(env: Env, key: string): string | undefined {
  const value = env[key]?.trim();
  return value ? value : undefined;
}

export function integer(env: Env, key: string, fallback: number, range: { min: number; max: number }): number {
  const raw = env[key]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new ConfigError(key, `must be an integer from ${range.min} to ${range.max}, got "${raw}"`);
  }
  return value;
}

export function oneOf<T extends string>(env: Env, key: string, choices: readonly T[], fallback: T): T {
  const raw = env[key]?.trim();
  if (!raw) return fallback;
  const value = choices.find((choice) => choice.toLowerCase() === raw.toLowerCase());
  if (value === undefined) throw new ConfigError(key, `must be one of ${choices.join(', ')}, got "${raw}"`);
  return value;
}

/**
 * The words people write for a switch, in any case: shell users write on/off or 1/0, CloudFormation and CDK users
 * `"true"`, YAML habits bring yes/no. Anything else is refused with the key's name rather than read as off.
 */
const SWITCH_WORDS: Readonly<Record<string, boolean>> = {
  true: true,
  false: false,
  on: true,
  off: false,
  yes: true,
  no: false,
  '1': true,
  '0': false,
};

export function flag(env: Env, key: string, fallback: boolean): boolean {
  const raw = env[key]?.trim();
  if (!raw) return fallback;
  const value = SWITCH_WORDS[raw.toLowerCase()];
  if (value === undefined) throw new ConfigError(key, `must be one of true/false, on/off, yes/no, 1/0, got "${raw}"`);
  return value;
}

export function list(env: Env, key: string): string[] {
  return requireString(env, key)
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}
