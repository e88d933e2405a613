// The layering of src/ (docs/architecture.md): a folder may import only folders of a lower level,
// never one of its own level or above, and no module may take part in an import cycle.
// Run by `npm run depcruise` and by test/architecture.spec.ts (part of `npm test`).

/** Lowest first. Folders on one line are one level and do not import each other. */
const LEVELS = [
  ['format'],
  ['config'],
  ['common'],
  ['database', 'metrics'],
  ['store'],
  ['credentials'],
  ['ratelimit'],
  ['auth'],
  ['audit'],
  ['clients', 'scopes'],
  ['keys'],
  ['usage'],
  ['hot-path'],
  ['health'],
];

/** src/*.ts (app.ts, app.module.ts, main.ts, openapi*.ts, gc-tuning.ts): the top, the app. */
const APP = '^src/[^/]+$';
const folder = (name) => `^src/${name}/`;
const known = LEVELS.flat();

const layerRules = LEVELS.flatMap((level, rank) =>
  level.map((name) => {
    const aliases = [name];
    const higher = LEVELS.slice(rank + 1).flat();
    const siblings = level.filter((other) => !aliases.includes(other));
    const below = LEVELS.slice(0, rank).flat();
    return {
      name: `layer-${name}`,
      severity: 'error',
      comment:
        (below.length
          ? `src/${name}/ may import only ${below.map((n) => `${n}/`).join(', ')}`
          : `src/${name}/ imports nothing else in src/`) +
        (siblings.length ? `; not ${siblings.map((n) => `${n}/`).join(', ')} (same level)` : ''),
      from: { path: folder(name) },
      to: { path: [...higher, ...siblings].map(folder).concat(APP) },
    };
  }),
);

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: split the shared part out, lower in the layering.',
      // TypeORM's two sides of one relation name each other (lazily, through () => Entity): the one cycle allowed.
      from: { pathNot: '\\.entity\\.ts$' },
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'unlisted-folder',
      severity: 'error',
      comment:
        'Every folder of src/ has a level: add it to LEVELS in .dependency-cruiser.cjs and docs/architecture.md.',
      from: { path: '^src/' },
      to: { path: '^src/[^/]+/', pathNot: known.map(folder) },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to no file.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports count: a type from a higher layer ties the two as surely as a value does.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['node_modules', '^dist/'] },
    moduleSystems: ['cjs', 'es6'],
    // Packages' `exports` maps (`@electric-sql/pglite/nodefs`), resolved as TypeScript does here.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['require', 'import', 'node', 'default', 'types'],
      mainFields: ['main', 'types', 'typings'],
    },
  },
};
