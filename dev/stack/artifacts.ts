import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { StackError } from './errors';

/**
 * Fetching and building what the servers run. Every artifact lands in a temporary folder first and is renamed
 * into place only when complete, so an interrupted download is never mistaken for a cached one.
 */

const run = promisify(execFile);

async function exec(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  try {
    return await run(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new StackError(
        'STACK_TOOL_MISSING',
        `${command} is not installed (needed to run: ${command} ${args.join(' ')})`,
        {
          cause: error,
        },
      );
    }
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new StackError('STACK_DOWNLOAD_FAILED', `${command} ${args.join(' ')} failed:\n${output}`, { cause: error });
  }
}

/** The Java the servers run on: $JAVA_HOME/bin/java or `java` on PATH, and it must be 17 or newer. */
export async function findJava(): Promise<string> {
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  let banner: string;
  try {
    banner = (await run(java, ['-version'])).stderr;
  } catch (error) {
    throw new StackError(
      'STACK_TOOL_MISSING',
      `Java 17+ is required for Kafka and the CQL server, and ${java} could not run (install openjdk-17-jre-headless or set JAVA_HOME)`,
      {
        cause: error,
      },
    );
  }
  const major = Number(/version "(\d+)/.exec(banner)?.[1]);
  if (!(major >= 17)) {
    throw new StackError('STACK_TOOL_MISSING', `Java 17+ is required, ${java} is: ${banner.split('\n')[0]}`);
  }
  return java;
}

async function atomically(target: string, build: (tmp: string) => Promise<void>): Promise<string> {
  if (existsSync(target)) return target;
  const tmp = `${target}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await build(tmp);
  renameSync(tmp, target);
  return target;
}

/**
 * A runtime classpath from Maven Central: `mvn dependency:copy-dependencies` over one of the poms in
 * dev/stack/maven. The cache key is the pom's content, so changing a version fetches anew.
 */
export async function mavenClasspath(pom: string, artifactsDir: string): Promise<string> {
  const key = createHash('sha256').update(readFileSync(pom)).digest('hex').slice(0, 12);
  const target = path.join(artifactsDir, `${path.basename(path.dirname(pom))}-jars-${key}`);
  return atomically(target, async (tmp) => {
    await exec('mvn', [
      '-B',
      '-q',
      '-f',
      pom,
      'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${tmp}`,
    ]);
  });
}

/**
 * A Go binary built from the Go module proxy at a pinned version. `go install module@version` is not used:
 * for this module the proxy serves the version but refuses its version list, which `go install` reads to check
 * for deprecation, so we download the module and build it from the module cache instead.
 */
export async function goBinary(module: string, version: string, pkg: string, artifactsDir: string): Promise<string> {
  const name = path.basename(pkg);
  const target = path.join(artifactsDir, `${name}-${version}`);
  await atomically(target, async (tmp) => {
    const { stdout } = await exec('go', ['mod', 'download', '-json', `${module}@${version}`]);
    const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
    if (!dir) throw new StackError('STACK_DOWNLOAD_FAILED', `go mod download ${module}@${version} gave no source dir`);
    await exec('go', ['build', '-trimpath', '-o', path.join(tmp, name), pkg], { cwd: dir, env: { CGO_ENABLED: '0' } });
  });
  return path.join(target, name);
}

/**
 * A locked npm tree installed apart from the project's dependencies (`manifestDir` holds its package.json and
 * package-lock.json), with its install scripts run under `node`: a native addon is built against the Node that will
 * load it. node-gyp takes that Node's headers from its own package (`nodedir`): it would otherwise download them from
 * nodejs.org, which is not a package registry. The cache key is the lockfile and the Node version.
 */
export async function npmTree(
  manifestDir: string,
  node: string,
  artifactsDir: string,
  /** Files the install scripts must have built (relative to the tree), checked before the tree is cached. */
  built: string[] = [],
): Promise<string> {
  const lock = readFileSync(path.join(manifestDir, 'package-lock.json'));
  const { stdout: version } = await exec(node, ['--version']);
  const key = createHash('sha256').update(lock).update(version).digest('hex').slice(0, 12);
  const nodeDir = path.dirname(path.dirname(node));
  return atomically(path.join(artifactsDir, `${path.basename(manifestDir)}-${key}`), async (tmp) => {
    for (const file of ['package.json', 'package-lock.json'])
      copyFileSync(path.join(manifestDir, file), path.join(tmp, file));
    await exec('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: tmp,
      env: { PATH: `${path.dirname(node)}:${process.env.PATH}`, npm_config_nodedir: nodeDir },
    });
    const missing = built.filter((file) => !existsSync(path.join(tmp, file)));
    if (missing.length > 0)
      throw new StackError(
        'STACK_DOWNLOAD_FAILED',
        `npm ci in ${manifestDir} did not build ${missing.join(', ')}: were its install scripts skipped (npm's allowScripts)?`,
      );
  });
}

/**
 * A Python virtualenv with pinned PyPI packages (AWS's own reference tools: moto's server, cfn-lint). The cache key
 * is the package list, so a version bump installs anew. Resolves to the venv's bin directory.
 */
export async function pythonTools(name: string, packages: string[], artifactsDir: string): Promise<string> {
  const key = createHash('sha256').update(packages.join(' ')).digest('hex').slice(0, 12);
  const target = path.join(artifactsDir, `${name}-venv-${key}`);
  // A venv records its own path, so it is built in place (not renamed into place); a marker says it is complete.
  const complete = path.join(target, '.complete');
  if (!existsSync(complete)) {
    rmSync(target, { recursive: true, force: true });
    await exec('python3', ['-m', 'venv', target]);
    await exec(path.join(target, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', ...packages]);
    writeFileSync(complete, packages.join('\n'));
  }
  return path.join(target, 'bin');
}

/**
 * A binary from a Debian package. Installed with apt-get when missing and we are root (a fresh CI machine);
 * otherwise the error says which package to install.
 */
export async function debianBinary(binary: string, pkg: string): Promise<string> {
  const found = ['/usr/bin', '/usr/local/bin', '/usr/sbin'].map((dir) => path.join(dir, binary)).find(existsSync);
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new StackError('STACK_TOOL_MISSING', `${binary} is not installed: run \`sudo apt-get install -y ${pkg}\``);
  }
  await exec('apt-get', ['update', '-qq']);
  await exec('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], {
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
  return debianBinary(binary, pkg);
}
