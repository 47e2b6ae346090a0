// The one error type of every Hugging Face Hub call (models and datasets): a kind a person can act on
// (offline, gated/private, not found, ...) and a message that says what to do.

export type HubErrorKind = 'offline' | 'unauthorized' | 'not-found' | 'cancelled' | 'invalid' | 'bad-token' | 'other';

export class HubError extends Error {
  constructor(readonly kind: HubErrorKind, message: string, readonly status?: number) {
    super(message);
    this.name = 'HubError';
  }
}

const OFFLINE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** The network error code that means "cannot reach the Hub", looked for along `cause` chains and in AggregateErrors. */
export function offlineCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && OFFLINE_CODES.has(code)) return code;
    // AggregateError from happy-eyeballs connects keeps the codes in .errors
    const inner = (e as { errors?: unknown }).errors;
    if (Array.isArray(inner)) for (const sub of inner) if (typeof sub?.code === 'string' && OFFLINE_CODES.has(sub.code)) return sub.code;
  }
  return undefined;
}

export function isAbortError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'AbortError') return true;
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === 'ABORT_ERR') return true;
  }
  return false;
}

/** The HTTP status a Hub API error carries (HubApiError.statusCode), if any. */
export function httpStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
