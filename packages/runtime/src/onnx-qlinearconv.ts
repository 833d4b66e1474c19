/**
 * Writes a one-node ONNX model (QLinearConv, uint8 activations × per-channel int8 weights, NCHW)
 * for the benchmark's onnxruntime-web reference. A few protobuf fields by hand are smaller than
 * a dependency on an ONNX writer.
 */

class ProtoWriter {
  private readonly parts: number[] = [];

  varint(field: number, value: number): this {
    this.key(field, 0);
    this.raw(value);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2);
    this.raw(value.length);
    for (const b of value) this.parts.push(b);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }

  private key(field: number, wireType: number) {
    this.raw(field * 8 + wireType);
  }

  private raw(value: number) {
    // Non-negative values only (all this model needs).
    let v = value;
    while (v >= 0x80) {
      this.parts.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.parts.push(v);
  }
}

const DTYPE = { float: 1, uint8: 2, int8: 3, int32: 6 } as const;
type DType = keyof typeof DTYPE;

function tensor(w: ProtoWriter, name: string, dtype: DType, dims: readonly number[], data: ArrayBufferView) {
  for (const d of dims) w.varint(1, d);
  w.varint(2, DTYPE[dtype]);
  w.string(8, name);
  w.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function valueInfo(w: ProtoWriter, name: string, dtype: DType, dims: readonly number[]) {
  w.string(1, name);
  w.message(2, (type) =>
    type.message(1, (t) => {
      t.varint(1, DTYPE[dtype]);
      t.message(2, (shape) => {
        for (const d of dims) shape.message(1, (dim) => dim.varint(1, d));
      });
    }),
  );
}

export interface QLinearConvModel {
  /** Input x: uint8 [1, inChannels, height, width]. */
  readonly height: number;
  readonly width: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  /** int8 weights [outChannels][inChannels][k][k] (OIHW). */
  readonly weights: Int8Array;
  readonly inputScale: number;
  /** Per output channel. */
  readonly weightScales: Float32Array;
  readonly outputScale: number;
}

/** An ONNX model (opset 13) computing y = QLinearConv(x) with 'same' padding, stride 1, zero points 0. */
export function qlinearConvModel(m: QLinearConvModel): Uint8Array {
  const pad = (m.kernel - 1) / 2;
  const x = [1, m.inChannels, m.height, m.width];
  const y = [1, m.outChannels, m.height, m.width];
  const model = new ProtoWriter();
  model.varint(1, 8); // ir_version
  model.string(2, 'quantnas-runtime-bench');
  model.message(8, (op) => op.string(1, '').varint(2, 13));
  model.message(7, (graph) => {
    graph.message(1, (node) => {
      for (const input of ['x', 'x_scale', 'x_zero_point', 'w', 'w_scale', 'w_zero_point', 'y_scale', 'y_zero_point']) node.string(1, input);
      node.string(2, 'y');
      node.string(3, 'conv');
      node.string(4, 'QLinearConv');
      const ints = (name: string, values: number[]) =>
        node.message(5, (a) => {
          a.string(1, name);
          for (const v of values) a.varint(8, v);
          a.varint(20, 7);
        });
      ints('kernel_shape', [m.kernel, m.kernel]);
      ints('pads', [pad, pad, pad, pad]);
      ints('strides', [1, 1]);
    });
    graph.string(2, 'qlinearconv');
    graph.message(5, (t) => tensor(t, 'x_scale', 'float', [], new Float32Array([m.inputScale])));
    graph.message(5, (t) => tensor(t, 'x_zero_point', 'uint8', [], new Uint8Array(1)));
    graph.message(5, (t) => tensor(t, 'w', 'int8', [m.outChannels, m.inChannels, m.kernel, m.kernel], m.weights));
    graph.message(5, (t) => tensor(t, 'w_scale', 'float', [m.outChannels], m.weightScales));
    graph.message(5, (t) => tensor(t, 'w_zero_point', 'int8', [m.outChannels], new Int8Array(m.outChannels)));
    graph.message(5, (t) => tensor(t, 'y_scale', 'float', [], new Float32Array([m.outputScale])));
    graph.message(5, (t) => tensor(t, 'y_zero_point', 'uint8', [], new Uint8Array(1)));
    graph.message(11, (v) => valueInfo(v, 'x', 'uint8', x));
    graph.message(12, (v) => valueInfo(v, 'y', 'uint8', y));
  });
  return model.finish();
}
