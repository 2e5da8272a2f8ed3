/**
 * From one parsed request to one reply: envelope checks, command lookup,
 * negotiation mode, OOB rules, argument validation, the handler, and the one
 * place where errors become {"error": {"class", "desc"}}.
 */
import { protocolErrors, QmpError, toQmpError } from './error.js';
import { isDict, newDict, type QDict, type QValue } from './json/value.js';
import { qdictOrder } from './qdict-order.js';
import type { CommandContext, CommandRegistry } from './registry.js';

export interface Reply {
  return?: unknown;
  id?: QValue;
  error?: { class: string; desc: string };
}

export interface DispatchState {
  /** Still in capabilities negotiation mode. */
  negotiating: boolean;
  /** OOB was enabled for this session. */
  oob: boolean;
}

interface Envelope {
  command: string;
  oob: boolean;
  args: QDict;
}

/** Member order on the wire follows QEMU's: {"return", "id"} and {"id", "error"}. */
export function errorReply(err: QmpError, id?: QValue): Reply {
  const error = { class: err.errorClass, desc: err.desc };
  return id === undefined ? { error } : { id, error };
}

function returnReply(value: unknown, id?: QValue): Reply {
  const ret = value === undefined ? {} : value;
  return id === undefined ? { return: ret } : { return: ret, id };
}

/** Breaks no envelope rule whatever the order of looking: execute, arguments and id only, well typed. */
function isPlainRequest(request: QDict): boolean {
  for (const key in request) {
    const value = request[key];
    if (key === 'execute') {
      if (typeof value !== 'string') return false;
    } else if (key === 'arguments') {
      if (!isDict(value)) return false;
    } else if (key !== 'id') {
      return false;
    }
  }
  return true;
}

/** qmp_dispatch_check_obj: members are looked at in QEMU's QDict order (which error comes first). */
function checkEnvelope(request: QDict, allowOob: boolean): Envelope {
  let execKey: string | undefined;
  const keys = Object.keys(request);
  for (const key of isPlainRequest(request) ? keys : qdictOrder(keys)) {
    const value = request[key]!;
    if (key === 'execute' || (key === 'exec-oob' && allowOob)) {
      if (typeof value !== 'string') throw protocolErrors.memberMustBeString(key);
      if (execKey !== undefined) throw protocolErrors.membersClash(key, execKey);
      execKey = key;
    } else if (key === 'arguments') {
      if (!isDict(value)) throw protocolErrors.argumentsMustBeObject();
    } else if (key !== 'id') {
      throw protocolErrors.memberUnexpected(key);
    }
  }
  if (execKey === undefined) throw protocolErrors.lacksExecute();
  const args = request.arguments;
  return {
    command: request[execKey] as string,
    oob: execKey === 'exec-oob',
    args: args === undefined ? newDict() : (args as QDict),
  };
}

/** A request is out-of-band when it says exec-oob and not execute (qmp_is_oob). */
export function isOobRequest(message: QValue): boolean {
  return isDict(message) && Object.hasOwn(message, 'exec-oob') && !Object.hasOwn(message, 'execute');
}

/** Told of every message once its reply is known; `command` is the name asked for, if any (metrics). */
export type DispatchObserver = (command: string | undefined, reply: Reply, startedAt: number) => void;

function requestedCommand(message: QValue | QmpError): string | undefined {
  if (!isDict(message)) return undefined;
  const name = message.execute ?? message['exec-oob'];
  return typeof name === 'string' ? name : undefined;
}

export class Dispatcher {
  /** The one place every transport's commands pass: set by the daemon for metrics. */
  observer: DispatchObserver | undefined;

  constructor(private readonly registry: CommandRegistry) {}

  /**
   * Runs one message. Synchronous handlers give a synchronous reply, so a
   * pipelined stream of cheap commands never waits on the microtask queue.
   */
  dispatch(message: QValue | QmpError, state: DispatchState, ctx: CommandContext): Reply | Promise<Reply> {
    const observer = this.observer;
    if (observer === undefined) return this.run(message, state, ctx);
    const startedAt = performance.now();
    const reply = this.run(message, state, ctx);
    if (!(reply instanceof Promise)) {
      observer(requestedCommand(message), reply, startedAt);
      return reply;
    }
    return reply.then((r) => {
      observer(requestedCommand(message), r, startedAt);
      return r;
    });
  }

  private run(message: QValue | QmpError, state: DispatchState, ctx: CommandContext): Reply | Promise<Reply> {
    if (message instanceof QmpError) return errorReply(message);
    if (!isDict(message)) return errorReply(protocolErrors.notAnObject());
    const id = message.id;
    let result: unknown;
    try {
      const env = checkEnvelope(message, state.oob);
      const cmd = this.registry.get(env.command);
      if (!cmd) {
        throw state.negotiating ? protocolErrors.expectingNegotiation() : protocolErrors.commandNotFound(env.command);
      }
      if (state.negotiating && env.command !== 'qmp_capabilities') throw protocolErrors.expectingNegotiation();
      if (env.oob && !cmd.info.allowOob) throw protocolErrors.noOob(env.command);
      this.registry.schema.validateArguments(env.command, env.args);
      result = cmd.handler(env.args, ctx);
    } catch (err) {
      return this.fail(err, id, ctx);
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => returnReply(value, id),
        (err: unknown) => this.fail(err, id, ctx),
      );
    }
    return returnReply(result, id);
  }

  private fail(err: unknown, id: QValue | undefined, ctx: CommandContext): Reply {
    const qerr = toQmpError(err);
    if (!(err instanceof QmpError)) ctx.log.error({ err }, 'command failed with an unexpected error');
    return errorReply(qerr, id);
  }
}
