import { ensureCfnLint } from './cfn-lint';
import { ensureCheckov } from './checkov';
import { ensureMoto } from './moto';
import { ensureParliament } from './parliament';
import { ensureShellcheck } from './scripts';
import { ensureWorkflowLinters } from './workflow-linters';

/** Jest global setup: installs the pinned cfn-lint, checkov, parliament, actionlint, zizmor, shellcheck and moto once, before any test file runs. */
export default function globalSetup(): void {
  ensureCfnLint();
  ensureCheckov();
  ensureParliament();
  ensureWorkflowLinters();
  ensureShellcheck();
  ensureMoto();
}
