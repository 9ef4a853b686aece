/**
 * The floors of tollgate (ARCHITECTURE.md), lowest first. A module may import from its own floor
 * and the floors below it, never from one above: when two floors need the same type or function,
 * it lives on the lower one (or a floor below both). `npm run lint` runs this; see
 * test/unit/docs/layering.test.ts for the check that the rules still bite.
 */
const FLOORS = [
  {
    name: 'base',
    paths: ['^src/(clock|csv|in-flight)\\.ts$', '^src/pricing/'],
    home: 'src/clock.ts, src/csv.ts, src/in-flight.ts or src/pricing/ (prices, the catalog, money)',
  },
  {
    name: 'vocabulary',
    paths: ['^src/config/[^/]+\\.ts$', '^src/windows/'],
    home: 'src/config/types.ts (the config and its holder) or src/windows/ (budget windows and their bounds)',
  },
  {
    name: 'essentials',
    paths: ['^src/keys/', '^src/(errors|log)\\.ts$'],
    home: 'src/keys/, src/errors.ts or src/log.ts',
  },
  { name: 'store', paths: ['^src/store/'], home: 'src/store/types.ts (roles and records)' },
  {
    name: 'metering',
    paths: ['^src/metering/'],
    home: 'src/metering/ (usage, taps, estimates; metering/route-kind.ts for the route kind)',
  },
  {
    name: 'ports',
    paths: ['^src/notifier\\.ts$', '^src/ops/(metrics|metric-labels)\\.ts$'],
    home: 'src/notifier.ts or src/ops/metrics.ts (what the core reports outwards)',
  },
  {
    name: 'config',
    paths: ['^src/config/(load|diff|reload)/'],
    home: 'src/config/load|diff|reload/ (types shared with others go to src/config/types.ts)',
  },
  { name: 'policy', paths: ['^src/policy/'], home: 'src/policy/' },
  { name: 'wiring', paths: ['^src/deps\\.ts$'], home: 'src/deps.ts (GatewayDeps)' },
  {
    name: 'services',
    paths: ['^src/(proxy|slack|insights|billing)/'],
    home: 'src/proxy/, src/slack/ or a service room beside them',
  },
  {
    name: 'app',
    paths: ['^src/app\\.ts$', '^src/(dashboard|schedule)/', '^src/ops/(?!(metrics|metric-labels)\\.ts$)'],
    home: 'src/app.ts, src/dashboard/, src/schedule/ or src/ops/',
  },
  { name: 'server', paths: ['^src/(server|main)\\.ts$', '^src/demo/'], home: 'src/server.ts' },
  { name: 'commands', paths: ['^src/commands/'], home: 'src/commands/' },
  { name: 'cli', paths: ['^src/cli\\.ts$'], home: 'src/cli.ts' },
];

const upward = FLOORS.slice(0, -1).map((floor, i) => ({
  name: `${floor.name}-imports-up`,
  severity: 'error',
  comment:
    `The ${floor.name} floor (${floor.paths.join(', ')}) imports from a floor above it. ` +
    `Move what both need down to ${floor.home} or lower, or pass it in as a parameter.`,
  from: { path: floor.paths },
  to: { path: FLOORS.slice(i + 1).flatMap((f) => f.paths) },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'An import circle (type-only ones included): move the shared types into a module both import, ' +
        'on the lower floor, so the dependency runs one way.',
      from: { path: '^(src|bench)/' },
      to: { circular: true },
    },
    {
      name: 'unplaced',
      severity: 'error',
      comment:
        'A module under src/ that is on no floor: add its folder to FLOORS in .dependency-cruiser.cjs ' +
        '(and ARCHITECTURE.md), at the lowest floor that its imports allow.',
      from: { path: '^src/', pathNot: FLOORS.flatMap((f) => f.paths) },
      to: {},
    },
    {
      name: 'src-imports-tests-or-benches',
      severity: 'error',
      comment: 'Code under src/ never imports from test/ or bench/.',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^(src|bench)/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
