// The layers of shared/ and the tasks above them, bottom to top (docs: ARCHITECTURE.md "Layers, one
// direction"). Nothing imports upward, no module cycles, and (checked in tests/package/layers.spec.ts
// from the cruise result) no folder cycles. tests/package/layers.spec.ts runs these rules through
// dependency-cruiser's API over shared/ and tasks/, type-only imports included.
//
//   tasks/<Task>V1/                     top: a task never imports another task's folder
//   shared/firewall/targets/            the registry and AKS targets, above the engine
//   shared/firewall/  shared/lineOfSight/   the rule engine and the agent→server probe, side by side
//   shared/azure/{aks,acr,rbac}/        side by side: none imports another (the code needs no direction)
//   shared/azure/arm/                   ARM calls and the one ARM failure path
//   shared/azure/identity/              credentials and sign-in
//   shared/azure/connection/            the service connection and the cloud table
//   shared/kube/                        Kubernetes only, beside azure/: no Azure knowledge
//   shared/net/                         network primitives (may use pipeline)
//   shared/pipeline/                    bottom: the agent boundary
//
// `to.path` may name the groups captured by `from.path` ($1): that is how "another task's folder" and
// "another Azure service" are written.

const ABOVE_PIPELINE = '^(shared/(net|kube|azure|lineOfSight|firewall)|tasks)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A module cycle: one of them belongs in a lower layer (or the shared part in a module of its own).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'shared-not-tasks',
      severity: 'error',
      comment: 'shared/ serves the tasks and knows none of them: move what both need into shared/.',
      from: { path: '^shared/' },
      to: { path: '^tasks/' },
    },
    {
      name: 'task-not-other-task',
      severity: 'error',
      comment: "A task never imports another task's folder: what both need belongs in shared/.",
      from: { path: '^tasks/([^/]+)/' },
      to: { path: '^tasks/', pathNot: '^tasks/$1/' },
    },
    {
      name: 'pipeline-bottom',
      severity: 'error',
      comment: 'shared/pipeline (the agent boundary) is the bottom layer: it imports nothing else of ours.',
      from: { path: '^shared/pipeline/' },
      to: { path: ABOVE_PIPELINE },
    },
    {
      name: 'net-bottom',
      severity: 'error',
      comment: 'shared/net (network primitives) may use shared/pipeline only.',
      from: { path: '^shared/net/' },
      to: { path: '^(shared/(kube|azure|lineOfSight|firewall)|tasks)/' },
    },
    {
      name: 'kube-no-azure',
      severity: 'error',
      comment: 'shared/kube is Kubernetes only: no Azure knowledge, nothing above it.',
      from: { path: '^shared/kube/' },
      to: { path: '^shared/(azure|lineOfSight|firewall)/' },
    },
    {
      name: 'azure-below-line-of-sight-and-firewall',
      severity: 'error',
      comment: 'shared/azure sits below the line-of-sight probe and the firewall engine.',
      from: { path: '^shared/azure/' },
      to: { path: '^shared/(lineOfSight|firewall)/' },
    },
    {
      name: 'azure-connection-bottom',
      severity: 'error',
      comment: 'Inside azure/: connection ← identity ← arm ← {aks, acr, rbac}; connection imports none of them.',
      from: { path: '^shared/azure/connection/' },
      to: { path: '^shared/azure/(identity|arm|aks|acr|rbac)/' },
    },
    {
      name: 'azure-identity-below-arm',
      severity: 'error',
      comment: 'Inside azure/: identity uses connection only.',
      from: { path: '^shared/azure/identity/' },
      to: { path: '^shared/azure/(arm|aks|acr|rbac)/' },
    },
    {
      name: 'azure-arm-below-services',
      severity: 'error',
      comment: 'Inside azure/: arm uses identity and connection only, never a service (aks, acr, rbac).',
      from: { path: '^shared/azure/arm/' },
      to: { path: '^shared/azure/(aks|acr|rbac)/' },
    },
    {
      name: 'azure-services-side-by-side',
      severity: 'error',
      comment: 'aks, acr and rbac import none of each other: what two of them need belongs in arm/ (or connection/).',
      from: { path: '^shared/azure/(aks|acr|rbac)/' },
      to: { path: '^shared/azure/(aks|acr|rbac)/', pathNot: '^shared/azure/$1/' },
    },
    {
      name: 'firewall-engine-below-targets',
      severity: 'error',
      comment: 'The firewall engine knows no target: shared/firewall/targets import the engine, not the reverse.',
      from: { path: '^shared/firewall/[^/]+$' },
      to: { path: '^shared/firewall/targets/' },
    },
    {
      name: 'firewall-engine-not-line-of-sight',
      severity: 'error',
      comment: 'The firewall engine and the line-of-sight probe sit side by side: the engine imports no probe.',
      from: { path: '^shared/firewall/[^/]+$' },
      to: { path: '^shared/lineOfSight/' },
    },
    {
      name: 'line-of-sight-not-firewall',
      severity: 'error',
      comment: 'The line-of-sight probe knows no firewall (engine or target).',
      from: { path: '^shared/lineOfSight/' },
      to: { path: '^shared/firewall/' },
    },
  ],
  options: {
    // The product only: the specs and tools may reach across layers on purpose.
    includeOnly: '^(shared|tasks)/',
    doNotFollow: { path: 'node_modules' },
    // `import type` too: a type is knowledge of the layer it comes from.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
  },
};
