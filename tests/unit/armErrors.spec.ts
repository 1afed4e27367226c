import * as assert from 'assert';
import { explainArmCallFailure, explainArmFailure, type ArmFailure, type ArmFailureContext } from '../../shared/azure/arm/armErrors';
import { ArmCallError } from '../../shared/azure/arm/rawArmCall';
import { ExplainedError } from '../../shared/pipeline/explainedError';

/**
 * Resource Manager's refusals as it words them. Codes: the error table of MicrosoftDocs/azure-docs
 * articles/azure-resource-manager/troubleshooting/common-deployment-errors.md (AuthorizationFailed,
 * ResourceGroupNotFound, ResourceNotFound, InvalidAuthenticationTokenTenant). The local-accounts text:
 * MicrosoftDocs/azure-docs articles/aks/manage-local-accounts-managed-azure-ad.md ("Operation failed with
 * status: 'Bad Request'. Details: Getting static credential is not allowed because this cluster is set to
 * disable local accounts.", newer answers add a link after it).
 */
const AUTHORIZATION_FAILED =
  "The client 'c-1' with object id 'o-1' does not have authorization to perform action 'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action' over scope '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks1' or the scope is invalid. If access was recently granted, please refresh your credentials.";
const LOCAL_ACCOUNTS =
  'Getting static credential is not allowed because this cluster is set to disable local accounts. For more details, see https://learn.microsoft.com/en-us/azure/aks/manage-local-accounts-managed-azure-ad';

const ctx: ArmFailureContext = {
  action: 'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action',
  scope: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks1',
  principalObjectId: 'o-1',
  role: 'Azure Kubernetes Service Cluster User Role',
  resourceLabel: "cluster 'aks1'",
};

describe('armErrors: a Resource Manager failure explained', () => {
  const cases: { name: string; failure: ArmFailure; context?: Partial<ArmFailureContext>; code: string; reason: RegExp; fix: RegExp }[] = [
    {
      name: '403 AuthorizationFailed: the action, the resource and the role assignment to create',
      failure: { statusCode: 403, code: 'AuthorizationFailed', message: AUTHORIZATION_FAILED },
      code: 'ARM_AUTHORIZATION_FAILED',
      reason:
        /^The connection's identity may not perform Microsoft\.ContainerService\/managedClusters\/listClusterUserCredential\/action on cluster 'aks1'\.$/,
      fix: /^az role assignment create --assignee-object-id o-1 --assignee-principal-type ServicePrincipal --role "Azure Kubernetes Service Cluster User Role" --scope \/subscriptions\/s\/resourceGroups\/rg\/providers\/Microsoft\.ContainerService\/managedClusters\/aks1$/,
    },
    {
      name: 'AuthorizationFailed without a known role or principal: placeholders, never an empty argument',
      failure: { code: 'AuthorizationFailed', message: AUTHORIZATION_FAILED },
      context: { role: undefined, principalObjectId: undefined },
      code: 'ARM_AUTHORIZATION_FAILED',
      reason: /may not perform/,
      fix: /--assignee-object-id <object id> .*--role "a role that grants it"/,
    },
    {
      // azure-docs, azure-resource-manager/troubleshooting/error-policy-requestdisallowedbypolicy.md: a 403
      // whose code is RequestDisallowedByPolicy names the policy assignments in its message; a role changes nothing.
      name: '403 RequestDisallowedByPolicy: Azure Policy, not a missing role, naming the assignment',
      failure: {
        statusCode: 403,
        code: 'RequestDisallowedByPolicy',
        message:
          'Resource \'contosoprod\' was disallowed by policy. Policy identifiers: \'[{"policyAssignment":{"name":"Deny public registries","id":"/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/deny-public-acr"},"policyDefinition":{"name":"Container registries should not allow unrestricted network access","id":"/providers/Microsoft.Authorization/policyDefinitions/d0793b48-0edc-4296-a390-4c75d1bdfd71"}}]\'.',
      },
      code: 'ARM_POLICY_DENIED',
      reason:
        /^Azure Policy denies Microsoft\.ContainerService\/managedClusters\/listClusterUserCredential\/action on cluster 'aks1' \(policy assignment 'Deny public registries'\): no role assignment changes that\.$/,
      fix: /az policy assignment show --name deny-public-acr --scope \/subscriptions\/s/,
    },
    {
      name: 'RequestDisallowedByPolicy whose message names no assignment',
      failure: { statusCode: 403, code: 'RequestDisallowedByPolicy', message: 'Resource was disallowed by policy.' },
      code: 'ARM_POLICY_DENIED',
      reason: /^Azure Policy denies .* on cluster 'aks1': no role assignment changes that\.$/,
      fix: /az policy assignment list/,
    },
    {
      name: 'any 403 is an authorization failure',
      failure: { statusCode: 403, code: 'LinkedAuthorizationFailed', message: 'x' },
      code: 'ARM_AUTHORIZATION_FAILED',
      reason: /may not perform/,
      fix: /az role assignment create/,
    },
    {
      name: "400 BadRequest: AKS's local-accounts refusal of an admin credential",
      failure: { statusCode: 400, code: 'BadRequest', message: LOCAL_ACCOUNTS },
      code: 'LOCAL_ACCOUNTS_DISABLED',
      reason: /^cluster 'aks1' disables local accounts, so AKS hands out no admin \(static\) credential\.$/,
      fix: /useAdminCredentials off/,
    },
    {
      name: '404 ResourceGroupNotFound',
      failure: { statusCode: 404, code: 'ResourceGroupNotFound', message: "Resource group 'rg' could not be found." },
      code: 'ARM_NOT_FOUND',
      reason: /^cluster 'aks1' was not found \(ResourceGroupNotFound\): .*subscription is not the one that holds it\.$/,
      fix: /full resource id/,
    },
    {
      name: '404 ResourceNotFound',
      failure: {
        statusCode: 404,
        code: 'ResourceNotFound',
        message: "The Resource 'Microsoft.ContainerService/managedClusters/aks1' under resource group 'rg' was not found.",
      },
      code: 'ARM_NOT_FOUND',
      reason: /\(ResourceNotFound\)/,
      fix: /Check the names/,
    },
    {
      name: 'a bare 404',
      failure: { statusCode: 404, message: '' },
      code: 'ARM_NOT_FOUND',
      reason: /\(HTTP 404\)/,
      fix: /Check the names/,
    },
    {
      name: '401 InvalidAuthenticationTokenTenant',
      failure: {
        statusCode: 401,
        code: 'InvalidAuthenticationTokenTenant',
        message: "The access token is from the wrong issuer 'https://sts.windows.net/t2/'.",
      },
      code: 'ARM_TOKEN_REFUSED',
      reason: /refused the token \(InvalidAuthenticationTokenTenant\): the connection's tenant does not own the subscription/,
      fix: /tenant, subscription and environment/,
    },
    {
      name: 'InvalidAuthenticationToken without a status',
      failure: { code: 'InvalidAuthenticationToken', message: 'x' },
      code: 'ARM_TOKEN_REFUSED',
      reason: /\(InvalidAuthenticationToken\)/,
      fix: /environment/,
    },
    { name: 'a bare 401', failure: { statusCode: 401, message: '' }, code: 'ARM_TOKEN_REFUSED', reason: /\(HTTP 401\)/, fix: /tenant/ },
    {
      name: '429 after the retries',
      failure: { statusCode: 429, code: 'TooManyRequests', message: 'x' },
      code: 'ARM_THROTTLED',
      reason: /HTTP 429/,
      fix: /later/,
    },
    {
      name: 'anything else: status, code and the first line of the message',
      failure: { statusCode: 409, code: 'OperationNotAllowed', message: 'Another operation is in progress.\nat line two' },
      code: 'ARM_FAILED',
      reason: /^Resource Manager answered HTTP 409 OperationNotAllowed: Another operation is in progress\.$/,
      fix: /^Check cluster 'aks1' in the portal; run again with system\.debug/,
    },
    {
      name: 'no status nor code',
      failure: { message: 'socket hang up' },
      code: 'ARM_FAILED',
      reason: /^Resource Manager answered socket hang up$/,
      fix: /portal/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const e = explainArmFailure(c.failure, { ...ctx, ...c.context });
      assert.strictEqual(e.code, c.code);
      assert.match(e.reason, c.reason);
      assert.match(e.fix, c.fix);
    });
  }
});

describe('armErrors: any failure of a Resource Manager call as an ExplainedError', () => {
  const what = "Getting the cluster user credential of 'aks1'";

  it('an ExplainedError goes through unchanged', () => {
    const given = new ExplainedError({ what: 'w', reason: 'r', fix: 'f', code: 'ARM_FOREIGN_URL' });
    assert.strictEqual(explainArmCallFailure(given, what, ctx), given);
  });

  it('an ArmCallError is explained from its failure, the cause kept', () => {
    const err = new ArmCallError({ statusCode: 403, code: 'AuthorizationFailed', message: AUTHORIZATION_FAILED });
    const e = explainArmCallFailure(err, what, ctx) as ExplainedError;
    assert.ok(e instanceof ExplainedError);
    assert.strictEqual(e.code, 'ARM_AUTHORIZATION_FAILED');
    assert.strictEqual(e.what, what);
    assert.strictEqual(e.cause, err);
  });

  it('an SDK RestError (anything with a statusCode) is explained by its status and code', () => {
    const restError = Object.assign(new Error("Resource group 'rg' could not be found."), {
      statusCode: 404,
      code: 'ResourceGroupNotFound',
    });
    const e = explainArmCallFailure(restError, what, ctx) as ExplainedError;
    assert.strictEqual(e.code, 'ARM_NOT_FOUND');
    assert.match(
      e.message,
      /^Getting the cluster user credential of 'aks1' failed \[ARM_NOT_FOUND\]: cluster 'aks1' was not found \(ResourceGroupNotFound\)/,
    );
  });

  it("no HTTP answer at all is Resource Manager unreachable, with the error's message", () => {
    const e = explainArmCallFailure(
      Object.assign(new Error('getaddrinfo ENOTFOUND management.azure.com'), { code: 'ENOTFOUND' }),
      what,
      ctx,
    ) as ExplainedError;
    assert.strictEqual(e.code, 'ARM_UNREACHABLE');
    assert.strictEqual(e.reason, 'getaddrinfo ENOTFOUND management.azure.com');
    assert.match(e.fix, /reach Resource Manager/);
  });
});
