import { readFileSync } from 'node:fs';

/**
 * The package's name and version, read from package.json beside src/ and dist/ (both are one
 * folder below the package root, so the same relative path works from a checkout and a build).
 */
export function packageInfo(): { name: string; version: string } {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    name?: unknown;
    version?: unknown;
  };
  return {
    name: typeof pkg.name === 'string' ? pkg.name : 'tollgate',
    version: typeof pkg.version === 'string' ? pkg.version : '0.0.0',
  };
}
