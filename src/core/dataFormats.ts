// The names of the data formats a run trains on (what `--format` accepts). A leaf module: the method
// registry, the run config and the data layer all name formats, and none of them imports another for it.

export const DATA_FORMATS = ['auto', 'messages', 'prompt-completion', 'text', 'preference'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];
/** a format a file can actually be in ('auto' is a request to detect one). */
export type RecordFormat = Exclude<DataFormat, 'auto'>;
