import { connect } from 'node:net';

/** What came back for a raw request: status 0 when the server closed without an answer. */
export interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

/**
 * Sends `request` byte for byte over a plain socket (fetch would normalise the
 * request target, the method and the headers) and reads until the server
 * closes or `timeoutMs` passes; with `headOnly`, until the status line and
 * headers are in (a stream never closes).
 */
export function rawRequest(
  port: number,
  request: string | Buffer,
  timeoutMs = 5000,
  headOnly = false,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = finalResponse(Buffer.concat(chunks).toString('latin1'));
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : 0, head, body });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (headOnly && finalResponse(Buffer.concat(chunks).toString('latin1')).includes('\r\n\r\n')) finish();
    });
    socket.on('end', finish);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.write(request);
  });
}

/** The response after any interim `1xx` ones (`100 Continue`). */
function finalResponse(text: string): string {
  let rest = text;
  while (/^HTTP\/1\.[01] 1\d\d/.test(rest) && rest.includes('\r\n\r\n'))
    rest = rest.slice(rest.indexOf('\r\n\r\n') + 4);
  return rest;
}

/** A GET of `target` as written, one request per connection. */
export const rawGet = (port: number, target: string, headers = ''): Promise<RawAnswer> =>
  rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers}\r\n`);
