import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';

/** What a pipeline source gives the pipeline once bound. */
export interface BoundSource {
  /** The source action. */
  readonly action: codepipeline.IAction;
  /** A version of the source that fits an image tag: the commit id, or the object's e-tag. */
  readonly version: string;
}
