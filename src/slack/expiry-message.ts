import type { KeyConfig } from '../config/types.js';
import { section, withMentions } from './alert-messages.js';
import { escapeMrkdwn } from './format.js';

export interface ExpiryMessage {
  text: string;
  blocks: unknown[];
}

/** The reminder of slack.alerts.expiry_days, mentioning the key's notify users. */
export function expiryReminder(a: {
  key: KeyConfig & { expires: string };
  /** Local days left including today: 1 on the key's last day. */
  daysLeft: number;
  timeZone: string;
}): ExpiryMessage {
  const { key } = a;
  const when =
    a.daysLeft <= 1
      ? `at the end of today (${key.expires}, ${a.timeZone})`
      : `in ${a.daysLeft} days, at the end of ${key.expires} (${a.timeZone})`;
  const owner = key.owner ? ` (owner: ${escapeMrkdwn(key.owner)})` : '';
  const text = withMentions(
    `:hourglass_flowing_sand: Key \`${key.name}\`${owner} expires ${when}; after that its clients get \`401 key_expired\`. ` +
      `To keep it working, move \`expires\` for \`${key.name}\` in keys.yaml with a pull request; if it is no longer needed, nothing to do.`,
    key.notify,
  );
  return { text, blocks: [section(text)] };
}
