/**
 * The daemon's Prometheus metrics (prom-client), served by GET /metrics.
 * Command counts and latency come from one observer on the Dispatcher, so
 * every transport is counted the same way; the block engine feeds its gauges
 * and counters through the small API below.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

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

interface CommandSeries {
  count: Counter.Internal;
  latency: Histogram.Internal<'command'>;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly commands: Counter<'command' | 'outcome'>;
  private readonly latency: Histogram<'command'>;
  private readonly monitors: Gauge<'transport'>;
  private readonly bytesRead: Counter<'export'>;
  private readonly bytesWritten: Counter<'export'>;
  private readonly transactions: Counter<'outcome'>;
  private blockSources: BlockGaugeSources = {};
  /** Labelled children cached by "command\0outcome": the per-command cost is one Map lookup. */
  private readonly series = new Map<string, CommandSeries>();

  constructor(private readonly isKnownCommand: (name: string) => boolean) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.commands = new Counter({
      name: 'qmpd_commands_total',
      help: 'QMP commands run, by command and outcome (ok or the QMP error class)',
      labelNames: ['command', 'outcome'],
      registers,
    });
    this.latency = new Histogram({
      name: 'qmpd_command_duration_seconds',
      help: 'Time from dispatch to reply of a QMP command',
      labelNames: ['command'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
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
    const key = name + '\0' + outcome;
    let s = this.series.get(key);
    if (s === undefined) {
      s = { count: this.commands.labels(name, outcome), latency: this.latency.labels(name) };
      this.series.set(key, s);
    }
    s.count.inc();
    s.latency.observe(seconds);
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
