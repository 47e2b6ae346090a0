// Turns whatever a Hub call throws into one message a user can act on.

import { HubApiError } from '@huggingface/hub';
import { HubError as HubDatasetError, isAbortError, offlineCode } from '../../hub/errors';

// One error type for models and datasets (core/hub/errors.ts); HubDatasetError is its older name.
export { HubError as HubDatasetError, isAbortError, type HubErrorKind } from '../../hub/errors';

export function describeHubError(err: unknown, context: { datasetId: string; endpoint: string; tokenGiven: boolean }): HubDatasetError {
  if (err instanceof HubDatasetError) return err;
  const { datasetId, endpoint, tokenGiven } = context;
  if (isAbortError(err)) return new HubDatasetError('cancelled', 'cancelled');
  if (err instanceof HubApiError) {
    const status = err.statusCode;
    if (status === 401 || status === 403) {
      const advice = tokenGiven
        ? 'the token was refused: make sure it can read this dataset and, if it is gated, that you accepted its terms on the Hub'
        : 'pass a Hugging Face token with --token hf_... (or set HF_TOKEN); if the dataset is gated, accept its terms on the Hub first';
      return new HubDatasetError('unauthorized', `dataset "${datasetId}" is gated or private (HTTP ${status}): ${advice}`, status);
    }
    if (status === 404) {
      return new HubDatasetError('not-found', `dataset "${datasetId}" not found on ${endpoint} (HTTP 404): check the id, config and revision`, status);
    }
    return new HubDatasetError('other', `Hub request failed (HTTP ${status}): ${err.message}`, status);
  }
  if (err instanceof TypeError && /access token must start with/.test(err.message)) {
    return new HubDatasetError('bad-token', 'invalid token: Hugging Face tokens start with "hf_"');
  }
  const code = offlineCode(err);
  if (code !== undefined) {
    return new HubDatasetError('offline', `cannot reach ${endpoint} (${code}): you appear to be offline, or the endpoint is wrong`);
  }
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const cause = (err as { cause?: unknown }).cause;
    const detail = cause instanceof Error && cause.message ? ` (${cause.message})` : '';
    return new HubDatasetError('offline', `cannot reach ${endpoint}${detail}: you appear to be offline, or the endpoint is wrong`);
  }
  return new HubDatasetError('other', err instanceof Error ? err.message : String(err));
}
