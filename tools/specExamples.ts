/**
 * The azure-rest-api-specs example responses the product's readers are tested against
 * (tests/unit/specExamples.spec.ts): one per operation the tasks call, at the api-version they send.
 * The files are public but not ours, so they are not committed: this copies them from a local
 * git directory of Azure/azure-rest-api-specs into a folder outside the repo, keeping their paths.
 *
 *   node build/tools/specExamples.js <azure-rest-api-specs git dir> [<destination>]
 *
 * The destination defaults to the `spec-examples` folder of `../shared` beside the checkout, where
 * the spec looks for them (SPEC_EXAMPLES_DIR overrides both).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const AKS = 'specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable';
const ACR_2019 = 'specification/containerregistry/resource-manager/Microsoft.ContainerRegistry/stable';
const ACR = 'specification/containerregistry/resource-manager/Microsoft.ContainerRegistry/Registry/stable';
const AUTHZ = 'specification/authorization/resource-manager/Microsoft.Authorization/stable';

/** Each example, and who reads its response at that api-version. */
export const SPEC_EXAMPLES = {
  /** Raw GET/PUT of AcrNetworkRuleSync's authorized ranges (CLUSTER_API_VERSION). */
  clusterForRanges: `${AKS}/2024-10-01/examples/ManagedClustersGet.json`,
  /** The same reader on a private cluster (the PUT's 200 response: no eTag in it). */
  privateClusterForRanges: `${AKS}/2024-10-01/examples/ManagedClustersCreate_PrivateClusterPublicFQDN.json`,
  /** @azure/arm-containerservice 25.3.0 managedClusters.get: PrivateAksDeploy's cluster facts. */
  clusterForFacts: `${AKS}/2026-04-01/examples/ManagedClustersGet.json`,
  /** Raw GET/PATCH of the registry's network rule set (NETWORK_API_VERSION). */
  registryNetwork: `${ACR_2019}/2019-05-01/examples/RegistryGet.json`,
  /** @azure/arm-containerregistry 12.0.0 registries.get: the registry as a firewall target. */
  registry: `${ACR}/2025-11-01/examples/RegistryGet.json`,
  /** @azure/arm-containerregistry 12.0.0 registries.listUsages: the IP rule quota. */
  registryUsages: `${ACR}/2025-11-01/examples/RegistryListUsages.json`,
  /** @azure/arm-authorization 9.0.0 roleDefinitions.getById: the kubelet identity's pull check. */
  roleDefinition: `${AUTHZ}/2022-04-01/examples/GetRoleDefinitionById.json`,
} as const;

export function defaultSpecExamplesDir(repoRoot: string): string {
  return process.env.SPEC_EXAMPLES_DIR || path.resolve(repoRoot, '..', 'shared', 'spec-examples');
}

/** Copies every example from `gitDir` (HEAD) into `destination`; returns one line per file. */
export function copySpecExamples(gitDir: string, destination: string): { lines: string[]; missing: number } {
  const lines: string[] = [];
  let missing = 0;
  for (const relative of Object.values(SPEC_EXAMPLES)) {
    let text: string;
    try {
      text = execFileSync('git', ['--git-dir', gitDir, 'show', `HEAD:${relative}`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 30_000,
      });
    } catch {
      lines.push(`missing  ${relative}`);
      missing++;
      continue;
    }
    JSON.parse(text); // an example that does not parse is not copied as if it were one
    const target = path.join(destination, relative);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text);
    lines.push(`copied   ${relative} (${Buffer.byteLength(text)} bytes)`);
  }
  return { lines, missing };
}

if (require.main === module) {
  const [gitDir, destination] = process.argv.slice(2);
  if (!gitDir) {
    console.error('usage: node build/tools/specExamples.js <azure-rest-api-specs git dir> [<destination>]');
    process.exit(2);
  }
  const to = destination ?? defaultSpecExamplesDir(path.resolve(__dirname, '..', '..'));
  const { lines, missing } = copySpecExamples(gitDir, to);
  for (const line of lines) console.log(line);
  console.log(`${lines.length - missing} of ${lines.length} example(s) in ${to}`);
  process.exit(missing ? 1 : 0);
}
