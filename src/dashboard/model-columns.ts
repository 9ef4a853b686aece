import { formatInt, formatRate, formatUsd } from './format.js';
import type { GroupTotal } from './queries.js';
import type { Column } from './table.js';

const errorRate = (m: GroupTotal): number | null => (m.requests > 0 ? m.errors / m.requests : null);

/**
 * The columns of a "Models, last 30 days" table, shared by the overview and a key's page; the
 * overview also shows the tokens.
 */
export function modelColumns(withTokens: boolean): Column<GroupTotal>[] {
  const tokens: Column<GroupTotal>[] = withTokens
    ? [
        {
          id: 'input',
          label: 'Input tokens',
          numeric: true,
          value: (m) => m.inputTokens,
          cell: (m) => formatInt(m.inputTokens),
        },
        {
          id: 'output',
          label: 'Output tokens',
          numeric: true,
          value: (m) => m.outputTokens,
          cell: (m) => formatInt(m.outputTokens),
        },
      ]
    : [];
  return [
    { id: 'model', label: 'Model', value: (m) => m.name, cell: (m) => m.name || '(none)' },
    {
      id: 'requests',
      label: 'Requests',
      numeric: true,
      value: (m) => m.requests,
      cell: (m) => formatInt(m.requests),
    },
    {
      id: 'errors',
      label: 'Error rate',
      numeric: true,
      value: errorRate,
      cell: (m) => formatRate(errorRate(m)),
    },
    ...tokens,
    { id: 'cost', label: 'Cost', numeric: true, value: (m) => m.costUsd, cell: (m) => formatUsd(m.costUsd) },
  ];
}
