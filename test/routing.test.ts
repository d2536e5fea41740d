import { certificateNameCovers } from '../src/private/certificate-names';
import { derivePriority, globContains, shadows } from '../src/private/routing';

describe('routing', () => {
  test.each([
    ['/*', '/api/*', true],
    ['/api/*', '/api/v2/*', true],
    ['/api/*', '/api', false],
    ['/api*', '/api', true],
    ['/api/*', '/*', false],
    ['/a?c', '/abc', true],
    ['/a?c', '/a*c', false],
    ['*', '', true],
    ['*.example.com', 'api.example.com', true],
    ['*.example.com', 'example.com', false],
    ['api.example.com', '*.example.com', false],
    ['/*/x', '/a/b/x', true],
  ])('globContains(%p, %p) is %p', (general, specific, expected) => {
    expect(globContains(general, specific)).toBe(expected);
  });

  test('a route shadows another only when it matches every request of the other', () => {
    const domainHost = { hosts: ['staging.example.com'], paths: [] };
    const apiOnDomain = { hosts: ['staging.example.com'], paths: ['/api/*'] };
    const apiAnywhere = { hosts: [], paths: ['/api/*'] };
    expect(shadows(domainHost, apiOnDomain)).toBe(true);
    expect(shadows(apiOnDomain, domainHost)).toBe(false);
    expect(shadows(apiAnywhere, apiOnDomain)).toBe(true);
    expect(shadows(apiOnDomain, apiAnywhere)).toBe(false);
    // Host headers are case-insensitive; paths are not.
    expect(shadows({ hosts: ['STAGING.example.com'], paths: [] }, apiOnDomain)).toBe(true);
    expect(shadows({ hosts: [], paths: ['/API/*'] }, apiAnywhere)).toBe(false);
  });

  test('derives the same priority for the same name and route, in bands by kind', () => {
    const path = derivePriority('api', { hosts: [], paths: ['/api/*'] });
    expect(derivePriority('api', { hosts: [], paths: ['/api/*'] })).toBe(path);
    expect(path).toBeGreaterThan(16000);
    expect(path).toBeLessThanOrEqual(32000);
    expect(derivePriority('api', { hosts: ['a.example.com'], paths: ['/api/*'] })).toBeLessThanOrEqual(16000);
    const host = derivePriority('api', { hosts: ['a.example.com'], paths: [] });
    expect(host).toBeGreaterThan(32000);
    expect(host).toBeLessThanOrEqual(48000);
  });

  test.each([
    ['api.example.com', 'api.example.com', true],
    ['API.example.com.', 'api.example.com', true],
    ['*.example.com', 'api.example.com', true],
    ['*.example.com', '*.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', '*.staging.example.com', false],
    ['example.com', 'api.example.com', false],
  ])('certificate name %p covers host %p: %p (a wildcard covers one label)', (certified, host, expected) => {
    expect(certificateNameCovers(certified, host)).toBe(expected);
  });
});
