// Just enough protobuf wire format to write TensorBoard's Event messages: varints, 64-bit doubles,
// 32-bit floats and length-delimited fields (strings, bytes, nested messages). Fields are written in
// the order given; protobuf readers accept any order.

export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];

  /** wire type 0: int32/int64/enum/bool. */
  varint(field: number, value: number): this {
    this.tag(field, 0);
    this.rawVarint(value);
    return this;
  }

  /** wire type 1: double. */
  double(field: number, value: number): this {
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    this.parts.push(b);
    return this;
  }

  /** wire type 5: float. */
  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    this.parts.push(b);
    return this;
  }

  /** wire type 2: a string (UTF-8), bytes, or a nested message's bytes. */
  bytes(field: number, value: string | Uint8Array | ProtoWriter): this {
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value instanceof ProtoWriter ? value.finish() : value;
    this.tag(field, 2);
    this.rawVarint(data.length);
    this.parts.push(data);
    return this;
  }

  finish(): Uint8Array {
    return Buffer.concat(this.parts);
  }

  private tag(field: number, wireType: number): void {
    this.rawVarint(field * 8 + wireType);
  }

  /** Non-negative integers up to 2^53 (steps, lengths, enums): 7 bits per byte, low bits first. */
  private rawVarint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`protobuf varint: ${value} is not a non-negative safe integer`);
    const bytes: number[] = [];
    let v = value;
    while (v >= 0x80) {
      bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    bytes.push(v);
    this.parts.push(Uint8Array.from(bytes));
  }
}
