import type { Config } from '../types.js';
import { errorAt, type Finding } from './finding.js';

/**
 * The bill check's rules beyond the schema (docs/bill-check.md): the ids in `billing:` must be in
 * the form of the provider the upstream's `format` names, since that is the report the check
 * asks. A `key_…` id on an Anthropic upstream would match nothing, and every day would read as
 * "all of the provider's usage is unmetered".
 */

const ID_FORMS = {
  openai: { apiKey: 'key_', scope: 'project_id', scopeOf: 'proj_' },
  anthropic: { apiKey: 'apikey_', scope: 'workspace_id', scopeOf: 'wrkspc_' },
} as const;

export function checkBilling({ config }: { config: Config }): Finding[] {
  const out: Finding[] = [];
  for (const u of Object.values(config.upstreams)) {
    const b = u.billing;
    if (!b) continue;
    const form = ID_FORMS[u.format];
    const at = ['upstreams', u.name, 'billing'];
    if (!b.apiKeyId.startsWith(form.apiKey)) {
      out.push(
        errorAt(
          [...at, 'api_key_id'],
          `upstreams.${u.name}.billing.api_key_id must be an ${u.format === 'openai' ? 'OpenAI' : 'Anthropic'} key id (${form.apiKey}…), since this upstream's format is ${u.format}`,
        ),
      );
    }
    const wrongScope = u.format === 'openai' ? 'workspace_id' : 'project_id';
    if ((wrongScope === 'workspace_id' ? b.workspaceId : b.projectId) !== undefined) {
      out.push(
        errorAt(
          [...at, wrongScope],
          `upstreams.${u.name}.billing.${wrongScope} does not apply to a ${u.format}-format upstream: use ${form.scope} (${form.scopeOf}…)`,
          'key',
        ),
      );
    }
  }
  return out;
}
