import type { Config } from '../types.js';
import { errorAt, type Finding } from './finding.js';

/**
 * Base URLs are checked with the parser that will use them (the WHATWG URL parser in Node), not
 * only the schema's `^https?://` pattern: `http://12w.0.0.1:9001/v1` passes the pattern, but
 * every request to it would fail. Credentials in a URL (`http://user:pass@host`) are refused:
 * they would be echoed wherever the URL is shown (diffs, Slack reload messages, logs), and the
 * upstream's secret belongs in `api_key`, an environment reference.
 */

/** The URL with any `user:password@` replaced, for messages: never echo a credential. */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1…@');
}

export function checkBaseUrls(config: Config): Finding[] {
  const out: Finding[] = [];
  for (const u of Object.values(config.upstreams)) {
    const path = ['upstreams', u.name, 'base_url'];
    const where = `upstreams.${u.name}.base_url`;
    let parsed: URL;
    try {
      parsed = new URL(u.baseUrl);
    } catch {
      out.push(
        errorAt(
          path,
          `${where} '${displayUrl(u.baseUrl)}' is not a URL that can be parsed: check the host name and port, e.g. https://api.openai.com/v1`,
        ),
      );
      continue;
    }
    if (parsed.username !== '' || parsed.password !== '') {
      out.push(
        errorAt(
          path,
          `${where} carries a user name or password: remove them from the URL (it is shown in diffs, logs and Slack) and give the upstream's secret as api_key: \${ENV_VAR}; rotate that password, since it is now in the file's history`,
        ),
      );
    }
  }
  return out;
}
