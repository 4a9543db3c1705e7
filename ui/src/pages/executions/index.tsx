// Executions: the list of pipeline runs and one run's detail.
export { ExecutionListPage } from './ExecutionListPage';
export { ExecutionDetailPage } from './ExecutionDetailPage';
export { DetectionOverlay } from './DetectionOverlay';
