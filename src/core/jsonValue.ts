// A JSON value and a dataset record (one JSON object per line), as types only: browser-safe, so the
// protocol (and the webviews) can name them.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type DatasetRecord = { [key: string]: JsonValue };
