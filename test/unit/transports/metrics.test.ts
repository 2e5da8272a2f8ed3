import { describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/transports/metrics.js';

const known = new Set(['query-version', 'blockdev-add']);

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('Metrics', () => {
  it('counts commands by name and outcome, with unknown names folded into one series', async () => {
    const m = new Metrics((n) => known.has(n));
    m.commandDone('query-version', 'ok', 0.0002);
    m.commandDone('query-version', 'ok', 0.002);
    m.commandDone('blockdev-add', 'GenericError', 0.01);
    for (let i = 0; i < 100; i++) m.commandDone(`random-${i}`, 'CommandNotFound', 0.0001);
    m.commandDone(undefined, 'GenericError', 0.0001);
    const text = await m.render();
    expect(sample(text, 'qmpd_commands_total{command="query-version",outcome="ok"}')).toBe(2);
    expect(sample(text, 'qmpd_commands_total{command="blockdev-add",outcome="GenericError"}')).toBe(1);
    expect(sample(text, 'qmpd_commands_total{command="_unknown",outcome="CommandNotFound"}')).toBe(100);
    expect(sample(text, 'qmpd_commands_total{command="_invalid",outcome="GenericError"}')).toBe(1);
    expect(text).not.toContain('random-');
    expect(sample(text, 'qmpd_command_duration_seconds_bucket{le="0.0005",command="query-version"}')).toBe(1);
    expect(sample(text, 'qmpd_command_duration_seconds_bucket{le="0.005",command="query-version"}')).toBe(2);
    expect(sample(text, 'qmpd_command_duration_seconds_count{command="query-version"}')).toBe(2);
  });

  it('counts open monitors per transport, each close counted once', async () => {
    const m = new Metrics(() => true);
    const a = m.monitorOpened('ws');
    m.monitorOpened('ws');
    m.monitorOpened('unix');
    a();
    a();
    const text = await m.render();
    expect(sample(text, 'qmpd_monitors_open{transport="ws"}')).toBe(1);
    expect(sample(text, 'qmpd_monitors_open{transport="unix"}')).toBe(1);
    expect(sample(text, 'qmpd_monitors_open{transport="tcp"}')).toBe(0);
  });

  it('reads the block gauges from their sources at scrape time', async () => {
    const m = new Metrics(() => true);
    expect(sample(await m.render(), 'qmpd_block_nodes')).toBe(0);
    let nodes = 2;
    m.setBlockSources({ nodes: () => nodes });
    m.setBlockSources({ exports: () => 1 });
    nodes = 5;
    const text = await m.render();
    expect(sample(text, 'qmpd_block_nodes')).toBe(5);
    expect(sample(text, 'qmpd_block_exports')).toBe(1);
    expect(sample(text, 'qmpd_block_inflight_io')).toBe(0);
  });

  it('counts bytes per export and forgets a removed export', async () => {
    const m = new Metrics(() => true);
    m.exportRead('e1', 100);
    m.exportRead('e1', 50);
    m.exportWritten('e2', 7);
    expect(sample(await m.render(), 'qmpd_export_read_bytes_total{export="e1"}')).toBe(150);
    m.exportRemoved('e1');
    const text = await m.render();
    expect(text).not.toContain('export="e1"');
    expect(sample(text, 'qmpd_export_written_bytes_total{export="e2"}')).toBe(7);
  });

  it('counts transactions by outcome, both present from the start', async () => {
    const m = new Metrics(() => true);
    m.transaction('aborted');
    const text = await m.render();
    expect(sample(text, 'qmpd_transactions_total{outcome="committed"}')).toBe(0);
    expect(sample(text, 'qmpd_transactions_total{outcome="aborted"}')).toBe(1);
  });
});
