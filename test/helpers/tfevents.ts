// An independent reader of TensorBoard event files for the tests: a bit-by-bit CRC-32C (not the
// table-driven @aws-crypto/crc32c the writer uses) and protobufjs decoding with TensorFlow's own
// field numbers (event.proto, summary.proto, tensor.proto) — nothing shared with src/core/tensorboard.
import * as fs from 'fs';
import * as protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package tensorflow;
message TensorShapeProto { message Dim { int64 size = 1; string name = 2; } repeated Dim dim = 2; bool unknown_rank = 3; }
message TensorProto { int32 dtype = 1; TensorShapeProto tensor_shape = 2; int32 version_number = 3; bytes tensor_content = 4;
  repeated float float_val = 5 [packed = true]; repeated bytes string_val = 8; }
message SummaryMetadata { message PluginData { string plugin_name = 1; bytes content = 2; }
  PluginData plugin_data = 1; string display_name = 2; string summary_description = 3; int32 data_class = 4; }
message Summary { message Value { string node_name = 7; string tag = 1; SummaryMetadata metadata = 9;
  oneof value { float simple_value = 2; bytes obsolete_old_style_histogram = 3; TensorProto tensor = 8; } }
  repeated Value value = 1; }
message SessionLog { enum SessionStatus { STATUS_UNSPECIFIED = 0; START = 1; STOP = 2; CHECKPOINT = 3; }
  SessionStatus status = 1; string checkpoint_path = 2; string msg = 3; }
message Event { double wall_time = 1; int64 step = 2;
  oneof what { string file_version = 3; bytes graph_def = 4; Summary summary = 5; SessionLog session_log = 6; } }
`;

const EventType = protobuf.parse(PROTO).root.lookupType('tensorflow.Event');

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one bit at a time. */
export function crc32cBitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function masked(data: Uint8Array): number {
  const crc = crc32cBitwise(data);
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + 0xa282ead8) % 2 ** 32;
}

export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars: Record<string, number>;
  texts: Record<string, { plugin: string; text: string }>;
  sessionStart: boolean;
}

/** Every record of an event file, CRCs checked; throws on a bad length or a bad CRC. */
export function readEventFile(file: string): DecodedEvent[] {
  const buf = fs.readFileSync(file);
  const events: DecodedEvent[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 12 > buf.length) throw new Error(`${file}: truncated record header at byte ${at}`);
    const lengthBytes = buf.subarray(at, at + 8);
    if (buf.readUInt32LE(at + 8) !== masked(lengthBytes)) throw new Error(`${file}: bad length CRC at byte ${at}`);
    const length = Number(buf.readBigUInt64LE(at));
    const data = buf.subarray(at + 12, at + 12 + length);
    if (data.length !== length || at + 16 + length > buf.length) throw new Error(`${file}: truncated record at byte ${at}`);
    if (buf.readUInt32LE(at + 12 + length) !== masked(data)) throw new Error(`${file}: bad data CRC at byte ${at}`);
    at += 16 + length;
    const e = EventType.toObject(EventType.decode(data), { longs: Number, bytes: Buffer, enums: String }) as {
      wallTime?: number; step?: number; fileVersion?: string; sessionLog?: { status?: string };
      summary?: { value?: { tag: string; simpleValue?: number; metadata?: { pluginData?: { pluginName?: string } }; tensor?: { stringVal?: Buffer[] } }[] };
    };
    const decoded: DecodedEvent = {
      wallTime: e.wallTime ?? 0, step: e.step ?? 0, fileVersion: e.fileVersion, scalars: {}, texts: {}, sessionStart: e.sessionLog?.status === 'START',
    };
    for (const v of e.summary?.value ?? []) {
      if (v.simpleValue !== undefined) decoded.scalars[v.tag] = v.simpleValue;
      if (v.tensor) decoded.texts[v.tag] = { plugin: v.metadata?.pluginData?.pluginName ?? '', text: Buffer.concat(v.tensor.stringVal ?? []).toString('utf8') };
    }
    events.push(decoded);
  }
  return events;
}
