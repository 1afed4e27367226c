import * as assert from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { claimBlock, cleanupStaleNamespaces, releaseBlockClaim } from './netns';

/**
 * Spec files run side by side (mocha --parallel), each in its own process, and each allocates
 * veth blocks on the host: a block one process claimed is never handed to another while its
 * owner runs, and a dead owner's claim is freed by the next stale cleanup.
 */
describe('sandbox network: veth block claims across test processes', function () {
  // A block far from where allocations start, so a real network in another process is unlikely to hold it.
  const BLOCK = 8191;
  const claimFile = path.join(os.tmpdir(), 'pad-netns-blocks', String(BLOCK));

  afterEach(() => releaseBlockClaim(claimFile));

  it('refuses a block another live process claimed, and frees it once that process is gone', async () => {
    // A node process that claims the block and stays alive until we let it go.
    const claimer = `const { claimBlock } = require(${JSON.stringify(require.resolve('./netns'))});
            const f = claimBlock(${BLOCK}); process.stdout.write(f ? 'claimed' : 'refused');`;
    const holder = spawnSync(process.execPath, ['-e', `${claimer}; process.exit(0)`], { encoding: 'utf8' });
    assert.strictEqual(holder.stdout, 'claimed');
    const owner = Number(fs.readFileSync(claimFile, 'utf8'));
    assert.ok(owner > 0 && owner !== process.pid);

    // Its owner has exited: still refused until a stale cleanup has run...
    assert.strictEqual(claimBlock(BLOCK), undefined);
    await cleanupStaleNamespaces();
    // ...then free again.
    const mine = claimBlock(BLOCK);
    assert.ok(mine, "the dead owner's claim was not freed");
    assert.strictEqual(Number(fs.readFileSync(mine, 'utf8')), process.pid);
    // And while this process holds it, nobody else gets it.
    const other = spawnSync(process.execPath, ['-e', claimer], { encoding: 'utf8' });
    assert.strictEqual(other.stdout, 'refused');
    await cleanupStaleNamespaces();
    assert.ok(fs.existsSync(mine), "a live owner's claim was removed");
  });
});
