import { describe, expect, it } from 'vitest';
import {
  isCompletedStatus,
  isReadyStatus,
  transitionAllowed,
  verbAllowed,
  type JobStatus,
  type JobVerb,
} from '../../../../src/block/jobs/status.js';

// QEMU 7.2 job.c, written as its bit rows: columns U C R P Y S W D X E N.
const COLUMNS: JobStatus[] = [
  'undefined', 'created', 'running', 'paused', 'ready', 'standby',
  'waiting', 'pending', 'aborting', 'concluded', 'null',
];
const JOB_STT: Record<JobStatus, string> = {
  undefined: '01000000000',
  created: '00100000101',
  running: '00011010100',
  paused: '00100000000',
  ready: '00000110100',
  standby: '00001000000',
  waiting: '00000001100',
  pending: '00000000110',
  aborting: '00000000110',
  concluded: '00000000001',
  null: '00000000000',
};
const VERB_TABLE: Record<JobVerb, string> = {
  cancel: '01111111000',
  pause: '01111100000',
  resume: '01111100000',
  'set-speed': '01111100000',
  complete: '00001100000',
  finalize: '00000001000',
  dismiss: '00000000010',
};

describe('job status machine', () => {
  for (const from of COLUMNS) {
    it(`allows exactly QEMU's transitions out of '${from}'`, () => {
      const row = COLUMNS.map((to) => (transitionAllowed(from, to) ? '1' : '0')).join('');
      expect(row).toBe(JOB_STT[from]);
    });
  }

  it('lets every status be reached from undefined through allowed transitions', () => {
    const seen = new Set<JobStatus>(['undefined']);
    const queue: JobStatus[] = ['undefined'];
    while (queue.length > 0) {
      const s = queue.shift()!;
      for (const t of COLUMNS) if (transitionAllowed(s, t) && !seen.has(t)) (seen.add(t), queue.push(t));
    }
    expect([...seen].sort()).toEqual([...COLUMNS].sort());
  });
});

describe('job verb table', () => {
  for (const verb of Object.keys(VERB_TABLE) as JobVerb[]) {
    it(`accepts '${verb}' in exactly QEMU's statuses`, () => {
      const row = COLUMNS.map((s) => (verbAllowed(verb, s) ? '1' : '0')).join('');
      expect(row).toBe(VERB_TABLE[verb]);
    });
  }

  it('counts waiting and later statuses as completed, ready and standby as ready', () => {
    expect(COLUMNS.filter(isCompletedStatus)).toEqual(['waiting', 'pending', 'aborting', 'concluded', 'null']);
    expect(COLUMNS.filter(isReadyStatus)).toEqual(['ready', 'standby']);
  });
});
