/** Test helpers for jobs: a recording event sink, and job bodies the test steps by hand. */
import type { Job, JobDriver } from '../../../../src/block/jobs/job.js';
import { JobManager } from '../../../../src/block/jobs/manager.js';
import { silentLogger } from '../../../../src/log.js';
import { QmpError } from '../../../../src/qmp/error.js';

export interface Recorded {
  event: string;
  data: Record<string, unknown>;
}

export function recordingManager(): { jobs: JobManager; events: Recorded[]; trace: () => string[] } {
  const events: Recorded[] = [];
  const jobs = new JobManager({ emit: (event, data) => events.push({ event, data: data as Record<string, unknown> }) }, silentLogger());
  /** JOB_STATUS_CHANGE as its status, other events by name; the list is emptied. */
  const trace = () =>
    events.splice(0).map((e) => (e.event === 'JOB_STATUS_CHANGE' ? String(e.data.status) : e.event));
  return { jobs, events, trace };
}

/** Lets every pending promise callback run (no timers involved). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A gate the test opens one step at a time. */
export class Stepper {
  private waiters: (() => void)[] = [];
  private credits = 0;

  step(n = 1): void {
    this.credits += n;
    while (this.credits > 0 && this.waiters.length > 0) {
      this.credits--;
      this.waiters.shift()!();
    }
  }

  next(): Promise<void> {
    if (this.credits > 0) {
      this.credits--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

export interface SteppedOptions {
  steps: number;
  /** throw this error text when this step is reached */
  failAt?: number;
  message?: string;
  /** where the command that started the job may reply (default: before the first step) */
  yieldAt?: number;
}

/** A body of `steps` steps with a pause point before each; it stops early when cancelled. */
export function steppedDriver(stepper: Stepper, opts: SteppedOptions, extra: Partial<JobDriver> = {}): JobDriver {
  return {
    type: 'create',
    async run(job: Job) {
      job.setProgressRemaining(opts.steps);
      for (let i = 0; i < opts.steps; i++) {
        if (i === (opts.yieldAt ?? 0)) job.yieldToMonitor();
        if (i === opts.failAt) throw QmpError.generic(opts.message ?? 'failed');
        await job.pausePoint();
        if (job.cancelRequested) return;
        await stepper.next();
        job.progress(1);
      }
    },
    ...extra,
  };
}
