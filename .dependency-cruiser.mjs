/**
 * Import rules for src/, checked by test/unit/architecture.test.ts (and `npx depcruise src`).
 * Type-only imports count: a cycle of types is still a cycle a reader has to untangle.
 */
export default {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only and dynamic imports included.',
      severity: 'error',
      from: {},
      to: {circular: true},
    },
    {
      name: 'lib-is-a-leaf',
      comment: 'lib/ holds leaf helpers: it imports nothing of stigmer outside lib/.',
      severity: 'error',
      from: {path: '^src/lib/'},
      to: {path: '^src/', pathNot: '^src/lib/'},
    },
    {
      name: 'engine-stays-low',
      comment:
        'engine/ is the seam (ContainerRuntime and its types, RuntimeError, providers, detection, the engine choice): it imports lib/ and, to create adapters, adapters/; never the features, UI, commands or hooks above it.',
      severity: 'error',
      from: {path: '^src/engine/'},
      to: {path: '^src/(server|image|doctor|ui|plugins|commands|hooks)/|^src/[^/]+[.]ts$'},
    },
    {
      name: 'adapters-implement-the-seam',
      comment:
        'adapters/ implement engine/ for Docker and Podman: they import engine/ and lib/, nothing of the features above.',
      severity: 'error',
      from: {path: '^src/adapters/'},
      to: {path: '^src/(server|image|doctor|ui|plugins|commands|hooks)/|^src/[^/]+[.]ts$'},
    },
    {
      name: 'features-use-the-seam',
      comment:
        'Features and UI reach engines only through the seam (engine/): no adapter, so adding an engine touches no feature.',
      severity: 'error',
      from: {path: '^src/(server|image|doctor|plugins|ui)/'},
      to: {path: '^src/adapters/'},
    },
    {
      name: 'features-do-not-reach-up',
      comment:
        'The feature folders (server, image, doctor, plugins) and ui/ never import commands, hooks or the base command.',
      severity: 'error',
      from: {path: '^src/(server|image|doctor|plugins|ui)/'},
      to: {path: '^src/(commands|hooks)/|^src/(base-command|fast-path|help)[.]ts$'},
    },
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    exclude: {path: 'node_modules'},
    tsConfig: {fileName: 'tsconfig.json'},
    tsPreCompilationDeps: true,
  },
}
