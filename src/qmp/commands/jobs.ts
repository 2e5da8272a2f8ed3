/**
 * The job commands: job-* work on every job (job-qmp.c), block-job-* only on
 * block jobs and name them by `device` (blockdev.c), with a different error
 * class for an unknown id. Each verb's checks and events are in Job.
 */
import type { JobManager } from '../../block/jobs/manager.js';
import type { CommandRegistry } from '../registry.js';

export function registerJobCommands(registry: CommandRegistry, jobs: JobManager): void {
  registry.register('query-jobs', () => jobs.queryJobs());
  registry.register('job-pause', (args) => jobs.get(args.id).userPause());
  registry.register('job-resume', (args) => jobs.get(args.id).userResume());
  // job-cancel is always a forced cancel (qmp_job_cancel)
  registry.register('job-cancel', (args) => jobs.get(args.id).userCancel(true));
  registry.register('job-complete', (args) => jobs.get(args.id).complete());
  registry.register('job-finalize', (args) => jobs.get(args.id).finalize());
  registry.register('job-dismiss', (args) => jobs.get(args.id).dismiss());

  registry.register('query-block-jobs', () => jobs.queryBlockJobs());
  registry.register('block-job-pause', (args) => jobs.getBlockJob(args.device).userPause());
  registry.register('block-job-resume', (args) => jobs.getBlockJob(args.device).userResume());
  registry.register('block-job-cancel', (args) => jobs.getBlockJob(args.device).blockJobCancel(args.force ?? false));
  registry.register('block-job-complete', (args) => jobs.getBlockJob(args.device).complete());
  registry.register('block-job-finalize', (args) => jobs.getBlockJob(args.id).finalize());
  registry.register('block-job-dismiss', (args) => jobs.getBlockJob(args.id).dismiss());
  registry.register('block-job-set-speed', (args) => jobs.getBlockJob(args.device).setSpeed(Number(args.speed)));
}
