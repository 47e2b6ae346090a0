// TensorBoard event files (events.out.tfevents.<time>.<host>): TFRecord framing around serialized
// tensorflow.Event protos, as tf.summary and tensorboardX write them.
//
//   record = uint64 length (LE) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
//
// Field numbers from tensorflow/core/util/event.proto and framework/summary.proto, tensor.proto.
import { crc32c } from '@aws-crypto/crc32c';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ProtoWriter } from './protobuf';

const EVENT = { wall_time: 1, step: 2, file_version: 3, summary: 5, session_log: 6 } as const;
const SUMMARY = { value: 1 } as const;
const VALUE = { tag: 1, simple_value: 2, tensor: 8, metadata: 9 } as const;
const METADATA = { plugin_data: 1 } as const;
const PLUGIN_DATA = { plugin_name: 1 } as const;
const TENSOR = { dtype: 1, tensor_shape: 2, string_val: 8 } as const;
const DT_STRING = 7;
const SESSION_LOG = { status: 1 } as const;
const SESSION_START = 1;

/** TFRecord's CRC mask (crc rotated right by 15 plus a constant), so CRCs of CRCs stay well spread. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

export function tfRecord(data: Uint8Array): Buffer {
  const header = Buffer.alloc(12);
  header.writeBigUInt64LE(BigInt(data.length), 0);
  header.writeUInt32LE(maskedCrc32c(header.subarray(0, 8)), 8);
  const footer = Buffer.alloc(4);
  footer.writeUInt32LE(maskedCrc32c(data), 0);
  return Buffer.concat([header, data, footer]);
}

export class EventFileWriter {
  readonly file: string;
  private fd: number | undefined;

  /** Opens a new event file in `dir` and writes the file-version event every reader expects first. */
  constructor(dir: string, now = Date.now()) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `events.out.tfevents.${Math.floor(now / 1000)}.${os.hostname()}.${process.pid}`);
    this.fd = fs.openSync(this.file, 'a');
    this.writeEvent(new ProtoWriter().double(EVENT.wall_time, now / 1000).varint(EVENT.step, 0).bytes(EVENT.file_version, 'brain.Event:2'));
  }

  /** One scalar per tag, all at `step`, in one Event. */
  scalars(step: number, values: Record<string, number>, wallTime = Date.now() / 1000): void {
    const summary = new ProtoWriter();
    for (const [tag, value] of Object.entries(values)) {
      summary.bytes(SUMMARY.value, new ProtoWriter().bytes(VALUE.tag, tag).float(VALUE.simple_value, value));
    }
    this.writeEvent(new ProtoWriter().double(EVENT.wall_time, wallTime).varint(EVENT.step, step).bytes(EVENT.summary, summary));
  }

  /** Text for TensorBoard's Text dashboard (Markdown): a string tensor tagged for the "text" plugin. */
  text(step: number, tag: string, markdown: string, wallTime = Date.now() / 1000): void {
    const tensor = new ProtoWriter().varint(TENSOR.dtype, DT_STRING).bytes(TENSOR.tensor_shape, new Uint8Array(0)).bytes(TENSOR.string_val, markdown);
    const metadata = new ProtoWriter().bytes(METADATA.plugin_data, new ProtoWriter().bytes(PLUGIN_DATA.plugin_name, 'text'));
    const value = new ProtoWriter().bytes(VALUE.tag, tag).bytes(VALUE.metadata, metadata).bytes(VALUE.tensor, tensor);
    this.writeEvent(new ProtoWriter().double(EVENT.wall_time, wallTime).varint(EVENT.step, step).bytes(EVENT.summary, new ProtoWriter().bytes(SUMMARY.value, value)));
  }

  /**
   * SessionLog START at `step`: TensorBoard then drops the points at or after `step` that earlier files
   * of this folder hold (its event accumulator keeps only steps below a START's step).
   */
  sessionStart(step: number, wallTime = Date.now() / 1000): void {
    this.writeEvent(new ProtoWriter().double(EVENT.wall_time, wallTime).varint(EVENT.step, step).bytes(EVENT.session_log, new ProtoWriter().varint(SESSION_LOG.status, SESSION_START)));
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private writeEvent(event: ProtoWriter): void {
    if (this.fd === undefined) throw new Error(`${this.file}: the event file is closed`);
    // One write per record, unbuffered: a reader (TensorBoard watching the folder) sees whole records.
    fs.writeSync(this.fd, tfRecord(event.finish()));
  }
}
