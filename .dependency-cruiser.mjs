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
      name: 'lower-layers-stay-low',
      comment:
        'lib/ and detection/ are the bottom layers: they import nothing from the engine seam, services, commands, hooks or UI. (lib/server-inputs.ts is a service in the wrong folder; the folder move relocates it.)',
      severity: 'error',
      from: {path: '^src/(lib|detection)/', pathNot: '^src/lib/server-inputs[.]ts$'},
      to: {path: '^src/(adapters|services|commands|hooks|ui)/|^src/(runtimes|base-command|plugin-api)[.]ts$'},
    },
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    exclude: {path: 'node_modules'},
    tsConfig: {fileName: 'tsconfig.json'},
    tsPreCompilationDeps: true,
  },
}
