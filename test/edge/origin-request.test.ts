import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { handleRequest, type OriginRequestEvent } from '../../src/edge/origin-request';
import type { EdgeConfig } from '../../src/edge/router';

const config: EdgeConfig = { repositories: [{ prefix: 'arch/', format: 'pacman' }, { prefix: 'yum/', format: 'yum' }] };

/** A CloudFront origin-request event as Lambda@Edge delivers it (trimmed to what matters). */
function event(uri: string): OriginRequestEvent {
  return {
    Records: [{
      cf: {
        request: {
          clientIp: '203.0.113.10',
          method: 'GET',
          uri,
          querystring: '',
          headers: { host: [{ key: 'Host', value: 'bucket.s3.eu-west-1.amazonaws.com' }] },
          origin: { s3: { domainName: 'bucket.s3.eu-west-1.amazonaws.com', path: '', authMethod: 'origin-access-control' } },
        },
      },
    }],
  };
}

describe('handleRequest', () => {
  it('rewrites the uri and forwards the rest of the request untouched', () => {
    const request = event('/arch/core/os/x86_64/core.db').Records[0].cf.request;
    const result = handleRequest({ ...request }, config);
    expect(result).toEqual({ ...request, uri: '/arch/core/os/x86_64/core.db.tar.gz' });
  });

  it('answers 404 itself for paths outside the repositories', () => {
    const result = handleRequest(event('/private/x').Records[0].cf.request, config);
    expect(result).toMatchObject({ status: '404', statusDescription: 'Not Found' });
    expect((result as { body: string }).body).toContain('not under a repository prefix');
  });
});

describe('the bundled handler (assets/edge/index.js)', () => {
  it('reads config.json next to it and routes a real event', () => {
    // GIVEN the bundle copied next to a config.json, as the constructs stage it
    const dir = mkdtempSync(path.join(tmpdir(), 'edge-'));
    writeFileSync(path.join(dir, 'index.js'), readFileSync(path.join(__dirname, '..', '..', 'assets', 'edge', 'index.js')));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    writeFileSync(path.join(dir, 'event.json'), JSON.stringify(event('/yum/')));
    // WHEN it runs in a plain node process
    const out = execFileSync(process.execPath, ['-e', `
      require('./index.js').handler(require('./event.json')).then((r) => process.stdout.write(JSON.stringify(r)));
    `], { cwd: dir, encoding: 'utf8' });
    // THEN
    expect(JSON.parse(out).uri).toBe('/yum/index.html');
  });
});
