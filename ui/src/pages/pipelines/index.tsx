// The pipeline canvas screens: the list and the editor.
export { PipelineListPage } from './PipelineListPage';
export { PipelineEditorPage } from './PipelineEditorPage';
