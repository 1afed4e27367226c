import * as fs from 'fs';
import * as path from 'path';
import type { Sandbox } from '../sandbox';
import type { ClusterSpec } from '../sandbox/arm/azureResources';

/** The sandbox's usual cluster: private, Entra ID only, namespace web, rollouts done at once. */
export const DEPLOY_CLUSTER: ClusterSpec = {
  name: 'aks-prod',
  resourceGroup: 'rg-aks',
  private: true,
  disableLocalAccounts: true,
  namespaces: ['web'],
  rolloutDelaySeconds: 0,
};

/** PrivateAksDeploy's inputs for the sandbox's usual cluster and the manifests below. */
export const DEPLOY_INPUTS: Record<string, string> = {
  resourceGroupName: 'rg-aks',
  clusterName: 'aks-prod',
  manifests: 'deploy/*.yaml',
  namespace: 'web',
  rolloutTimeoutSeconds: '30',
  probeTimeoutSeconds: '3',
};

export const DEMO_MANIFEST = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: prod
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 2
  selector:
    matchLabels: { app: shop }
  template:
    metadata:
      labels: { app: shop }
    spec:
      containers:
        - name: web
          image: contosoprod.azurecr.io/shop/web:1.0.0
---
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: { app: shop }
  ports:
    - port: 80
`;

/** Writes deploy/app.yaml into the sources directory the sandbox's agent jobs use. */
export function writeDemoManifests(sandbox: Sandbox, text = DEMO_MANIFEST): string {
  const dir = path.join(sandbox.tempDir, 'agent', '_work', '1', 's', 'deploy');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'app.yaml');
  fs.writeFileSync(file, text);
  return file;
}
