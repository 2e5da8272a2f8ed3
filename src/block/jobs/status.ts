/**
 * QEMU's job status machine (job.c JobSTT) and verb table (JobVerbTable), as
 * 7.2 has them: which status may follow which, and which QMP verb a job
 * accepts in which status.
 */
import type { JobStatus, JobVerb } from '../../qapi/generated/types.js';

export type { JobStatus, JobVerb };

/** Allowed next statuses of each status. */
const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  undefined: ['created'],
  created: ['running', 'aborting', 'null'],
  running: ['paused', 'ready', 'waiting', 'aborting'],
  paused: ['running'],
  ready: ['standby', 'waiting', 'aborting'],
  standby: ['ready'],
  waiting: ['pending', 'aborting'],
  pending: ['aborting', 'concluded'],
  aborting: ['aborting', 'concluded'],
  concluded: ['null'],
  null: [],
};

/** Statuses in which each verb is accepted. `complete` in standby since QEMU 6.0. */
const VERBS: Readonly<Record<JobVerb, readonly JobStatus[]>> = {
  cancel: ['created', 'running', 'paused', 'ready', 'standby', 'waiting', 'pending'],
  pause: ['created', 'running', 'paused', 'ready', 'standby'],
  resume: ['created', 'running', 'paused', 'ready', 'standby'],
  'set-speed': ['created', 'running', 'paused', 'ready', 'standby'],
  complete: ['ready', 'standby'],
  finalize: ['pending'],
  dismiss: ['concluded'],
};

export function transitionAllowed(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function verbAllowed(verb: JobVerb, status: JobStatus): boolean {
  return VERBS[verb].includes(status);
}

/** job_is_completed(): the job's work is over (it may still await finalization or dismissal). */
export function isCompletedStatus(status: JobStatus): boolean {
  return (
    status === 'waiting' ||
    status === 'pending' ||
    status === 'aborting' ||
    status === 'concluded' ||
    status === 'null'
  );
}

/** job_is_ready(): a job that can be completed (mirror, active commit) and has caught up. */
export function isReadyStatus(status: JobStatus): boolean {
  return status === 'ready' || status === 'standby';
}
