import { describe, expect, it } from 'vitest';
import { createSecretMasker, maskSecrets } from '../../../src/keys/mask-secrets.js';

const UPSTREAM = 'sk-live-0123456789abcdef';
const KEY = 'tgk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789wxyz';

describe('the secret masker', () => {
  it('masks tollgate keys to tgk_Ab…wxyz and upstream keys to [redacted], idempotently', () => {
    const once = maskSecrets(`a ${KEY} b ${UPSTREAM} c tgk_short`, [UPSTREAM]);
    expect(once).toBe('a tgk_Ab…wxyz b [redacted] c tgk_short');
    expect(maskSecrets(once, [UPSTREAM])).toBe(once);
  });

  it('masks an upstream key in a JSON log line even when it holds characters JSON escapes', () => {
    const key = 'sk-"odd\\key-0123456789';
    const masker = createSecretMasker([key, 'short']);
    const line = JSON.stringify({ msg: `failed with ${key}`, ua: 'short' });
    expect(masker.mask(line)).toBe(JSON.stringify({ msg: 'failed with [redacted]', ua: 'short' }));
  });
});
