/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length, a JSON header `{ name: { dtype, shape, data_offsets: [begin, end] } }`, then
 * the raw little-endian data. Only F32 is written or read here.
 */
import { DataError } from './errors.js';

export interface NamedTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

export function encodeSafetensors(tensors: NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.values.byteLength] };
    offset += t.values.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keeps the data 8-byte aligned
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength), at);
    at += t.values.byteLength;
  }
  return out;
}

/** Parses and validates a whole file; `file` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, file: string): NamedTensor[] {
  const fail = (why: string): never => {
    throw new DataError(`${file}: not a valid safetensors file: ${why}`);
  };
  if (bytes.length < 8) fail(`only ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8) fail(`header of ${headerLength} bytes in a file of ${bytes.length}`);
  let header: Record<string, { dtype?: string; shape?: number[]; data_offsets?: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    return fail(`header is not JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors: NamedTensor[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info?.dtype !== 'F32') fail(`tensor '${name}' has dtype ${info?.dtype}, only F32 is supported`);
    const shape = info.shape;
    const [begin, end] = info.data_offsets ?? [];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor '${name}' has a bad shape`);
    const count = shape!.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin! < 0 || end! > dataLength || end! - begin! !== count * 4) {
      fail(`tensor '${name}' has data offsets [${begin}, ${end}] that do not fit its shape [${shape}] or the file (truncated?)`);
    }
    // Copy: the file's bytes need not be 4-byte aligned.
    const values = new Float32Array(count);
    new Uint8Array(values.buffer).set(bytes.subarray(dataStart + begin!, dataStart + end!));
    tensors.push({ name, shape: shape!, values });
  }
  return tensors;
}
