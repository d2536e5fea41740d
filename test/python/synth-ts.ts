// Synthesizes a TypeScript example into the outdir given as the first argument: examples/app.ts,
// or examples/preview.ts with `preview` as the second.
// Used by test/python/smoke.sh to compare them with examples/python/app.py and preview.py.
import { buildExampleApp } from '../../examples/app';
import { buildPreviewApp } from '../../examples/preview';

const [outdir, example = 'app'] = process.argv.slice(2);
if (!outdir || !['app', 'preview'].includes(example)) {
  throw new Error('usage: ts-node test/python/synth-ts.ts <outdir> [app|preview]');
}
(example === 'preview' ? buildPreviewApp(outdir) : buildExampleApp(outdir)).synth();
