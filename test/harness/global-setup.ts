import { ensureCfnLint } from './cfn-lint';

/** Jest global setup: installs the pinned cfn-lint into its venv once, before any test file runs. */
export default function globalSetup(): void {
  ensureCfnLint();
}
