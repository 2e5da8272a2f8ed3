/**
 * blockdev-create (block/create.c): a job of type `create` that runs one
 * driver's creation. The driver is checked before the job exists; every
 * other failure is the job's error, shown by query-jobs. Create jobs are
 * finalized automatically and wait in `concluded` for job-dismiss.
 */
import type {
  BlockdevCreateOptions,
  BlockdevCreateOptionsFile,
  BlockdevCreateOptionsQcow2,
  BlockdevDriver,
} from '../../qapi/generated/types.js';
import { QmpError } from '../../qmp/error.js';
import type { BlockGraph } from '../graph.js';
import { Job, type JobDriver } from '../jobs/job.js';
import type { JobManager } from '../jobs/manager.js';
import { createFile } from './file.js';
import { createQcow2 } from './qcow2.js';

type Creator = (job: Job, graph: BlockGraph, options: BlockdevCreateOptions) => Promise<void>;

const CREATORS: Partial<Record<BlockdevDriver, Creator>> = {
  file: (job, graph, o) => createFile(job, graph, o as BlockdevCreateOptionsFile),
  qcow2: (job, graph, o) => createQcow2(job, graph, o as BlockdevCreateOptionsQcow2),
};

/** Drivers with a creation branch in QEMU 7.2's BlockdevCreateOptions that qmpd cannot create. */
const QEMU_ONLY = new Set<BlockdevDriver>([
  'gluster', 'luks', 'nfs', 'parallels', 'qcow', 'qed', 'rbd', 'ssh', 'vdi', 'vhdx', 'vmdk', 'vpc',
]);

/** qmp_blockdev_create()'s checks before the job is created. */
function creatorFor(driver: BlockdevDriver): Creator {
  const creator = CREATORS[driver];
  if (creator) return creator;
  // QEMU's text for a driver that is not built in
  if (QEMU_ONLY.has(driver)) throw QmpError.generic(`Block driver '${driver}' not found or not supported`);
  throw QmpError.generic('Driver does not support blockdev-create');
}

/**
 * Creates and starts the job. The returned promise resolves when the command
 * may reply: at the job's first real I/O, or after a failure found before it
 * (whose events then precede the reply, as in QSD).
 */
export function startCreateJob(
  jobs: JobManager,
  graph: BlockGraph,
  jobId: string,
  options: BlockdevCreateOptions,
): Promise<void> {
  const creator = creatorFor(options.driver);
  const driver: JobDriver = {
    type: 'create',
    async run(job) {
      job.setProgressRemaining(1);
      try {
        await creator(job, graph, options);
      } finally {
        job.progress(1);
      }
    },
  };
  const job = new Job(jobs, jobId, driver, { autoFinalize: true, autoDismiss: false });
  job.start();
  return job.monitorReleased;
}
