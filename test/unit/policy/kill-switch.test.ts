import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { createDisableView, type DisableView } from '../../../src/policy/disables.js';
import { createKillSwitch, type KillSwitch } from '../../../src/policy/kill-switch.js';
import { createSqliteStore } from '../../../src/store/sqlite.js';
import type { Store } from '../../../src/store/types.js';
import { holderOf, slackTestConfig } from '../../helpers/slack-config.js';

const NOW = Date.UTC(2026, 10, 26, 12, 0);

describe('kill switch', () => {
  let store: Store;
  let disables: DisableView;
  let ks: KillSwitch;

  beforeEach(async () => {
    store = createSqliteStore(':memory:');
    await store.init();
    // A refresh period far beyond the test: only the kill switch's own refresh can make changes visible.
    disables = await createDisableView({ store, log: silentLogger(), refreshMs: 3_600_000 });
    ks = createKillSwitch({ store, disables, config: holderOf(slackTestConfig()), clock: () => NOW });
  });

  afterEach(async () => {
    disables.stop();
    await store.close();
  });

  it('disables a key durably and makes the view refuse it before answering', async () => {
    const r = await ks.disable('cursor-dev', {
      reason: 'looping script',
      actor: 'U01ALICE',
      source: 'slack',
    });
    expect(r).toMatchObject({ ok: true, changed: true });
    expect(r.message).toContain('401 key_disabled');
    expect(r.message).toContain('/enable-key cursor-dev');
    expect(r.message).toContain('disabled: true');
    expect(disables.get('cursor-dev')).toMatchObject({
      reason: 'looping script',
      by: 'U01ALICE',
      source: 'slack',
      at: NOW,
    });
    expect((await store.listDisabled()).has('cursor-dev')).toBe(true);
  });

  it('treats a second disable as a no-op that keeps the first reason', async () => {
    await ks.disable('cursor-dev', { reason: 'first', actor: 'U01ALICE', source: 'slack' });
    const again = await ks.disable('cursor-dev', {
      reason: 'second',
      actor: 'admin-api',
      source: 'admin_api',
    });
    expect(again).toMatchObject({ ok: true, changed: false });
    expect(again.message).toContain('already disabled');
    expect(disables.get('cursor-dev')?.reason).toBe('first');
  });

  it('refuses an unknown name with a did-you-mean suggestion and changes nothing', async () => {
    const r = await ks.disable('cusror-dev', { reason: 'x', actor: 'U01ALICE', source: 'slack' });
    expect(r).toMatchObject({ ok: false, changed: false, suggestion: 'cursor-dev' });
    expect(r.message).toContain("Did you mean 'cursor-dev'?");
    expect((await store.listDisabled()).size).toBe(0);
  });

  it('enables a key it disabled', async () => {
    await ks.disable('open-webui-team', { reason: 'x', actor: 'U01ALICE', source: 'slack' });
    const r = await ks.enable('open-webui-team', { actor: 'U02BOB', source: 'slack' });
    expect(r).toMatchObject({ ok: true, changed: true });
    expect(disables.get('open-webui-team')).toBeUndefined();
  });

  it('cannot enable a key that keys.yaml disables, and says so', async () => {
    await ks.disable('old-script', { reason: 'belt and braces', actor: 'U01ALICE', source: 'slack' });
    const r = await ks.enable('old-script', { actor: 'U01ALICE', source: 'slack' });
    expect(r).toMatchObject({ ok: false, changed: false });
    expect(r.message).toContain('disabled: true');
    expect(r.message).toContain('pull request');
    expect(disables.get('old-script')).toBeDefined();
  });

  it('cannot enable an expired key, and says when it expired', async () => {
    const r = await ks.enable('intern-2025', { actor: 'U01ALICE', source: 'admin_api' });
    expect(r).toMatchObject({ ok: false, changed: false });
    expect(r.message).toContain('expired at 2026-01-01 01:00 Europe/Berlin');
  });

  it('says that enabling a key that was not disabled changes nothing', async () => {
    const r = await ks.enable('cursor-dev', { actor: 'U01ALICE', source: 'slack' });
    expect(r).toMatchObject({ ok: true, changed: false });
  });

  it('writes an audit entry for every call, refusals included', async () => {
    await ks.disable('cursor-dev', { reason: 'leak', actor: 'U01ALICE', source: 'slack' });
    await ks.disable('nope', { reason: 'x', actor: 'admin-api', source: 'admin_api' });
    await ks.enable('old-script', { actor: 'U02BOB', source: 'slack' });
    const audit = await store.listAudit(10);
    expect(audit).toHaveLength(3);
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          actor: 'U01ALICE',
          source: 'slack',
          action: 'disable',
          key: 'cursor-dev',
          reason: 'leak',
          result: 'ok',
        }),
        expect.objectContaining({
          actor: 'admin-api',
          source: 'admin_api',
          action: 'disable',
          key: 'nope',
          result: 'refused: unknown key',
        }),
        expect.objectContaining({
          actor: 'U02BOB',
          action: 'enable',
          key: 'old-script',
          result: 'refused: disabled in keys.yaml',
        }),
      ]),
    );
  });

  it('can lift a disable of a key that has since left keys.yaml', async () => {
    await store.setDisabled({ key: 'retired-key', reason: 'x', by: 'U01ALICE', source: 'slack', at: NOW });
    await disables.refresh();
    const r = await ks.enable('retired-key', { actor: 'U01ALICE', source: 'slack' });
    expect(r).toMatchObject({ ok: true, changed: true });
  });

  it('refuses the key before answering even while a re-read sent before the disable is still out', async () => {
    // On PostgreSQL the view re-reads the table every 500 ms: a read sent just before the disable
    // commits answers without it, and the kill switch's own refresh must not settle for that one.
    let hold: ((release: () => void) => void) | undefined;
    const gated = {
      listDisabled: async () => {
        const seen = await store.listDisabled();
        const wait = hold;
        hold = undefined;
        if (wait) await new Promise<void>((release) => wait(release));
        return seen;
      },
      onDisabledChange: (cb: () => void) => store.onDisabledChange(cb),
    };
    const view = await createDisableView({ store: gated, log: silentLogger(), refreshMs: 3_600_000 });
    const switchOf = (v: DisableView) =>
      createKillSwitch({ store, disables: v, config: holderOf(slackTestConfig()), clock: () => NOW });
    try {
      for (const [act, expected] of [
        [
          () => switchOf(view).disable('cursor-dev', { reason: 'leak', actor: 'U01ALICE', source: 'slack' }),
          true,
        ],
        [() => switchOf(view).enable('cursor-dev', { actor: 'U01ALICE', source: 'slack' }), false],
      ] as const) {
        let releaseStale: (() => void) | undefined;
        hold = (release) => {
          releaseStale = release;
        };
        const stale = view.refresh();
        const answered = act();
        // The stale read answers once the change is in the store, before the kill switch's refresh would.
        while ((await store.listDisabled()).has('cursor-dev') !== expected)
          await new Promise((r) => setImmediate(r));
        releaseStale?.();
        expect(await answered).toMatchObject({ ok: true, changed: true });
        expect(view.get('cursor-dev') !== undefined).toBe(expected);
        await stale;
      }
    } finally {
      view.stop();
    }
  });

  it('reports an unreachable store as store_unavailable', async () => {
    await store.close();
    await expect(
      ks.disable('cursor-dev', { reason: 'x', actor: 'U01ALICE', source: 'slack' }),
    ).rejects.toMatchObject({
      code: 'store_unavailable',
    });
    store = createSqliteStore(':memory:');
    await store.init();
  });
});
