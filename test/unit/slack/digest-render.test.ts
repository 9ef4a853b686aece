import { describe, expect, it } from 'vitest';
import type { Digest, DigestKeyLine } from '../../../src/slack/digest/build-digest.js';
import { escapeMrkdwn, renderDigestBlocks } from '../../../src/slack/digest/render-blocks.js';
import { renderDigestText } from '../../../src/slack/digest/render-text.js';

function line(key: string, costUsd: number, over: Partial<DigestKeyLine> = {}): DigestKeyLine {
  return {
    key,
    inConfig: true,
    costUsd,
    requests: 10,
    errors: 0,
    errorsByClass: { '401': 0, '403': 0, '404': 0, '429': 0, '5xx': 0, other: 0 },
    dailyLimitUsd: 5,
    dailyShare: costUsd / 5,
    topModel: 'gpt-4o-mini',
    ...over,
  };
}

function digest(over: Partial<Digest> = {}): Digest {
  return {
    day: '2026-11-26',
    timeZone: 'Europe/Berlin',
    revision: '3b1f0c2d9a8e@1a2b3c4',
    generatedAt: 0,
    total: { costUsd: 12.34, requests: 20, errors: 2, unidentifiedRequests: 0, previousDayCostUsd: 10 },
    month: { month: '2026-11', costUsd: 123.45, monthlyLimitsUsd: 500 },
    keys: [
      line('cursor-dev', 4.98, {
        errors: 2,
        errorsByClass: { '401': 0, '403': 0, '404': 0, '429': 2, '5xx': 0, other: 0 },
      }),
      line('ci', 0.004),
    ],
    flags: [
      {
        kind: 'near_limit',
        title: 'Near or over a limit',
        items: [{ key: 'cursor-dev', detail: '99% of its $5.00 daily limit' }],
      },
    ],
    ...over,
  };
}

function blockTexts(blocks: Record<string, unknown>[]): string[] {
  return blocks.flatMap((b) => {
    const text = (b.text as { text?: string } | undefined)?.text;
    const elements = (b.elements as { text: string }[] | undefined)?.map((e) => e.text) ?? [];
    return [...(text ? [text] : []), ...elements];
  });
}

describe('renderDigestText', () => {
  it('shows the totals, the change from the day before, the month to date, the table, flags and revision', () => {
    const text = renderDigestText(digest());
    expect(text).toContain('tollgate spend digest for 2026-11-26 (Europe/Berlin)');
    expect(text).toContain('$12.34 spent, +$2.34 (+23%) vs $10.00 on 2026-11-25');
    expect(text).toContain('20 requests, 2 errors (10%)');
    expect(text).toContain('Month to date (2026-11): $123.45 of $500.00 in monthly limits (24%)');
    expect(text).toMatch(/cursor-dev\s+\$4\.98\s+10\s+2\s+0\s+0\s+0\s+2\s+0\s+99%\s+gpt-4o-mini/);
    expect(text).toMatch(/ci\s+\$0\.0040/);
    expect(text).toContain('Near or over a limit\n    - cursor-dev: 99% of its $5.00 daily limit');
    expect(text).toContain('Config revision 3b1f0c2d9a8e@1a2b3c4');
  });

  it('says so on a day without traffic, with no table', () => {
    const text = renderDigestText(
      digest({
        total: { costUsd: 0, requests: 0, errors: 0, unidentifiedRequests: 0, previousDayCostUsd: 3 },
        keys: [],
        flags: [],
      }),
    );
    expect(text).toContain('No traffic on 2026-11-26');
    expect(text).not.toContain('top model');
    expect(text).toContain('Config revision');
  });

  it('says nothing was spent the day before instead of an infinite change', () => {
    const text = renderDigestText(
      digest({
        total: { costUsd: 1, requests: 1, errors: 0, unidentifiedRequests: 0, previousDayCostUsd: 0 },
      }),
    );
    expect(text).toContain('$1.00 spent (nothing spent on 2026-11-25)');
    expect(text).not.toContain('Infinity');
  });

  it('marks keys no longer in keys.yaml in the table', () => {
    const text = renderDigestText(digest({ keys: [line('old-key', 1, { inConfig: false })] }));
    expect(text).toContain('old-key*');
    expect(text).toContain('* no longer in keys.yaml');
  });
});

describe('renderDigestBlocks', () => {
  it('gives Slack a header, the summary, the table in a code block, flags and the revision', () => {
    const msg = renderDigestBlocks(digest());
    expect(msg.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'Spend digest for 2026-11-26', emoji: false },
    });
    const texts = blockTexts(msg.blocks).join('\n');
    expect(texts).toContain('*$12.34 spent, +$2.34 (+23%) vs $10.00 on 2026-11-25*');
    expect(texts).toMatch(/```key\s+spend/);
    expect(texts).toContain('*Near or over a limit*\n• `cursor-dev`: 99% of its $5.00 daily limit');
    expect(texts).toContain('Config revision 3b1f0c2d9a8e@1a2b3c4');
  });

  it('has a plain-text fallback with the day, spend and flag counts', () => {
    const msg = renderDigestBlocks(digest());
    expect(msg.text).toContain('tollgate spend digest for 2026-11-26: $12.34 spent');
    expect(msg.text).toContain('Near or over a limit (1)');
  });

  it('says so on a day without traffic', () => {
    const msg = renderDigestBlocks(
      digest({
        total: { costUsd: 0, requests: 0, errors: 0, unidentifiedRequests: 0, previousDayCostUsd: 0 },
        keys: [],
        flags: [],
      }),
    );
    expect(msg.text).toContain('No traffic on 2026-11-26');
    expect(blockTexts(msg.blocks).join('\n')).toContain('No traffic on 2026-11-26');
  });

  it('stays within Slack limits with 1,000 keys: top keys shown, the rest summed', () => {
    const keys = Array.from({ length: 1000 }, (_, i) =>
      line(`key-with-a-long-name-${String(i).padStart(4, '0')}`, 1000 - i),
    );
    const items = keys.map((k) => ({ key: k.key, detail: 'never used, and this detail is fairly long too' }));
    const msg = renderDigestBlocks(digest({ keys, flags: [{ kind: 'unused', title: 'Unused', items }] }));
    expect(msg.blocks.length).toBeLessThanOrEqual(50);
    for (const t of blockTexts(msg.blocks)) expect(t.length).toBeLessThanOrEqual(3000);
    const texts = blockTexts(msg.blocks).join('\n');
    expect(texts).toContain('key-with-a-long-name-0000');
    expect(texts).toMatch(/…and 98\d more keys: \$[\d,]+\.\d\d, [\d,]+ requests/);
    expect(texts).toMatch(/…and \d+ more$/m);
    expect(msg.text.length).toBeLessThan(3000);
  });

  it('lists keys of a flag whose title says it all on one line', () => {
    const items = [
      { key: 'a', detail: '' },
      { key: 'b', detail: '' },
    ];
    const msg = renderDigestBlocks(digest({ flags: [{ kind: 'no_expiry', title: 'No expiry', items }] }));
    expect(blockTexts(msg.blocks)).toContain('*No expiry*\n`a`, `b`');
    expect(renderDigestText(digest({ flags: [{ kind: 'no_expiry', title: 'No expiry', items }] }))).toContain(
      'No expiry\n    - a\n    - b\n',
    );
  });

  it('escapes Slack markup in names and reasons', () => {
    expect(escapeMrkdwn('<!channel> & <@U1>')).toBe('&lt;!channel&gt; &amp; &lt;@U1&gt;');
    const msg = renderDigestBlocks(
      digest({
        flags: [{ kind: 'disabled_drift', title: 'Drift', items: [{ key: 'a', detail: 'reason <!here>' }] }],
      }),
    );
    expect(blockTexts(msg.blocks).join('\n')).not.toContain('<!here>');
  });
});
