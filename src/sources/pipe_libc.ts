// The C library calls the pipe readers need and Deno has no API for: FIFOs, non-blocking reads
// straight into shared memory, poll(2), a larger pipe buffer (F_SETPIPE_SZ), an eventfd to wake a
// poll, a clock every thread shares, and errno.

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "pointer", "usize"], result: "isize" },
  readInto: { name: "read", parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  mkfifo: { parameters: ["buffer", "u32"], result: "i32" },
  unlink: { parameters: ["buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  // Blocks the calling thread (a reader thread, which has nothing else to do): a nonblocking
  // call ran on a thread of Deno's pool and woke two threads per wait. Messages to the thread
  // wake it through its eventfd.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  // Frame times cross threads: each thread's performance.now() counts from its own start, and
  // its timeOrigin is a wall-clock reading that a clock step (NTP, a resumed VM) puts off.
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The loaded symbols. */
export type PipeLibc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** open(2) flags, Linux. */
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
/** fcntl(2) F_SETPIPE_SZ, Linux. */
export const F_SETPIPE_SZ = 1031;
/** ioctl(2) FIONREAD (bytes waiting in a pipe), Linux. */
export const FIONREAD = 0x541b;
/** errno EAGAIN and EINTR, Linux. */
export const EAGAIN = 11;
export const EINTR = 4;
/** poll(2) events. */
export const POLLIN = 1;
export const POLLERR = 8;
export const POLLHUP = 16;
export const POLLNVAL = 32;
/** eventfd(2) flags. */
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;

/** clock_gettime(2) CLOCK_MONOTONIC, Linux. */
export const CLOCK_MONOTONIC = 1;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

/** The C library's pipe calls, or null where they cannot be loaded (no FFI permission, not glibc). */
export function pipeLibc(): PipeLibc | null {
  if (lib === undefined) {
    try {
      lib = Deno.dlopen("libc.so.6", SYMBOLS);
    } catch {
      lib = null;
    }
  }
  return lib?.symbols ?? null;
}

const encoder = new TextEncoder();

/** A NUL-terminated path for the C calls. */
export function cPath(path: string): Uint8Array {
  return encoder.encode(`${path}\0`);
}

/** A struct timespec (two 64-bit words, little-endian), reused by {@linkcode monotonicMs}. */
const timespec = new Uint32Array(4);

/**
 * CLOCK_MONOTONIC in milliseconds: the same on every thread of the process, and never stepped by
 * a change of the wall clock.
 */
export function monotonicMs(c: PipeLibc): number {
  c.clock_gettime(CLOCK_MONOTONIC, timespec);
  return (timespec[0]! + timespec[1]! * 2 ** 32) * 1000 + timespec[2]! / 1e6;
}

/** The calling thread's errno (right after a failed call). */
export function errno(c: PipeLibc): number {
  const at = c.__errno_location();
  return at === null ? 0 : new Deno.UnsafePointerView(at).getInt32();
}

/** Thrown when a FIFO cannot be made; names the path and errno. */
export class FifoError extends Error {
  readonly path: string;
  readonly errno: number;

  constructor(path: string, code: number) {
    super(`Cannot make the frame FIFO ${path}: errno ${code}`);
    this.name = "FifoError";
    this.path = path;
    this.errno = code;
  }
}

/**
 * Makes a FIFO at `path` (mode 0600).
 *
 * @throws {FifoError} naming the path and errno when it cannot be made
 */
export function makeFifo(c: PipeLibc, path: string): void {
  if (c.mkfifo(cPath(path), 0o600) !== 0) throw new FifoError(path, errno(c));
}
