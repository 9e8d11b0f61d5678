import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Background server processes owned by the stack. A pid file marks what `up` started, so `down` stops only
 * those; the process's command line must still name the stack's state dir, so a recycled pid is never killed.
 */

export interface Launch {
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  logFile: string;
  pidFile: string;
}

/**
 * The servers' environment: this process's, without libfaketime. `npm run test:shifted-clock` moves the test
 * process's clock, never the servers' (under it, the JVM of a CQL server a test starts did not come up in 120 s).
 */
function serverEnvironment(extra: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of Object.keys(env)) if (name === 'LD_PRELOAD' || name.startsWith('FAKETIME')) delete env[name];
  return env;
}

export function launchDetached(launch: Launch): number {
  const out = openSync(launch.logFile, 'a');
  try {
    const child = spawn(launch.command, launch.args, {
      cwd: launch.cwd,
      env: serverEnvironment(launch.env),
      detached: true,
      stdio: ['ignore', out, out],
    });
    if (child.pid === undefined) throw new Error(`could not start ${launch.command}`);
    child.unref();
    writeFileSync(launch.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** The pid recorded in `pidFile` if that process is alive and still ours (its command line names `marker`). */
export function ownedPid(pidFile: string, marker: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // A zombie has an empty command line: it is dead for our purposes.
    if (cmdline.length === 0) return undefined;
    // Or its working directory, where the stack started it (a server's own run dir): moto's command line names
    // only the shared artifacts, not the state dir of a dedicated server.
    return cmdline.includes(marker) || readlinkSync(`/proc/${pid}/cwd`).startsWith(marker) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** `signal` (SIGTERM: wait up to `graceMs` for a clean shutdown), then SIGKILL. Removes the pid file. */
export async function stopProcess(
  pid: number,
  pidFile: string,
  graceMs: number,
  signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM',
): Promise<'stopped' | 'killed'> {
  const alive = () => isAlive(pid);
  let outcome: 'stopped' | 'killed' = 'stopped';
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await sleep(200);
  if (alive()) {
    outcome = 'killed';
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // raced with its own exit
    }
    const killDeadline = Date.now() + 5_000;
    while (alive() && Date.now() < killDeadline) await sleep(100);
  }
  rmSync(pidFile, { force: true });
  return outcome;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** True when something accepts TCP connections on `host`:`port` (bounded by `timeoutMs`). */
export function portInUse(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (inUse: boolean) => {
      socket.destroy();
      resolve(inUse);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function logTail(logFile: string, lines = 40): Promise<string> {
  try {
    const text = await readFile(logFile, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return `(no log at ${logFile})`;
  }
}

/**
 * utime + stime from a /proc stat line, in seconds (USER_HZ is 100 on Linux). The fields are counted after the
 * command name's closing parenthesis: the name itself may hold spaces and parentheses.
 */
function statCpuSeconds(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds of a whole process (all its threads); 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return 0;
  }
}

/** A thread's name, CPU seconds and context switches so far (see `threadStats`). */
export interface ThreadStats {
  name: string;
  seconds: number;
  /** Times it blocked (waited for work, a lock, I/O): for a server's pool, how often its workers parked. */
  voluntarySwitches: number;
}

/**
 * A process's threads by id: for a JVM server, which of its stages, I/O loops, GC or JIT did the work, and how often
 * they parked. The kernel keeps 15 characters of a name; a thread that ends while being read is left out.
 */
export function threadStats(pid: number): Map<number, ThreadStats> {
  const threads = new Map<number, ThreadStats>();
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const task of tasks) {
    try {
      const dir = `/proc/${pid}/task/${task}`;
      const stat = readFileSync(`${dir}/stat`, 'utf8');
      const status = readFileSync(`${dir}/status`, 'utf8');
      threads.set(Number(task), {
        name: /^Name:\s*(.*)$/m.exec(status)?.[1] ?? '',
        seconds: statCpuSeconds(stat),
        voluntarySwitches: Number(/^voluntary_ctxt_switches:\s*(\d+)$/m.exec(status)?.[1] ?? 0),
      });
    } catch {
      // the thread ended while being read
    }
  }
  return threads;
}

/**
 * Read-like and write-like system calls a process has made (`syscr`, `syscw` in /proc/<pid>/io): sockets and files
 * alike. The benches divide them by the statements sent: how many requests each read or write of the CQL
 * connection carried.
 */
export function processSyscalls(pid: number | 'self'): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? 0);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return { reads: 0, writes: 0 };
  }
}
