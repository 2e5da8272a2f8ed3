/** The job commands' error texts, QEMU 7.2's verbatim (job.c, job-qmp.c, blockdev.c). */
import { QmpError } from '../../qmp/error.js';
import type { JobStatus, JobVerb } from './status.js';

export const jobErrors = {
  /** job-* commands (job-qmp.c find_job) */
  notFound: () => QmpError.generic('Job not found'),
  /** block-job-* commands (blockdev.c find_block_job) */
  blockJobNotFound: (id: string) => new QmpError('DeviceNotActive', `Block job '${id}' not found`),
  verbRefused: (id: string, status: JobStatus, verb: JobVerb) =>
    QmpError.generic(`Job '${id}' in state '${status}' cannot accept command verb '${verb}'`),
  invalidId: (id: string) => QmpError.generic(`Invalid job ID '${id}'`),
  idInUse: (id: string) => QmpError.generic(`Job ID '${id}' already in use`),
  alreadyPaused: () => QmpError.generic('Job is already paused'),
  notPaused: () => QmpError.generic("Can't resume a job that was not paused"),
  cannotComplete: (id: string) => QmpError.generic(`The active block job '${id}' cannot be completed`),
  blockJobPaused: (device: string) => QmpError.generic(`The block job for device '${device}' is currently paused`),
  negativeSpeed: () => QmpError.generic("Parameter 'speed' expects a non-negative value"),
} as const;

/** strerror(ECANCELED): the error of a job that was cancelled (query-jobs, BLOCK_JOB_COMPLETED). */
export const CANCELLED_TEXT = 'Operation canceled';
