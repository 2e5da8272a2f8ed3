/**
 * The daemon's Prometheus metrics (prom-client), served by GET /metrics.
 * Command counts and latency come from one observer on the Dispatcher, so
 * every transport is counted the same way; the block engine feeds its gauges
 * and counters through the small API below.
 */
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  type Metric,
  Registry,
} from 'prom-client';

/** 'ok', or the QMP error class of the reply. */
export type CommandOutcome = string;
export type MonitorTransport = 'unix' | 'tcp' | 'ws' | 'ws-jsonrpc';
export type TransactionOutcome = 'committed' | 'aborted';

/** Label for a command name nobody registered: random names must not grow the series count. */
export const UNKNOWN_COMMAND = '_unknown';
/** Label for a message that named no command at all (parse error, not an object). */
export const NO_COMMAND = '_invalid';

/** From a cheap query (tens of µs) to a long blockdev-create (tens of seconds). */
const LATENCY_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];

/** Gauges the block engine answers when /metrics is scraped. */
export interface BlockGaugeSources {
  nodes?: () => number;
  exports?: () => number;
  inflightIo?: () => number;
}

/** What prom-client's registry formats (its typings call `type` an enum; at run time it is this string). */
interface Values {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Sample[];
}

interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

interface CommandEntry {
  outcomes: Map<string, number>;
  buckets: Float64Array;
  sum: number;
  n: number;
}

/**
 * Command counts and latencies kept in plain numbers and handed to prom-client
 * as ready values at scrape time: prom-client's own observe() hashes its labels
 * on every call, which was 9% of the daemon's CPU on pipelined commands.
 */
class CommandStats {
  /** Per command: counts by outcome and the latency histogram (no key built per call). */
  private readonly commands = new Map<string, CommandEntry>();

  record(command: string, outcome: string, seconds: number): void {
    let c = this.commands.get(command);
    if (c === undefined) {
      c = { outcomes: new Map(), buckets: new Float64Array(LATENCY_BUCKETS.length), sum: 0, n: 0 };
      this.commands.set(command, c);
    }
    c.outcomes.set(outcome, (c.outcomes.get(outcome) ?? 0) + 1);
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    if (i < LATENCY_BUCKETS.length) c.buckets[i]!++;
    c.sum += seconds;
    c.n++;
  }

  reset(): void {
    this.commands.clear();
  }

  countMetric(name: string, help: string): Metric {
    const get = async (): Promise<Values> => {
      const values: Sample[] = [];
      for (const [command, c] of this.commands) {
        for (const [outcome, n] of c.outcomes) values.push({ labels: { command, outcome }, value: n });
      }
      return { name, help, type: 'counter', aggregator: 'sum', values };
    };
    return this.asMetric(name, get);
  }

  latencyMetric(name: string, help: string): Metric {
    const get = async (): Promise<Values> => {
      const values: Sample[] = [];
      for (const [command, l] of this.commands) {
        let cumulative = 0;
        LATENCY_BUCKETS.forEach((le, i) => {
          cumulative += l.buckets[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { le, command }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', command }, value: l.n });
        values.push({ metricName: `${name}_sum`, labels: { command }, value: l.sum });
        values.push({ metricName: `${name}_count`, labels: { command }, value: l.n });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    };
    return this.asMetric(name, get);
  }

  /** The registry only calls name, get() and reset() of what it holds (prom-client registry.js). */
  private asMetric(name: string, get: () => Promise<Values>): Metric {
    return { name, get, reset: () => this.reset() } as unknown as Metric;
  }
}

export class Metrics {
  readonly registry = new Registry();
  private readonly commandStats = new CommandStats();
  private readonly monitors: Gauge<'transport'>;
  private readonly bytesRead: Counter<'export'>;
  private readonly bytesWritten: Counter<'export'>;
  private readonly transactions: Counter<'outcome'>;
  private blockSources: BlockGaugeSources = {};

  constructor(private readonly isKnownCommand: (name: string) => boolean) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.registry.registerMetric(
      this.commandStats.countMetric('qmpd_commands_total', 'QMP commands run, by command and outcome (ok or the QMP error class)'),
    );
    this.registry.registerMetric(
      this.commandStats.latencyMetric('qmpd_command_duration_seconds', 'Time from dispatch to reply of a QMP command'),
    );
    this.monitors = new Gauge({
      name: 'qmpd_monitors_open',
      help: 'Open QMP monitor sessions, by transport',
      labelNames: ['transport'],
      registers,
    });
    for (const t of ['unix', 'tcp', 'ws', 'ws-jsonrpc'] satisfies MonitorTransport[]) this.monitors.set({ transport: t }, 0);
    const sources = () => this.blockSources;
    const sourceGauge = (name: string, help: string, pick: (s: BlockGaugeSources) => (() => number) | undefined) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(pick(sources())?.() ?? 0);
        },
      });
    sourceGauge('qmpd_block_nodes', 'Block nodes in the graph', (s) => s.nodes);
    sourceGauge('qmpd_block_exports', 'Active block exports', (s) => s.exports);
    sourceGauge('qmpd_block_inflight_io', 'Block I/O requests in flight', (s) => s.inflightIo);
    this.bytesRead = new Counter({
      name: 'qmpd_export_read_bytes_total',
      help: 'Bytes read by clients of an export',
      labelNames: ['export'],
      registers,
    });
    this.bytesWritten = new Counter({
      name: 'qmpd_export_written_bytes_total',
      help: 'Bytes written by clients of an export',
      labelNames: ['export'],
      registers,
    });
    this.transactions = new Counter({
      name: 'qmpd_transactions_total',
      help: 'QMP transactions, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.transactions.inc({ outcome: 'committed' }, 0);
    this.transactions.inc({ outcome: 'aborted' }, 0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** One command answered; `command` is the requested name, undefined when there was none. */
  commandDone(command: string | undefined, outcome: CommandOutcome, seconds: number): void {
    const name = command === undefined ? NO_COMMAND : this.isKnownCommand(command) ? command : UNKNOWN_COMMAND;
    this.commandStats.record(name, outcome, seconds);
  }

  /** A monitor session opened; call the returned function (once is enough) when it closes. */
  monitorOpened(transport: MonitorTransport): () => void {
    this.monitors.inc({ transport });
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.monitors.dec({ transport });
    };
  }

  /** The block engine says where to read its gauges; later calls replace the sources given. */
  setBlockSources(sources: BlockGaugeSources): void {
    this.blockSources = { ...this.blockSources, ...sources };
  }

  exportRead(exportId: string, bytes: number): void {
    this.bytesRead.inc({ export: exportId }, bytes);
  }

  exportWritten(exportId: string, bytes: number): void {
    this.bytesWritten.inc({ export: exportId }, bytes);
  }

  /** An export was deleted: its byte series go away with it. */
  exportRemoved(exportId: string): void {
    this.bytesRead.remove({ export: exportId });
    this.bytesWritten.remove({ export: exportId });
  }

  transaction(outcome: TransactionOutcome): void {
    this.transactions.inc({ outcome });
  }
}
