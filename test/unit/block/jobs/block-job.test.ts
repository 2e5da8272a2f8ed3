import { describe, expect, it } from 'vitest';
import { BlockJob, type BlockJobDriver } from '../../../../src/block/jobs/block-job.js';
import type { JobManager } from '../../../../src/block/jobs/manager.js';
import { isReadyStatus } from '../../../../src/block/jobs/status.js';
import { QmpError } from '../../../../src/qmp/error.js';
import { recordingManager, settle } from './job-fixtures.js';

const LEN = 64 * 1024 * 1024;

/** A mirror-like job: copies everything at once, then idles in ready until completed or cancelled. */
function mirrorDriver(): BlockJobDriver {
  const completing = new Set<BlockJob>();
  return {
    type: 'mirror',
    async run(job) {
      job.setProgressRemaining(LEN);
      job.progress(LEN);
      job.transitionToReady();
      while (!completing.has(job) && !job.cancelRequested) {
        await job.pausePoint();
        if (completing.has(job) || job.cancelRequested) break;
        await job.yield();
      }
    },
    complete(job) {
      completing.add(job);
      job.enter();
    },
    // mirror_cancel(): before ready every cancel is forced
    cancel: (job, force) => force || !isReadyStatus(job.status),
  };
}

async function readyMirror(jobs: JobManager, id = 'm', opts = {}): Promise<BlockJob> {
  const job = new BlockJob(jobs, id, mirrorDriver(), opts);
  job.start();
  await settle();
  return job;
}

describe('BlockJob events', () => {
  it('announces ready and completion as QSD does for a mirror', async () => {
    const { jobs, events, trace } = recordingManager();
    const job = await readyMirror(jobs);
    expect(events.find((e) => e.event === 'BLOCK_JOB_READY')?.data).toEqual({
      type: 'mirror',
      device: 'm',
      len: LEN,
      offset: LEN,
      speed: 0,
    });
    expect(trace()).toEqual(['created', 'running', 'ready', 'BLOCK_JOB_READY']);
    job.complete();
    await job.finished;
    expect(trace()).toEqual(['waiting', 'pending', 'BLOCK_JOB_COMPLETED', 'concluded', 'null']);
  });

  it('announces pending without auto-finalize and completes on job-finalize', async () => {
    const { jobs, events, trace } = recordingManager();
    const job = await readyMirror(jobs, 'm', { autoFinalize: false, autoDismiss: false });
    job.complete();
    await settle();
    expect(trace()).toEqual(['created', 'running', 'ready', 'BLOCK_JOB_READY', 'waiting', 'pending', 'BLOCK_JOB_PENDING']);
    expect(events).toEqual([]);
    job.finalize();
    expect(trace()).toEqual(['BLOCK_JOB_COMPLETED', 'concluded']);
    expect(jobs.queryBlockJobs()[0]).toMatchObject({ status: 'concluded', ready: false, 'auto-finalize': false });
    job.dismiss();
    expect(trace()).toEqual(['null']);
  });

  it('announces a forced cancel as BLOCK_JOB_CANCELLED between aborting and concluded', async () => {
    const { jobs, events, trace } = recordingManager();
    const job = await readyMirror(jobs);
    trace();
    job.userCancel(true);
    await job.finished;
    expect(events.find((e) => e.event === 'BLOCK_JOB_CANCELLED')?.data).toEqual({
      type: 'mirror',
      device: 'm',
      len: LEN,
      offset: LEN,
      speed: 0,
    });
    expect(trace()).toEqual(['aborting', 'BLOCK_JOB_CANCELLED', 'concluded', 'null']);
  });

  it('completes a ready mirror that gets a soft cancel (block-job-cancel without force)', async () => {
    const { jobs, trace } = recordingManager();
    const job = await readyMirror(jobs);
    trace();
    job.blockJobCancel(false);
    await job.finished;
    expect(trace()).toEqual(['waiting', 'pending', 'BLOCK_JOB_COMPLETED', 'concluded', 'null']);
  });

  it('reports a failed block job in BLOCK_JOB_COMPLETED with its error', async () => {
    const { jobs, events } = recordingManager();
    const job = new BlockJob(jobs, 's', {
      type: 'stream',
      async run(j) {
        j.setProgressRemaining(10);
        throw QmpError.generic('Input/output error');
      },
    });
    job.start();
    await job.finished;
    expect(events.map((e) => (e.event === 'JOB_STATUS_CHANGE' ? e.data.status : e.event))).toEqual([
      'created',
      'running',
      'aborting',
      'BLOCK_JOB_COMPLETED',
      'concluded',
      'null',
    ]);
    expect(events.find((e) => e.event === 'BLOCK_JOB_COMPLETED')?.data).toEqual({
      type: 'stream',
      device: 's',
      len: 10,
      offset: 0,
      speed: 0,
      error: 'Input/output error',
    });
  });
});

describe('BlockJob pausing', () => {
  it('goes to standby when a ready job is paused, and back to ready', async () => {
    const { jobs, trace } = recordingManager();
    const job = await readyMirror(jobs);
    trace();
    job.userPause();
    await settle();
    expect(jobs.queryBlockJobs()[0]).toMatchObject({ status: 'standby', paused: true, ready: true, busy: false });
    job.userResume();
    await settle();
    expect(trace()).toEqual(['standby', 'ready']);
    job.complete();
    await job.finished;
  });

  it('pauses for a drained section and resumes when it ends', async () => {
    const { jobs, trace } = recordingManager();
    const job = await readyMirror(jobs);
    trace();
    job.drainedBegin();
    job.drainedBegin();
    await settle();
    job.drainedEnd();
    await settle();
    expect(job.status).toBe('standby');
    job.drainedEnd();
    await settle();
    expect(trace()).toEqual(['standby', 'ready']);
    job.userCancel(true);
    await job.finished;
  });

  it('refuses block-job-cancel without force on a user-paused job, as QEMU does', async () => {
    const { jobs } = recordingManager();
    const job = await readyMirror(jobs);
    job.userPause();
    expect(() => job.blockJobCancel(false)).toThrow("The block job for device 'm' is currently paused");
    job.blockJobCancel(true);
    await job.finished;
    expect(jobs.find('m')).toBeUndefined();
  });
});

describe('BlockJob queries and speed', () => {
  it('lists block jobs in query-block-jobs with QEMU members', async () => {
    const { jobs } = recordingManager();
    const job = await readyMirror(jobs, 'm', { speed: 1024 });
    expect(jobs.queryBlockJobs()).toEqual([
      {
        type: 'mirror',
        device: 'm',
        len: LEN,
        offset: LEN,
        busy: false,
        paused: false,
        speed: 1024,
        'io-status': 'ok',
        ready: true,
        status: 'ready',
        'auto-finalize': true,
        'auto-dismiss': true,
      },
    ]);
    expect(jobs.getBlockJob('m')).toBe(job);
    job.userCancel(true);
    await job.finished;
  });

  it("refuses a negative speed with QEMU's text and refuses set-speed once the job is over", async () => {
    const { jobs } = recordingManager();
    const job = await readyMirror(jobs, 'm', { autoDismiss: false });
    expect(() => job.setSpeed(-1)).toThrow("Parameter 'speed' expects a non-negative value");
    job.setSpeed(4096);
    expect(job.blockInfo().speed).toBe(4096);
    job.complete();
    await job.finished;
    expect(() => job.setSpeed(1)).toThrow("Job 'm' in state 'concluded' cannot accept command verb 'set-speed'");
  });

  it("names the job in permission errors as QEMU does (\"mirror job 'm'\")", async () => {
    const { jobs } = recordingManager();
    const job = await readyMirror(jobs);
    expect(job.describeUser()).toBe("mirror job 'm'");
    job.userCancel(true);
    await job.finished;
  });
});
