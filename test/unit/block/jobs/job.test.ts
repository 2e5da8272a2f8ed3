import { describe, expect, it } from 'vitest';
import { Job } from '../../../../src/block/jobs/job.js';
import { QmpError } from '../../../../src/qmp/error.js';
import { recordingManager, settle, steppedDriver, Stepper } from './job-fixtures.js';

function qmpDesc(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof QmpError) return `${err.errorClass}: ${err.desc}`;
    throw err;
  }
  throw new Error('no error');
}

describe('Job lifecycle', () => {
  it('goes created, running, waiting, pending, concluded and stays concluded without auto-dismiss', async () => {
    const { jobs, trace } = recordingManager();
    const stepper = new Stepper();
    const job = new Job(jobs, 'j1', steppedDriver(stepper, { steps: 2 }), { autoDismiss: false });
    job.start();
    expect(trace()).toEqual(['created', 'running']);
    stepper.step(2);
    await job.finished;
    expect(trace()).toEqual(['waiting', 'pending', 'concluded']);
    expect(job.info()).toEqual({ id: 'j1', type: 'create', status: 'concluded', 'current-progress': 2, 'total-progress': 2 });
    job.dismiss();
    expect(trace()).toEqual(['null']);
    expect(jobs.find('j1')).toBeUndefined();
  });

  it('dismisses itself at once with auto-dismiss', async () => {
    const { jobs, trace } = recordingManager();
    const stepper = new Stepper();
    stepper.step(1);
    const job = new Job(jobs, 'j1', steppedDriver(stepper, { steps: 1 }));
    job.start();
    await job.finished;
    expect(trace()).toEqual(['created', 'running', 'waiting', 'pending', 'concluded', 'null']);
    expect(jobs.queryJobs()).toEqual([]);
  });

  it('records a failure as aborting then concluded, with the error in query-jobs', async () => {
    const { jobs, trace } = recordingManager();
    const job = new Job(jobs, 'j1', steppedDriver(new Stepper(), { steps: 3, failAt: 0, message: 'Could not create' }), {
      autoDismiss: false,
    });
    job.start();
    await job.finished;
    expect(trace()).toEqual(['created', 'running', 'aborting', 'concluded']);
    expect(jobs.queryJobs()).toEqual([
      { id: 'j1', type: 'create', status: 'concluded', 'current-progress': 0, 'total-progress': 3, error: 'Could not create' },
    ]);
  });

  it('releases the monitor only after the events of a failure that came before the first yield', async () => {
    const { jobs, trace } = recordingManager();
    const job = new Job(jobs, 'j1', steppedDriver(new Stepper(), { steps: 2, failAt: 0, yieldAt: 1 }), { autoDismiss: false });
    job.start();
    let released = false;
    void job.monitorReleased.then(() => (released = true));
    await settle();
    expect(released).toBe(true);
    expect(trace()).toEqual(['created', 'running', 'aborting', 'concluded']);
  });

  it('releases the monitor at the first yield while the body goes on', async () => {
    const { jobs, trace } = recordingManager();
    const stepper = new Stepper();
    const job = new Job(jobs, 'j1', steppedDriver(stepper, { steps: 1 }), { autoDismiss: false });
    job.start();
    await job.monitorReleased;
    expect(job.status).toBe('running');
    stepper.step();
    await job.finished;
    expect(trace()).toEqual(['created', 'running', 'waiting', 'pending', 'concluded']);
  });

  it('lists jobs newest first', () => {
    const { jobs } = recordingManager();
    new Job(jobs, 'a', steppedDriver(new Stepper(), { steps: 1 }));
    new Job(jobs, 'b', steppedDriver(new Stepper(), { steps: 1 }));
    expect(jobs.queryJobs().map((j) => j.id)).toEqual(['b', 'a']);
  });
});

describe('Job ids', () => {
  it('refuses ids that are not well formed and ids in use, with QEMU texts', () => {
    const { jobs } = recordingManager();
    new Job(jobs, 'j1', steppedDriver(new Stepper(), { steps: 1 }));
    expect(qmpDesc(() => new Job(jobs, '1x', steppedDriver(new Stepper(), { steps: 1 })))).toBe("GenericError: Invalid job ID '1x'");
    expect(qmpDesc(() => new Job(jobs, '', steppedDriver(new Stepper(), { steps: 1 })))).toBe("GenericError: Invalid job ID ''");
    expect(qmpDesc(() => new Job(jobs, 'j1', steppedDriver(new Stepper(), { steps: 1 })))).toBe(
      "GenericError: Job ID 'j1' already in use",
    );
  });

  it('says "Job not found" for job-* lookups and DeviceNotActive for block-job-* lookups', () => {
    const { jobs } = recordingManager();
    new Job(jobs, 'c', steppedDriver(new Stepper(), { steps: 1 }));
    expect(qmpDesc(() => jobs.get('nosuch'))).toBe('GenericError: Job not found');
    expect(qmpDesc(() => jobs.getBlockJob('c'))).toBe("DeviceNotActive: Block job 'c' not found");
    expect(jobs.queryBlockJobs()).toEqual([]);
  });
});

describe('Job verbs', () => {
  it('refuses verbs in the wrong status with QEMU text', async () => {
    const { jobs } = recordingManager();
    const stepper = new Stepper();
    stepper.step();
    const job = new Job(jobs, 'f', steppedDriver(stepper, { steps: 1 }), { autoDismiss: false });
    job.start();
    expect(qmpDesc(() => job.complete())).toBe("GenericError: Job 'f' in state 'running' cannot accept command verb 'complete'");
    expect(qmpDesc(() => job.finalize())).toBe("GenericError: Job 'f' in state 'running' cannot accept command verb 'finalize'");
    expect(qmpDesc(() => job.dismiss())).toBe("GenericError: Job 'f' in state 'running' cannot accept command verb 'dismiss'");
    await job.finished;
    for (const verb of ['pause', 'complete', 'finalize'] as const) {
      const call = { pause: () => job.userPause(), complete: () => job.complete(), finalize: () => job.finalize() }[verb];
      expect(qmpDesc(call)).toBe(`GenericError: Job 'f' in state 'concluded' cannot accept command verb '${verb}'`);
    }
    expect(qmpDesc(() => job.userCancel(true))).toBe("GenericError: Job 'f' in state 'concluded' cannot accept command verb 'cancel'");
    // resume checks "was it paused" before the verb table, as QEMU does
    expect(qmpDesc(() => job.userResume())).toBe("GenericError: Can't resume a job that was not paused");
  });

  it('refuses job-complete for a ready job whose driver cannot complete', async () => {
    const { jobs } = recordingManager();
    const job = new Job(jobs, 'r', {
      type: 'commit',
      async run(j) {
        j.transitionToReady();
        await j.yield();
      },
    });
    job.start();
    await settle();
    expect(job.status).toBe('ready');
    expect(qmpDesc(() => job.complete())).toBe("GenericError: The active block job 'r' cannot be completed");
    job.userCancel(true);
    await job.finished;
  });
});

describe('Job pausing', () => {
  it('parks a user-paused job at its next pause point and resumes it', async () => {
    const { jobs, trace } = recordingManager();
    const stepper = new Stepper();
    const job = new Job(jobs, 'p', steppedDriver(stepper, { steps: 2 }), { autoDismiss: false });
    job.start();
    await settle();
    job.userPause();
    expect(qmpDesc(() => job.userPause())).toBe('GenericError: Job is already paused');
    expect(job.status).toBe('running');
    stepper.step();
    await settle();
    expect(job.status).toBe('paused');
    expect(job.busy).toBe(false);
    job.userResume();
    await settle();
    expect(job.status).toBe('running');
    stepper.step();
    await job.finished;
    expect(trace()).toEqual(['created', 'running', 'paused', 'running', 'waiting', 'pending', 'concluded']);
  });

  it('counts drained-section pauses and user pauses separately', async () => {
    const { jobs } = recordingManager();
    const stepper = new Stepper();
    const job = new Job(jobs, 'p', steppedDriver(stepper, { steps: 3 }), { autoDismiss: false });
    job.start();
    job.pause(); // a drained section
    job.userPause();
    stepper.step();
    await settle();
    expect(job.status).toBe('paused');
    job.userResume();
    await settle();
    expect(job.status).toBe('paused'); // still drained
    expect(job.isPaused).toBe(true);
    job.resume();
    await settle();
    expect(job.status).toBe('running');
    expect(() => job.resume()).toThrow(/resumed more often than paused/);
    stepper.step(2);
    await job.finished;
  });
});

describe('Job cancellation', () => {
  it('stops a running body, and the job fails with "Operation canceled"', async () => {
    const { jobs, trace } = recordingManager();
    const stepper = new Stepper();
    const job = new Job(jobs, 'c', steppedDriver(stepper, { steps: 5 }), { autoDismiss: false });
    job.start();
    stepper.step();
    await settle();
    job.userCancel(true);
    stepper.step();
    await job.finished;
    expect(trace()).toEqual(['created', 'running', 'aborting', 'concluded']);
    expect(job.info().error).toBe('Operation canceled');
    expect(job.info()['current-progress']).toBe(2);
  });

  it('wakes a paused job to cancel it and drops the user pause', async () => {
    const { jobs, trace } = recordingManager();
    const stepper = new Stepper();
    const job = new Job(jobs, 'c', steppedDriver(stepper, { steps: 5 }), { autoDismiss: false });
    job.start();
    job.userPause();
    await settle();
    expect(job.status).toBe('paused');
    job.userCancel(true);
    await job.finished;
    expect(job.isUserPaused).toBe(false);
    expect(job.isPaused).toBe(false);
    expect(trace()).toEqual(['created', 'running', 'paused', 'running', 'aborting', 'concluded']);
  });

  it('cancels a job that never started without running its body', async () => {
    const { jobs, trace } = recordingManager();
    let ran = false;
    const job = new Job(jobs, 'c', {
      type: 'create',
      async run() {
        ran = true;
      },
    });
    job.userCancel(true);
    await job.finished;
    expect(ran).toBe(false);
    expect(trace()).toEqual(['created', 'aborting', 'concluded', 'null']);
  });
});

describe('Job finalization', () => {
  it('waits in pending without auto-finalize until job-finalize, then commits and cleans', async () => {
    const { jobs, trace } = recordingManager();
    const calls: string[] = [];
    const stepper = new Stepper();
    stepper.step();
    const job = new Job(
      jobs,
      'f',
      steppedDriver(stepper, { steps: 1 }, {
        prepare: () => void calls.push('prepare'),
        commit: () => void calls.push('commit'),
        abort: () => void calls.push('abort'),
        clean: () => void calls.push('clean'),
      }),
      { autoFinalize: false, autoDismiss: false },
    );
    job.start();
    await settle();
    expect(trace()).toEqual(['created', 'running', 'waiting', 'pending']);
    expect(calls).toEqual([]);
    job.finalize();
    expect(trace()).toEqual(['concluded']);
    expect(calls).toEqual(['prepare', 'commit', 'clean']);
  });

  it('aborts when prepare fails, with its error', async () => {
    const { jobs, trace } = recordingManager();
    const calls: string[] = [];
    const stepper = new Stepper();
    stepper.step();
    const job = new Job(
      jobs,
      'f',
      steppedDriver(stepper, { steps: 1 }, {
        prepare: () => {
          throw QmpError.generic('prepare went wrong');
        },
        abort: () => void calls.push('abort'),
      }),
      { autoDismiss: false },
    );
    job.start();
    await job.finished;
    expect(trace()).toEqual(['created', 'running', 'waiting', 'pending', 'aborting', 'concluded']);
    expect(calls).toEqual(['abort']);
    expect(job.error).toBe('prepare went wrong');
  });

  it('cancels a pending job at once: aborting, concluded', async () => {
    const { jobs, trace } = recordingManager();
    const stepper = new Stepper();
    stepper.step();
    const job = new Job(jobs, 'f', steppedDriver(stepper, { steps: 1 }), { autoFinalize: false, autoDismiss: false });
    job.start();
    await settle();
    trace();
    job.userCancel(true);
    expect(trace()).toEqual(['aborting', 'concluded']);
    expect(job.error).toBe('Operation canceled');
  });
});

describe('JobManager at shutdown', () => {
  it('cancels every running job and waits until each has concluded, leaving concluded ones alone', async () => {
    const { jobs, trace } = recordingManager();
    const done = new Stepper();
    done.step();
    const finished = new Job(jobs, 'done', steppedDriver(done, { steps: 1 }), { autoDismiss: false });
    finished.start();
    await finished.finished;
    const io = new Stepper();
    const running = new Job(jobs, 'busy', steppedDriver(io, { steps: 10 }), { autoDismiss: false });
    running.start();
    await settle();
    trace();
    const stopped = jobs.cancelAll();
    // the body is inside a request: the cancel takes effect once that request is done
    io.step();
    await stopped;
    expect(trace()).toEqual(['aborting', 'concluded']);
    expect(jobs.queryJobs().map((j) => [j.id, j.status, j.error])).toEqual([
      ['busy', 'concluded', 'Operation canceled'],
      ['done', 'concluded', undefined],
    ]);
  });
});
