import { Reader, Writer } from '../protocol.js';

/** FindCoordinator v1-2 (identical on the wire): the broker coordinating a group (0) or transactional id (1). */

export function encodeFindCoordinatorRequest(_version: number, key: string, type: number): Buffer[] {
  return new Writer().string(key).int8(type).done();
}

export interface CoordinatorAnswer {
  code: number;
  message: string | null;
  node: number;
  host: string;
  port: number;
}

export function decodeFindCoordinatorResponse(body: Buffer, _version: number): CoordinatorAnswer {
  const r = new Reader(body);
  r.int32(); // throttle
  const code = r.int16();
  const message = r.string();
  const node = r.int32();
  const host = r.string() ?? '';
  const port = r.int32();
  return { code, message, node, host, port };
}
