import * as assert from 'assert';
import type { PreflightOutcome } from '../../tasks/PrivateAksDeployV1/preflight';
import type { RequestedRoute } from '../../tasks/PrivateAksDeployV1/inputs';
import { chooseRoute } from '../../tasks/PrivateAksDeployV1/route';

/** An outcome as the preflight returns it; only the diagnosis decides the route. */
function outcome(label: string, ok: boolean): PreflightOutcome {
  return {
    target: {
      probe: { label, host: 'h', port: 443, path: '/', reachableStatuses: [200] },
      context: { kind: 'aksApiServer', resourceName: 'aks1' },
    },
    result: { probe: { label, host: 'h', port: 443, path: '/', reachableStatuses: [200] }, ok, steps: [], addresses: [] },
    diagnosis: { ok, code: ok ? 'OK' : 'TCP_TIMEOUT', reason: '', fix: '' },
  };
}

/** Which route deploys: the input's choice, and with auto the API server's line of sight (the registry's never decides). */
describe('route: which way the deployment goes', () => {
  const api = (ok: boolean) => outcome('AKS API server', ok);
  const registry = (ok: boolean) => outcome('ACR login server', ok);
  const cases: { requested: RequestedRoute; outcomes: PreflightOutcome[]; chosen: string; why: string }[] = [
    { requested: 'auto', outcomes: [api(true)], chosen: 'direct', why: 'the agent reaches the API server' },
    { requested: 'auto', outcomes: [api(false)], chosen: 'runCommand', why: 'no line of sight: run command instead' },
    {
      requested: 'auto',
      outcomes: [api(true), registry(false)],
      chosen: 'direct',
      why: "a blocked registry is a warning, not the route's concern",
    },
    {
      requested: 'auto',
      outcomes: [api(false), registry(true)],
      chosen: 'runCommand',
      why: 'the API server decides even when the registry answers',
    },
    { requested: 'direct', outcomes: [api(true)], chosen: 'direct', why: 'asked for and reachable' },
    { requested: 'direct', outcomes: [api(false)], chosen: 'blocked', why: 'asked for and unreachable: the task fails with the diagnosis' },
    { requested: 'runCommand', outcomes: [], chosen: 'runCommand', why: 'nothing probed: run command needs no line of sight' },
    { requested: 'runCommand', outcomes: [api(true)], chosen: 'runCommand', why: 'asked for, whatever the line of sight' },
  ];
  for (const c of cases) {
    it(`${c.requested}, API server ${c.outcomes[0] ? (c.outcomes[0].diagnosis.ok ? 'reachable' : 'blocked') : 'not probed'} → ${c.chosen}: ${c.why}`, () => {
      assert.strictEqual(chooseRoute(c.requested, c.outcomes), c.chosen);
    });
  }
});
