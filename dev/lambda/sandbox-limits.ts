import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

/**
 * The resources of a Lambda sandbox. Lambda puts the sandbox (its runtime API process and the runtime) in a cgroup
 * sized by MemorySize: memory is capped there (the sandbox is killed at the limit, and "Max Memory Used" is the
 * cgroup's peak), and CPU is given in proportion to memory, one vCPU at 1,769 MB (up to 6 at 10,240 MB). RIE does
 * neither (its REPORT line prints MemorySize as the peak). Here children of this process's own cgroups do both, when
 * the machine lets us create them (cgroup v1 controllers, or a delegated v2 subtree); otherwise the peak is the
 * processes' own high-water marks (VmHWM), which miss the page cache a cgroup counts, and nothing is enforced.
 */
export interface SandboxLimits {
  /** How memory is limited: `cgroup-v1`, `cgroup-v2`, or `none` (measured from VmHWM, not enforced). */
  readonly memory: 'cgroup-v1' | 'cgroup-v2' | 'none';
  /** The CPU share applied (vCPUs), or undefined when no CPU cgroup could be made. */
  readonly vcpus: number | undefined;
  /** Puts a process (and the children it starts later) under the limits. */
  add(pid: number): void;
  /** Peak bytes used since creation, as Lambda's "Max Memory Used" counts them. */
  peakBytes(pids: number[]): number;
  /** Times the memory limit was hit and a process killed for it (cgroups only). */
  oomKills(): number;
  remove(): void;
}

const MIB = 1024 * 1024;
/** Lambda: "at 1,769 MB, a function has the equivalent of one vCPU". */
const MB_PER_VCPU = 1_769;
const CPU_PERIOD_US = 100_000;

type Kind = 'cgroup-v1' | 'cgroup-v2';

/** The cgroup directory this process is in for `controller`: v1's hierarchy of it, or the v2 unified one. */
function ownCgroup(controller: 'memory' | 'cpu'): { kind: Kind; dir: string } | undefined {
  // Lines are `id:controllers:path`.
  const entries = readFileSync('/proc/self/cgroup', 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', controllers = '', dir = '/'] = line.split(':');
      return { id, controllers: controllers.split(','), dir };
    });
  const v1 = entries.find((e) => e.controllers.includes(controller));
  if (v1 && existsSync(`/sys/fs/cgroup/${controller}`))
    return { kind: 'cgroup-v1', dir: path.join(`/sys/fs/cgroup/${controller}`, v1.dir) };
  const v2 = entries.find((e) => e.id === '0');
  if (v2 && existsSync('/sys/fs/cgroup/cgroup.controllers'))
    return { kind: 'cgroup-v2', dir: path.join('/sys/fs/cgroup', v2.dir) };
  return undefined;
}

/** A new child cgroup set up by `setup`, or undefined (and nothing left behind) when the machine refuses. */
function childCgroup(parent: { kind: Kind; dir: string } | undefined, name: string, setup: (dir: string) => void) {
  if (!parent) return undefined;
  const dir = path.join(parent.dir, name);
  try {
    mkdirSync(dir);
    setup(dir);
    return { kind: parent.kind, dir };
  } catch {
    try {
      rmdirSync(dir);
    } catch {}
    return undefined;
  }
}

function writeIfPresent(file: string, value: string): void {
  if (existsSync(file)) writeFileSync(file, value);
}

/** Sums the high-water marks of the sandbox's processes that are still alive (the fallback). */
function highWaterMark(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB$/m);
      sum += kb ? Number(kb[1]) * 1024 : 0;
    } catch {
      // exited
    }
  }
  return sum;
}

/** The limits of a new sandbox named `name` with `memoryMb` of memory (see `SandboxLimits`). */
export function createSandboxLimits(name: string, memoryMb: number): SandboxLimits {
  const unique = `${name}-${process.pid}-${Date.now().toString(36)}`;
  const bytes = String(memoryMb * MIB);
  const memory = childCgroup(ownCgroup('memory'), unique, (dir) => {
    if (existsSync(path.join(dir, 'memory.limit_in_bytes'))) {
      writeFileSync(path.join(dir, 'memory.limit_in_bytes'), bytes);
      // With swap accounting, memory + swap is capped too, or the sandbox would swap instead of being killed.
      writeIfPresent(path.join(dir, 'memory.memsw.limit_in_bytes'), bytes);
    } else {
      writeFileSync(path.join(dir, 'memory.max'), bytes);
      writeIfPresent(path.join(dir, 'memory.swap.max'), '0');
    }
  });
  const vcpus = Math.min(memoryMb / MB_PER_VCPU, 6, availableParallelism());
  const quota = String(Math.round(CPU_PERIOD_US * vcpus));
  let cpu: { kind: Kind; dir: string } | undefined;
  if (memory?.kind === 'cgroup-v2') {
    // One hierarchy: the memory cgroup above carries cpu.max too, when the cpu controller is delegated to it.
    const max = path.join(memory.dir, 'cpu.max');
    if (existsSync(max)) {
      writeFileSync(max, `${quota} ${CPU_PERIOD_US}`);
      cpu = memory;
    }
  } else {
    cpu = childCgroup(ownCgroup('cpu'), unique, (dir) => {
      writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), quota);
    });
  }
  let fallbackPeak = 0;
  return {
    memory: memory?.kind ?? 'none',
    vcpus: cpu ? vcpus : undefined,
    add(pid) {
      for (const group of new Set([memory, cpu]))
        if (group) writeFileSync(path.join(group.dir, 'cgroup.procs'), String(pid));
    },
    peakBytes(pids) {
      if (!memory) {
        fallbackPeak = Math.max(fallbackPeak, highWaterMark(pids));
        return fallbackPeak;
      }
      const file = memory.kind === 'cgroup-v1' ? 'memory.max_usage_in_bytes' : 'memory.peak';
      return Number(readFileSync(path.join(memory.dir, file), 'utf8').trim());
    },
    oomKills() {
      if (!memory) return 0;
      const file = memory.kind === 'cgroup-v1' ? 'memory.oom_control' : 'memory.events';
      const line = readFileSync(path.join(memory.dir, file), 'utf8').match(/^oom_kill (\d+)$/m);
      return line ? Number(line[1]) : 0;
    },
    remove() {
      for (const group of new Set([memory, cpu])) {
        try {
          if (group) rmdirSync(group.dir); // fails while a process is still in it: the sandbox is stopped first
        } catch {
          // a leftover empty cgroup is harmless, and the next sandbox uses another name
        }
      }
    },
  };
}
