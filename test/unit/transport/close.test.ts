import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

describe('close', () => {
  it('leaves no sockets or timers behind: the process exits by itself', async () => {
    const script = fileURLToPath(new URL('./child-close.js', import.meta.url));
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => {
      // Generous: only a leaked handle keeps the child alive this long.
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('exit', (c) => {
        clearTimeout(killer);
        resolve(c);
      });
    });
    const report = JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
      resources?: string[];
      error?: string;
    };
    assert.equal(report.error, undefined);
    assert.equal(code, 0, `child did not exit by itself; active: ${JSON.stringify(report.resources)}`);
    const leaked = (report.resources ?? []).filter((r) => /TCP|Timeout|Immediate|HTTP2/i.test(r));
    assert.deepEqual(leaked, []);
  });
});
