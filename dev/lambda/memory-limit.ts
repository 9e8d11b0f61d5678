import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The memory limit of a Lambda sandbox: Lambda puts the sandbox (its runtime API process and the runtime) in a
 * memory cgroup sized by MemorySize, kills it at the limit, and reports the cgroup's peak as "Max Memory Used". RIE
 * does neither (its REPORT line prints MemorySize as the peak). Here a child of this process's own memory cgroup
 * does both, when the machine lets us create one (cgroup v1 or a delegated v2 subtree); otherwise the peak is the
 * processes' own high-water marks (VmHWM), which miss the page cache the cgroup would count, and nothing is enforced.
 */
export interface MemoryLimit {
  /** How the limit is applied: `cgroup-v1`, `cgroup-v2`, or `none` (measured from VmHWM, not enforced). */
  readonly kind: 'cgroup-v1' | 'cgroup-v2' | 'none';
  /** Puts a process (and the children it starts later) under the limit. */
  add(pid: number): void;
  /** Peak bytes used since creation, as Lambda's "Max Memory Used" counts them. */
  peakBytes(pids: number[]): number;
  /** Times the limit was hit and a process killed for it (cgroups only). */
  oomKills(): number;
  remove(): void;
}

const MIB = 1024 * 1024;

/** The memory cgroup this process is in, as a directory: v1's memory hierarchy, or the v2 unified one. */
function ownCgroup(): { kind: 'cgroup-v1' | 'cgroup-v2'; dir: string } | undefined {
  // Lines are `id:controllers:path`.
  const entries = readFileSync('/proc/self/cgroup', 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', controllers = '', dir = '/'] = line.split(':');
      return { id, controllers: controllers.split(','), dir };
    });
  const v1 = entries.find((e) => e.controllers.includes('memory'));
  if (v1 && existsSync('/sys/fs/cgroup/memory'))
    return { kind: 'cgroup-v1', dir: path.join('/sys/fs/cgroup/memory', v1.dir) };
  const v2 = entries.find((e) => e.id === '0');
  if (v2 && existsSync('/sys/fs/cgroup/cgroup.controllers'))
    return { kind: 'cgroup-v2', dir: path.join('/sys/fs/cgroup', v2.dir) };
  return undefined;
}

class CgroupLimit implements MemoryLimit {
  constructor(
    readonly kind: 'cgroup-v1' | 'cgroup-v2',
    private readonly dir: string,
  ) {}

  add(pid: number): void {
    writeFileSync(path.join(this.dir, 'cgroup.procs'), String(pid));
  }

  peakBytes(): number {
    const file = this.kind === 'cgroup-v1' ? 'memory.max_usage_in_bytes' : 'memory.peak';
    return Number(readFileSync(path.join(this.dir, file), 'utf8').trim());
  }

  oomKills(): number {
    const file = this.kind === 'cgroup-v1' ? 'memory.oom_control' : 'memory.events';
    const line = readFileSync(path.join(this.dir, file), 'utf8').match(/^oom_kill (\d+)$/m);
    return line ? Number(line[1]) : 0;
  }

  remove(): void {
    try {
      rmdirSync(this.dir); // fails while a process is still in it: the caller stops the sandbox first
    } catch {
      // a leftover empty cgroup is harmless, and the next run uses another name
    }
  }
}

/** Sums the high-water marks of the sandbox's processes that are still alive (the fallback). */
class HighWaterMark implements MemoryLimit {
  readonly kind = 'none' as const;
  private peak = 0;
  add(): void {}
  peakBytes(pids: number[]): number {
    let sum = 0;
    for (const pid of pids) {
      try {
        const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB$/m);
        sum += kb ? Number(kb[1]) * 1024 : 0;
      } catch {
        // exited
      }
    }
    this.peak = Math.max(this.peak, sum);
    return this.peak;
  }
  oomKills(): number {
    return 0;
  }
  remove(): void {}
}

/** A limit of `megabytes` for a new sandbox named `name`; falls back to measuring only (see `MemoryLimit`). */
export function createMemoryLimit(name: string, megabytes: number): MemoryLimit {
  const own = ownCgroup();
  if (!own) return new HighWaterMark();
  const dir = path.join(own.dir, `${name}-${process.pid}-${Date.now().toString(36)}`);
  try {
    mkdirSync(dir);
    const bytes = String(megabytes * MIB);
    if (own.kind === 'cgroup-v1') {
      writeFileSync(path.join(dir, 'memory.limit_in_bytes'), bytes);
      // With swap accounting, the limit must hold memory + swap too, or the sandbox swaps instead of being killed.
      const memsw = path.join(dir, 'memory.memsw.limit_in_bytes');
      if (existsSync(memsw)) writeFileSync(memsw, bytes);
    } else {
      writeFileSync(path.join(dir, 'memory.max'), bytes);
      const swap = path.join(dir, 'memory.swap.max');
      if (existsSync(swap)) writeFileSync(swap, '0');
    }
    return new CgroupLimit(own.kind, dir);
  } catch {
    try {
      rmdirSync(dir);
    } catch {}
    return new HighWaterMark();
  }
}
