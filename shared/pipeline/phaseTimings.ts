import { performance } from 'perf_hooks';

/**
 * Wall-clock time of each phase of a task run, printed as one `Timings:` line so that a slow run
 * says where its time went (and the bench can break the task's overhead down). Phases that run
 * side by side each report their own duration; `total` is from the node process's start.
 */
export class PhaseTimings {
  private readonly phases: Array<{ name: string; ms: number }> = [];

  /** `start`: from the node process's start (performance's time origin) to now: loading the bundle. */
  constructor() {
    this.add('start', performance.now());
  }

  add(name: string, ms: number): void {
    this.phases.push({ name, ms });
  }

  /** Times one phase, whether it succeeds or fails. */
  async time<T>(name: string, work: () => Promise<T> | T): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.add(name, performance.now() - started);
    }
  }

  /** `Timings: start 80 ms, inputs 610 ms, …, total 9210 ms` */
  line(): string {
    const parts = this.phases.map((p) => `${p.name} ${formatMs(p.ms)}`);
    return `Timings: ${[...parts, `total ${formatMs(performance.now())}`].join(', ')}`;
  }
}

function formatMs(ms: number): string {
  return `${Math.round(ms)} ms`;
}

/** The phases of a `Timings:` line, in ms (the bench reads them back). */
export function parseTimingsLine(line: string): Map<string, number> | undefined {
  const m = /^Timings: (.*)$/.exec(line.trim());
  if (!m) return undefined;
  const phases = new Map<string, number>();
  for (const part of m[1].split(', ')) {
    const p = /^(.+) (\d+) ms$/.exec(part);
    if (p) phases.set(p[1], Number(p[2]));
  }
  return phases;
}
