/**
 * The orchestrator's snapshot flow driven by someone else's QMP client: the
 * Go library digitalocean/go-qemu as Debian packages it
 * (golang-github-digitalocean-go-qemu-dev), through its socket monitor and
 * event stream (test/interop/go/main.go). Built offline in GOPATH mode from
 * the packaged sources; run against qmpd and against QSD.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TestDaemon, type DaemonKind } from '../helpers/daemon.js';
import { DISK_SIZE, makeBases, nodeViews } from '../helpers/orchestrator.js';
import type { Message } from '../helpers/qmp-transcript.js';
import { run, skipWithout } from '../helpers/tools.js';

/** Where Debian's golang-*-dev packages put their sources (a GOPATH). */
const GOPATH = '/usr/share/gocode';
const LIBRARY = join(GOPATH, 'src/github.com/digitalocean/go-qemu/qmp');
const PROGRAM = join(REPO, 'test/interop/go');

function missingLibrary(): boolean {
  if (existsSync(LIBRARY)) return false;
  const hint = 'apt-get install golang-go golang-github-digitalocean-go-qemu-dev';
  if (process.env.CI) throw new Error(`go-qemu sources missing in CI at ${LIBRARY} (${hint})`);
  process.stderr.write(`SKIPPED: the go-qemu interop test needs ${LIBRARY} (${hint})\n`);
  return true;
}

const skip = skipWithout('go', 'qemu-img', 'qemu-storage-daemon') || missingLibrary();

interface Summary {
  statuses: Record<string, string[]>;
  'query-named-block-nodes': Message[];
  'query-block': unknown[];
  'query-jobs': unknown[];
  version: { qemu: { major: number; minor: number } };
}

describe.skipIf(skip)('the go-qemu QMP library', () => {
  let work: string;
  let binary: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'qmpd-go-'));
    binary = join(work, 'orchestrator');
    // GOPATH mode reads the packaged sources directly: no module proxy, no network.
    const env = { ...process.env, GO111MODULE: 'off', GOPATH, GOFLAGS: '', GOPROXY: 'off', GOCACHE: join(work, 'cache') };
    const built = spawnSync('go', ['build', '-o', binary, '.'], { cwd: PROGRAM, env, encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`go build failed: ${built.stderr}`);
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function flowOn(kind: DaemonKind) {
    await using d = await TestDaemon.start({ kind });
    makeBases((name) => d.path(name));
    const res = spawnSync(binary, [d.socketPath, String(DISK_SIZE)], { cwd: d.dir, encoding: 'utf8', timeout: 120_000 });
    if (res.status !== 0) throw new Error(`orchestrator (${kind}) failed: ${res.stderr}`);
    await d.waitExit();
    const summary = JSON.parse(res.stdout) as Summary;
    const images = [0, 1].map((i) => {
      run('qemu-img', ['check', d.path(`ov${i}.qcow2`)]);
      const info = JSON.parse(run('qemu-img', ['info', '--output=json', d.path(`ov${i}.qcow2`)])) as Message;
      return [info.format, info['virtual-size'], info['backing-filename'], info['format-specific']];
    });
    return {
      statuses: summary.statuses,
      block: summary['query-block'],
      jobs: summary['query-jobs'],
      nodes: nodeViews(summary['query-named-block-nodes']),
      images,
      version: summary.version.qemu,
    };
  }

  it('runs the snapshot flow on two disks through the socket monitor and its event stream', async () => {
    const ours = await flowOn('qmpd');
    const lifecycle = ['created', 'running', 'waiting', 'pending', 'concluded', 'null'];
    expect(ours.statuses).toEqual({ cf0: lifecycle, cf1: lifecycle, cq0: lifecycle, cq1: lifecycle });
    expect(ours.version).toMatchObject({ major: 7, minor: 2 });
    expect(ours.block).toEqual([]);
    expect(ours.jobs).toEqual([]);
    for (const i of [0, 1]) {
      expect(ours.nodes[`ov${i}`]).toMatchObject({
        drv: 'qcow2',
        backing_file: `base${i}.qcow2`,
        backing_file_depth: 1,
        virtualSize: DISK_SIZE,
        bitmaps: [{ name: 'b1', recording: true, persistent: true }],
      });
      expect(ours.nodes[`base${i}`]).toMatchObject({ ro: true });
      expect(ours.images[i]!.slice(0, 3)).toEqual(['qcow2', DISK_SIZE, `base${i}.qcow2`]);
    }
    const theirs = await flowOn('qsd');
    expect({ ...ours, version: null }).toEqual({ ...theirs, version: null });
  });
});
