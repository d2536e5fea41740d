export * from './staging-environment';
export * from './networking';
export * from './edge';
export * from './service';
export * from './secrets';
export * from './observability';
export * from './pipeline';
export * from './schedule';
