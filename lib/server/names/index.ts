/** Name rules for every kind of API object, and the path helper beneath them. */
export { apiNameProblem } from './api-name';
export { childPath, ownDir, pathComponentProblem } from './child-path';
export { hostnameProblem } from './hostname';
export * from './validators';
