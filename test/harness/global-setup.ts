import { ensureCfnLint } from './cfn-lint';
import { ensureCheckov } from './checkov';
import { ensureShellcheck } from './scripts';
import { ensureWorkflowLinters } from './workflow-linters';

/** Jest global setup: installs the pinned cfn-lint, checkov, actionlint, zizmor and shellcheck once, before any test file runs. */
export default function globalSetup(): void {
  ensureCfnLint();
  ensureCheckov();
  ensureWorkflowLinters();
  ensureShellcheck();
}
