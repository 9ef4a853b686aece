import { describe, expect, it } from 'vitest';
import { diffConfigs, renderDiff } from '../../../src/config/diff/diff.js';
import { loadConfig } from '../../../src/config/load/load.js';
import type { Config } from '../../../src/config/types.js';
import { baseConfig, HASH_A, NOW, positionOf } from './config-text.js';

const KEYS = `  cursor-dev:\n    hash: ${HASH_A}\n`;
const withUrl = (url: string) =>
  baseConfig(KEYS).replace('base_url: https://api.openai.com/v1', `base_url: ${url}`);

describe('upstream base URLs', () => {
  it("rejects a base_url that Node's URL parser rejects, with line:col", () => {
    const text = withUrl('http://12w.0.0.1:9001/v1');
    const { config, errors } = loadConfig(text, { file: 'keys.yaml', now: NOW });
    expect(config).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject(positionOf(text, 'http://12w'));
    expect(errors[0]?.message).toBe(
      "upstreams.openai.base_url 'http://12w.0.0.1:9001/v1' is not a URL that can be parsed: check the host name and port, e.g. https://api.openai.com/v1",
    );
  });

  it.each([
    'http://user:hunter2@127.0.0.1:9001/v1',
    'https://hunter2@api.example.com/v1',
    'http://user:hunter2@12w.0.0.1/v1',
  ])('rejects a base_url with credentials (%s) without echoing them', (url) => {
    const text = withUrl(url);
    const { errors } = loadConfig(text, { file: 'keys.yaml', now: NOW });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject(positionOf(text, url));
    expect(errors[0]?.message).not.toContain('hunter2');
    expect(errors[0]?.message).toMatch(/base_url (carries a user name or password|'http:\/\/…@12w)/);
  });

  it('accepts ordinary URLs, ports and IPv6 hosts included', () => {
    for (const url of ['http://127.0.0.1:9001/v1', 'https://api.openai.com/v1', 'http://[::1]:8080/v1']) {
      expect(loadConfig(withUrl(url), { file: 'keys.yaml', now: NOW }).errors).toEqual([]);
    }
  });

  it('never puts credentials into a diff, even of configs built without the loader', () => {
    const cfg = loadConfig(withUrl('https://api.openai.com/v1'), { file: 'a', now: NOW }).config as Config;
    const leaky: Config = {
      ...cfg,
      upstreams: {
        openai: {
          ...(cfg.upstreams.openai as Config['upstreams'][string]),
          baseUrl: 'https://u:hunter2@x.example/v1',
        },
        extra: {
          ...(cfg.upstreams.openai as Config['upstreams'][string]),
          name: 'extra',
          baseUrl: 'https://hunter2@y.example/v1',
        },
      },
    };
    const text = renderDiff(diffConfigs(cfg, leaky), 'markdown');
    expect(text).toContain('x.example');
    expect(text).not.toContain('hunter2');
  });
});
