/**
 * The daemon's jobs: ids, the list query-jobs shows (newest first, as QEMU
 * inserts at the head of its job list), the lookups of the job-* and
 * block-job-* commands, and shutdown.
 */
import type { Logger } from 'pino';
import type { BlockJobInfo, JobInfo } from '../../qapi/generated/types.js';
import { isWellFormedId } from '../graph.js';
import { BlockJob } from './block-job.js';
import { jobErrors } from './errors.js';
import type { Job, JobHost } from './job.js';

/** Where events go (the EventBus). */
export interface EventSink {
  emit(name: string, data?: unknown): void;
}

export class JobManager implements JobHost {
  /** Newest first. */
  private readonly jobs: Job[] = [];

  constructor(
    private readonly events: EventSink,
    readonly log: Logger,
  ) {}

  emit(event: string, data: Record<string, unknown>): void {
    this.events.emit(event, data);
  }

  /** job_create()'s id checks, then the job is listed. */
  add(job: Job): void {
    if (!isWellFormedId(job.id)) throw jobErrors.invalidId(job.id);
    if (this.find(job.id)) throw jobErrors.idInUse(job.id);
    this.jobs.unshift(job);
  }

  remove(job: Job): void {
    const i = this.jobs.indexOf(job);
    if (i >= 0) this.jobs.splice(i, 1);
  }

  find(id: string): Job | undefined {
    return this.jobs.find((j) => j.id === id);
  }

  /** For job-*: any job. */
  get(id: string): Job {
    const job = this.find(id);
    if (!job) throw jobErrors.notFound();
    return job;
  }

  /** For block-job-*: only block jobs, and a different error class. */
  getBlockJob(id: string): BlockJob {
    const job = this.find(id);
    if (!(job instanceof BlockJob)) throw jobErrors.blockJobNotFound(id);
    return job;
  }

  list(): readonly Job[] {
    return this.jobs;
  }

  queryJobs(): JobInfo[] {
    return this.jobs.map((j) => j.info());
  }

  queryBlockJobs(): BlockJobInfo[] {
    return this.jobs.filter((j): j is BlockJob => j instanceof BlockJob).map((j) => j.blockInfo());
  }

  /**
   * Daemon shutdown (job_cancel_sync_all): force-cancels every job and waits
   * until each has concluded, so that nothing still writes when nodes close.
   */
  async cancelAll(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const job of [...this.jobs]) {
      if (job.status === 'concluded') continue;
      waits.push(job.finished);
      job.cancel(true);
    }
    await Promise.all(waits);
  }
}
