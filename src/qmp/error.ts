/**
 * The one error type of qmpd. Handlers throw QmpError; only dispatch turns it
 * into {"error": {"class", "desc"}} on the wire. Texts are QEMU 7.2's, verbatim.
 */

/** QapiErrorClass of QEMU 7.2: exactly these five. */
export type ErrorClass =
  | 'GenericError'
  | 'CommandNotFound'
  | 'DeviceNotActive'
  | 'DeviceNotFound'
  | 'KVMMissingCap';

export interface QmpErrorOptions {
  cause?: unknown;
  /** errno name for I/O errors (EIO, EPERM, ENOSPC, EINVAL...), for protocols that report errno */
  errno?: string;
}

export class QmpError extends Error {
  readonly errno: string | undefined;

  constructor(
    readonly errorClass: ErrorClass,
    readonly desc: string,
    options?: QmpErrorOptions,
  ) {
    super(desc, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QmpError';
    this.errno = options?.errno;
  }

  static generic(desc: string, options?: QmpErrorOptions): QmpError {
    return new QmpError('GenericError', desc, options);
  }

  /** An I/O failure with its errno. */
  static io(errno: string, desc: string): QmpError {
    return new QmpError('GenericError', desc, { errno });
  }
}

/** Anything thrown that is not a QmpError becomes a GenericError with its message. */
export function toQmpError(err: unknown): QmpError {
  if (err instanceof QmpError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new QmpError('GenericError', message, { cause: err });
}

// Protocol-level texts (qmp-protocol.md §3-§5, §7).
export const protocolErrors = {
  notAnObject: () => QmpError.generic('QMP input must be a JSON object'),
  lacksExecute: () => QmpError.generic("QMP input lacks member 'execute'"),
  memberMustBeString: (m: string) => QmpError.generic(`QMP input member '${m}' must be a string`),
  argumentsMustBeObject: () => QmpError.generic("QMP input member 'arguments' must be an object"),
  memberUnexpected: (m: string) => QmpError.generic(`QMP input member '${m}' is unexpected`),
  membersClash: (a: string, b: string) => QmpError.generic(`QMP input member '${a}' clashes with '${b}'`),
  commandNotFound: (name: string) => new QmpError('CommandNotFound', `The command ${name} has not been found`),
  expectingNegotiation: () =>
    new QmpError('CommandNotFound', "Expecting capabilities negotiation with 'qmp_capabilities'"),
  negotiationComplete: () =>
    new QmpError('CommandNotFound', 'Capabilities negotiation is already complete, command ignored'),
  noOob: (name: string) => QmpError.generic(`The command ${name} does not support OOB`),
  capabilityNotAvailable: (cap: string) => QmpError.generic(`Capability ${cap} not available`),
  jsonParse: (what: string) => QmpError.generic(`JSON parse error, ${what}`),
  nestingTooDeep: () => QmpError.generic('JSON nesting depth limit exceeded'),
  tokenTooBig: () => QmpError.generic('JSON token size limit exceeded'),
  tooManyTokens: () => QmpError.generic('JSON token count limit exceeded'),
} as const;
