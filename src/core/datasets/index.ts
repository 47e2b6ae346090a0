// Datasets from anywhere: JSONL helpers, deterministic splits, Hub pulls, workspace files and
// CSV → JSONL, and the provenance written next to every produced file. Pure Node (no vscode),
// so the extension and the CLI share it.

export { parseJsonl, readJsonl, toJsonl, writeJsonl, writeJsonlAtomic, toJsonValue } from './jsonl';
export type { DatasetRecord, JsonValue } from './jsonl';
export { mulberry32, seededShuffle } from './prng';
export { contentKey, dedupeRecords } from './dedupe';
export type { DedupeResult } from './dedupe';
export { splitRecords, splitFile, datasetStem } from './split';
export type { SplitOptions, SplitResult, SplitFileResult } from './split';
export { provenancePath, readProvenance, readProvenanceChecked, writeProvenance, roleForSplitName } from './provenance';
export type { DatasetProvenance, SplitRole } from './provenance';
export { parseFieldMap, applyFieldMap } from './fieldMap';
export type { ColumnMapping } from './fieldMap';
export { parseCsv, csvToRecords } from './csv';
export { compilePathGlob, type PathGlob } from './glob';
export { GitignoreMatcher, parseGitignore } from './gitignore';
export type { GitignoreRule } from './gitignore';
export { walkFiles } from './walk';
export type { WalkedFile, WalkOptions } from './walk';
export { chunkText } from './chunk';
export { filesToRecords, DEFAULT_CHUNK_CHARS } from './fromFiles';
export type { FromFilesOptions, FromFilesResult } from './fromFiles';
export {
  listHubDataset,
  pullHubDataset,
  chooseConfig,
  defaultPullOutput,
  defaultCacheDir,
  resolveEndpoint,
  resolveToken,
  DEFAULT_HUB_ENDPOINT,
} from './hub/pull';
export type { HubConnection, HubDatasetListing, PullOptions, PullResult } from './hub/pull';
export { downloadHubFile } from './hub/download';
export type { DownloadProgress, DownloadResult, HubFileDownload } from './hub/download';
export { readDataFile, readParquetRecords, streamDataRecords } from './hub/convert';
export { HubDatasetError, describeHubError } from './hub/errors';
export type { HubErrorKind } from './hub/errors';
export { groupDataFiles, inferConfigAndSplit, dataFileFormat, PARQUET_CONVERSION_REVISION } from './hub/layout';
export type { HubConfig, HubSplit, HubDataFile, DataFileFormat } from './hub/layout';
