// Where one HTTP/1.1 request ends in a byte stream: its head up to the blank line, then its body
// by Content-Length. Enough to put a deadline on each request without parsing it further.

/** The longest request head taken (request line and headers), as Node's default. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** The largest request body taken: the exporter's endpoints take none. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Why a request cannot be passed on, with the status the client is answered. */
export class RequestFramingError extends Error {
  /** The HTTP status to answer before closing. */
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "RequestFramingError";
    this.status = status;
  }
}

/** What {@linkcode RequestFramer.push} found in a chunk. */
export interface FramedPart {
  /** Bytes to pass on now (a whole head, or part of a body). */
  bytes: Uint8Array;
  /** A request head was completed by these bytes. */
  headDone: boolean;
  /** A whole request (head and body) ended with these bytes. */
  requestDone: boolean;
}

const CR = 13;
const LF = 10;
const decoder = new TextDecoder();

/**
 * Follows the requests on one connection. Bytes of a head are held until the head is whole
 * (so a half-sent head never reaches the server), bodies pass through as they come.
 */
export class RequestFramer {
  #head = new Uint8Array(MAX_HEAD_BYTES);
  #headLength = 0;
  #bodyLeft = 0;
  #inBody = false;

  /** Whether part of a request head has arrived and the head is not whole yet. */
  get inHead(): boolean {
    return this.#headLength > 0;
  }

  /** Whether a request body is still arriving. */
  get inBody(): boolean {
    return this.#inBody;
  }

  /**
   * Takes the next bytes from the client; returns the parts to pass on, in order.
   *
   * @throws {RequestFramingError} for a head too large, a chunked or too large body, or a bad
   *   Content-Length
   */
  push(chunk: Uint8Array): FramedPart[] {
    const parts: FramedPart[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#inBody) {
        const n = Math.min(this.#bodyLeft, chunk.length - offset);
        this.#bodyLeft -= n;
        offset += n;
        const done = this.#bodyLeft === 0;
        if (done) this.#inBody = false;
        parts.push({
          bytes: chunk.subarray(offset - n, offset),
          headDone: false,
          requestDone: done,
        });
        continue;
      }
      const take = Math.min(chunk.length - offset, MAX_HEAD_BYTES - this.#headLength);
      const searchFrom = Math.max(0, this.#headLength - 3);
      this.#head.set(chunk.subarray(offset, offset + take), this.#headLength);
      const filled = this.#headLength + take;
      const end = findBlankLine(this.#head, searchFrom, filled);
      if (end < 0) {
        if (filled >= MAX_HEAD_BYTES) {
          throw new RequestFramingError(431, `request head over ${MAX_HEAD_BYTES} bytes`);
        }
        this.#headLength = filled;
        offset += take;
        continue;
      }
      offset += end - this.#headLength;
      const head = this.#head.slice(0, end);
      this.#headLength = 0;
      const length = bodyLength(head);
      this.#bodyLeft = length;
      this.#inBody = length > 0;
      parts.push({ bytes: head, headDone: true, requestDone: length === 0 });
    }
    return parts;
  }
}

/** The index just past the first CRLF CRLF in `bytes[from, to)`, or -1. */
function findBlankLine(bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (bytes[i] === CR && bytes[i + 1] === LF && bytes[i + 2] === CR && bytes[i + 3] === LF) {
      return i + 4;
    }
  }
  return -1;
}

/** The body length a request head announces. */
function bodyLength(head: Uint8Array): number {
  let length = 0;
  for (const line of decoder.decode(head).split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "transfer-encoding") {
      throw new RequestFramingError(411, "request bodies must have a Content-Length");
    }
    if (name === "content-length") {
      if (!/^\d{1,9}$/.test(value)) {
        throw new RequestFramingError(400, `bad Content-Length ${JSON.stringify(value)}`);
      }
      length = Number(value);
    }
  }
  if (length > MAX_BODY_BYTES) {
    throw new RequestFramingError(413, `request body over ${MAX_BODY_BYTES} bytes`);
  }
  return length;
}
