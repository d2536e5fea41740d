// Synthesizes the TypeScript example (examples/app.ts) into the outdir given as the only argument.
// Used by test/python/smoke.sh to compare it with examples/python/app.py.
import { buildExampleApp } from '../../examples/app';

const outdir = process.argv[2];
if (!outdir) {
  throw new Error('usage: ts-node test/python/synth-ts.ts <outdir>');
}
buildExampleApp(outdir).synth();
