/** Benchmark child (ours): synthesizes the example app once. */
import { measure } from './measure';
import { buildExampleApp } from '../examples/app';

measure((outdir) => buildExampleApp(outdir));
