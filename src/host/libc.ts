// The few C library calls Deno has no API for: the open-files limit, and reading /proc/self, whose
// special files Deno's permissions let only --allow-all read (the exporter runs with FFI instead).

/** getrlimit/setrlimit's resource number of the open-files limit on Linux. */
const RLIMIT_NOFILE = 7;
const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;

const SYMBOLS = {
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  prctl: { parameters: ["i32", "buffer", "u64", "u64", "u64"], result: "i32" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

/** The C library, or null where it cannot be opened (no FFI permission, not glibc). */
function libc(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (lib === undefined) {
    try {
      lib = Deno.dlopen("libc.so.6", SYMBOLS);
    } catch {
      lib = null;
    }
  }
  return lib;
}

/** Whether the C library calls are available here. */
export function libcAvailable(): boolean {
  return libc() !== null;
}

/** prctl(2)'s option that names the calling thread (its `comm`, 15 bytes at most). */
const PR_SET_NAME = 15;

/**
 * Names the calling thread, as /proc/PID/task/TID/comm shows it (15 bytes at most): a worker
 * thread is otherwise `worker-N`, whatever it does. Threads it starts later inherit the name.
 *
 * @returns whether the name was set (false where the C library cannot be opened)
 */
export function nameThread(name: string): boolean {
  const c = libc();
  if (c === null) return false;
  const bytes = new Uint8Array(16);
  encoder.encodeInto(name.slice(0, 15), bytes.subarray(0, 15));
  return c.symbols.prctl(PR_SET_NAME, bytes, 0n, 0n, 0n) === 0;
}

/** The open-files limit, soft and hard; null where it cannot be read. */
export function openFilesLimit(): { soft: number; hard: number } | null {
  const c = libc();
  if (c === null) return null;
  const buf = new BigUint64Array(2);
  if (c.symbols.getrlimit(RLIMIT_NOFILE, buf) !== 0) return null;
  // RLIM_INFINITY (all ones) becomes Infinity.
  const toNumber = (v: bigint) => v === 0xffffffffffffffffn ? Infinity : Number(v);
  return { soft: toNumber(buf[0]!), hard: toNumber(buf[1]!) };
}

/**
 * Raises the soft open-files limit to the hard one, as Go's runtime does at start.
 *
 * @returns the limits before and after, or null where they cannot be read or set
 */
export function raiseOpenFilesLimit(): { before: number; after: number } | null {
  const c = libc();
  const limit = openFilesLimit();
  if (c === null || limit === null) return null;
  if (limit.soft >= limit.hard) return { before: limit.soft, after: limit.soft };
  const buf = new BigUint64Array(2);
  c.symbols.getrlimit(RLIMIT_NOFILE, buf);
  buf[0] = buf[1]!;
  if (c.symbols.setrlimit(RLIMIT_NOFILE, buf) !== 0) return null;
  return { before: limit.soft, after: openFilesLimit()?.soft ?? limit.soft };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A NUL-terminated path for the C calls. */
function cPath(path: string): Uint8Array {
  return encoder.encode(`${path}\0`);
}

/**
 * Reads a small file of /proc through the C library (at most `maxBytes`).
 *
 * @returns its text, or null where it cannot be read
 */
export function readProcFile(path: string, maxBytes = 16384): string | null {
  const c = libc();
  if (c === null) return null;
  const fd = c.symbols.open(cPath(path), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return null;
  try {
    const buf = new Uint8Array(maxBytes);
    let filled = 0;
    while (filled < buf.length) {
      const n = Number(c.symbols.read(fd, buf.subarray(filled), BigInt(buf.length - filled)));
      if (n <= 0) break;
      filled += n;
    }
    return decoder.decode(buf.subarray(0, filled));
  } finally {
    c.symbols.close(fd);
  }
}

/**
 * The names in a folder of /proc (e.g. `/proc/self/task`), less `.` and `..`.
 *
 * @returns the names, or null where the folder cannot be read
 */
export function listProcEntries(path: string): string[] | null {
  const names: string[] = [];
  return readEntries(path, (name) => names.push(name)) ? names : null;
}

/**
 * Counts the entries of a folder of /proc (e.g. `/proc/self/fd`), less `.` and `..` and the
 * descriptor used to read it when `selfFd` is set.
 *
 * @returns the count, or null where the folder cannot be read
 */
export function countProcEntries(path: string, options: { selfFd?: boolean } = {}): number | null {
  let count = 0;
  if (!readEntries(path, () => count++)) return null;
  return options.selfFd ? count - 1 : count;
}

/** Calls `each` with every name in the folder but `.` and `..`; false where it cannot be read. */
function readEntries(path: string, each: (name: string) => void): boolean {
  const c = libc();
  if (c === null) return false;
  const fd = c.symbols.open(cPath(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  try {
    const buf = new Uint8Array(32768);
    const view = new DataView(buf.buffer);
    while (true) {
      const n = Number(c.symbols.getdents64(fd, buf, BigInt(buf.length)));
      if (n < 0) return false;
      if (n === 0) return true;
      // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
      for (let at = 0; at < n;) {
        const length = view.getUint16(at + 16, true);
        let end = at + 19;
        while (end < at + length && buf[end] !== 0) end++;
        const name = decoder.decode(buf.subarray(at + 19, end));
        if (name !== "." && name !== "..") each(name);
        at += length;
      }
    }
  } finally {
    c.symbols.close(fd);
  }
}
