import { describe, expect, it } from 'vitest';
import { diffConfigs } from '../../../src/config/diff/diff.js';
import { checkEnvReferences } from '../../../src/config/load/env-refs.js';
import { loadConfig } from '../../../src/config/load/load.js';
import type { Config } from '../../../src/config/types.js';
import { HASH_A, NOW, positionOf } from './config-text.js';

const load = (text: string) => loadConfig(text, { file: 'keys.yaml', now: NOW });

const file = (openaiBilling = '', anthropicBilling = '') => `version: 1
upstreams:
  openai:
    base_url: https://api.openai.com/v1
    api_key: \${OPENAI_API_KEY}
${openaiBilling}  anthropic:
    base_url: https://api.anthropic.com/v1
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
${anthropicBilling}models:
  gpt-4o-mini:
    upstream: openai
  claude-haiku-4-5:
    upstream: anthropic
keys:
  a:
    hash: ${HASH_A}
`;

const OPENAI_BILLING = `    billing:
      admin_key: \${OPENAI_ADMIN_KEY}
      api_key_id: key_abc123
      project_id: proj_abc123
`;
const ANTHROPIC_BILLING = `    billing:
      admin_key: \${ANTHROPIC_ADMIN_KEY}
      api_key_id: apikey_01Rj2N8SVvo6BePZj99NhmiT
      workspace_id: wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ
`;

describe('upstreams.NAME.billing', () => {
  it('loads both providers’ billing sections with the admin keys kept as environment references', () => {
    const r = load(file(OPENAI_BILLING, ANTHROPIC_BILLING));
    expect(r.errors).toEqual([]);
    expect(r.config?.upstreams.openai?.billing).toEqual({
      adminKeyEnv: 'OPENAI_ADMIN_KEY',
      apiKeyId: 'key_abc123',
      projectId: 'proj_abc123',
    });
    expect(r.config?.upstreams.anthropic?.billing).toEqual({
      adminKeyEnv: 'ANTHROPIC_ADMIN_KEY',
      apiKeyId: 'apikey_01Rj2N8SVvo6BePZj99NhmiT',
      workspaceId: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
    });
  });

  it('refuses a literal admin key without echoing it, at its line and column', () => {
    const secret = 'sk-admin-abcdefghijklmnopqrstuvwxyz0123456789';
    const text = file(`    billing:\n      admin_key: ${secret}\n      api_key_id: key_abc123\n`);
    const r = load(text);
    expect(r.config).toBeUndefined();
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({
      path: 'upstreams.openai.billing.admin_key',
      ...positionOf(text, secret),
    });
    expect(r.errors[0]?.message).toContain('environment reference');
    expect(JSON.stringify(r)).not.toContain(secret);
  });

  it('refuses an api_key_id in the other provider’s form, and a scope that does not apply', () => {
    const text = file(
      `    billing:\n      admin_key: \${OPENAI_ADMIN_KEY}\n      api_key_id: apikey_01Rj2N8SVvo6BePZj99NhmiT\n      workspace_id: wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ\n`,
    );
    const r = load(text);
    expect(r.errors.map((e) => e.path).sort()).toEqual([
      'upstreams.openai.billing.api_key_id',
      'upstreams.openai.billing.workspace_id',
    ]);
    expect(r.errors.find((e) => e.path.endsWith('api_key_id'))?.message).toContain('key_…');
  });

  it('refuses a secret pasted as the key id, saying what an id looks like', () => {
    const r = load(
      file(`    billing:\n      admin_key: \${OPENAI_ADMIN_KEY}\n      api_key_id: sk-proj-abc\n`),
    );
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.message).toContain('not the key itself');
    expect(r.errors[0]?.message).not.toContain('sk-proj-abc');
  });

  it('names an unset admin key variable as an error for validate --env and a warning at start', () => {
    const config = load(file(OPENAI_BILLING)).config as Config;
    const vars = { OPENAI_API_KEY: 'x', ANTHROPIC_API_KEY: 'y' };
    const strict = checkEnvReferences(config, { vars, unsetIs: 'error' });
    expect(strict).toHaveLength(1);
    expect(strict[0]).toMatchObject({
      severity: 'error',
      path: ['upstreams', 'openai', 'billing', 'admin_key'],
    });
    expect(strict[0]?.message).toContain('OPENAI_ADMIN_KEY');
    expect(checkEnvReferences(config, { vars, unsetIs: 'warning' })[0]?.severity).toBe('warning');
  });

  it('shows an added bill check and a new admin key reference as sensitive in the diff', () => {
    const before = load(file()).config as Config;
    const after = load(file(OPENAI_BILLING)).config as Config;
    const added = diffConfigs(before, after);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ kind: 'upstream-changed', subject: 'openai', effect: 'sensitive' });
    expect(added[0]?.detail).toContain('bill check added: api_key_id key_abc123, cost report of proj_abc123');
    const moved = load(file(OPENAI_BILLING.replace('OPENAI_ADMIN_KEY', 'OTHER_ADMIN_KEY'))).config as Config;
    expect(diffConfigs(after, moved).map((c) => c.detail)).toEqual([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: keys.yaml's literal `${ENV}` reference syntax
      'billing.admin_key now read from ${OTHER_ADMIN_KEY} (was ${OPENAI_ADMIN_KEY})',
    ]);
    expect(diffConfigs(after, before)[0]?.detail).toContain('bill check removed');
  });
});
