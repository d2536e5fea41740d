import { ensureCfnLint } from './cfn-lint';
import { ensureWorkflowLinters } from './workflow-linters';

/** Jest global setup: installs the pinned cfn-lint, actionlint and zizmor once, before any test file runs. */
export default function globalSetup(): void {
  ensureCfnLint();
  ensureWorkflowLinters();
}
