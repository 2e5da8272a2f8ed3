/** blockdev-create: starts a `create` job; the reply waits only for the job's checks. */
import { startCreateJob } from '../../block/create/create-job.js';
import type { BlockGraph } from '../../block/graph.js';
import type { JobManager } from '../../block/jobs/manager.js';
import type { CommandRegistry } from '../registry.js';

export function registerBlockdevCreate(registry: CommandRegistry, graph: BlockGraph, jobs: JobManager): void {
  registry.register('blockdev-create', (args) => startCreateJob(jobs, graph, args['job-id'], args.options));
}
