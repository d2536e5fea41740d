/** Benchmark child (scale): synthesizes an environment of N services (`node child-scale.js N`). */
import { measure } from './measure';
import { buildManyServicesApp } from '../examples/many-services';

measure((outdir) => buildManyServicesApp(Number(process.argv[2]), outdir));
