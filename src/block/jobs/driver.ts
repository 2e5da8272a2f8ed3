/** The interfaces around a Job: what a kind of job does, and where a job reports. */
import type { Logger } from 'pino';
import type { JobType } from '../../qapi/generated/types.js';
import type { Job } from './job.js';

/** What a kind of job does (QEMU's JobDriver); only `run` is required. */
export interface JobDriver<J extends Job = Job> {
  readonly type: JobType;
  /** The body. Its rejection is the job's error. */
  run(job: J): Promise<void>;
  /** job-complete on a ready job (mirror); without it job-complete is refused. */
  complete?(job: J): void;
  /** Decides whether a cancel is forced (soft cancel of a ready mirror); absent: always forced. */
  cancel?(job: J, force: boolean): boolean;
  /** Finalization step that may still fail the job. */
  prepare?(job: J): void;
  commit?(job: J): void;
  abort?(job: J): void;
  clean?(job: J): void;
}

/** The job list and event bus a job reports to (JobManager). */
export interface JobHost {
  readonly log: Logger;
  emit(event: string, data: Record<string, unknown>): void;
  /** Checks the id and lists the job (job_create's checks). */
  add(job: Job): void;
  remove(job: Job): void;
}

export interface JobOptions {
  autoFinalize?: boolean;
  autoDismiss?: boolean;
}
